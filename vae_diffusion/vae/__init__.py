"""Variational autoencoder on binarized MNIST (assignment part 1, Q1-Q10).

Modules: ``losses`` (the ELBO's pure math, eq. 3-17), ``model`` (MLP encoder/decoder), ``data``
(dynamic and fixed binarization), ``likelihood`` (test ELBO, importance-sampled and naive Monte-Carlo
log p(x)), ``train`` (training CLI), ``naive_mc`` (Q2 experiment CLI), ``plots`` and ``figures``.
"""
