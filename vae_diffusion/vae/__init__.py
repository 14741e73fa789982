"""Variational autoencoder on binarized MNIST (assignment part 1, Q1-Q10).

Library: ``losses`` (the ELBO's pure math, eq. 3-17), ``model`` (MLP encoder/decoder), ``data`` (dynamic
and fixed binarization), ``training`` (optimizer, one epoch, samples, logging), ``checkpoint`` (exact
resume), ``likelihood`` (test ELBO, importance-sampled and naive Monte-Carlo log p(x)), ``plots`` (figures
from arrays) and ``run_figures`` (a run's figures from its saved files).
Entry points (``python -m ...``, imported by nothing): ``train`` (Q9/Q10), ``naive_mc`` (Q2), ``figures``.
"""
