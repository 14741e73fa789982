"""Diffusion part (Q11-Q18): a DDPM on MNIST with diffusers, its evaluation and the scheduler study.

Modules: ``gaussian_math`` (the closed forms of eq. 23-30), ``data`` (MNIST as diffusion tensors),
``unet`` (model/scheduler factory), ``training`` (the shared accelerate loop), ``train`` (DDPM CLI),
``classifier`` (MNIST CNN and its CLI), ``frechet`` (FID/KID), ``sampling`` (manual sampling loop and
scheduler registry), ``evaluate`` (DDPM metrics CLI), ``scheduler_study`` (Q18 CLI), ``plots``.
"""
