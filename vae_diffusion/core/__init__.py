"""Pieces the image parts share (diffusion, guidance): nothing here runs at import time or reads ``results/``.

Modules: ``fit`` (the one accelerate training loop: DDPM, text-to-digit model, MNIST classifier), ``classifier``
(the MNIST CNN whose penultimate features embed digits for FID/KID, and its versioned weights), ``images``
(MNIST splits as tensors, range conversions, image grids), ``metrics`` (FID/KID through torchmetrics on the
classifier's features, RMS image distance), ``pipelines`` (local diffusers pipelines and the training record
saved with them), ``artifacts`` (versioned files under ``artifacts/`` and their sha256).
"""
