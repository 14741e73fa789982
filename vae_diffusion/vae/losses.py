"""The math of the VAE objective as pure functions on tensors (equation numbers of ASSIGNMENT.md).

All log-densities are in nats and summed over the last (event) dimension, so a batch ``[..., D]`` gives
``[...]``. Tests call these functions directly (closed form vs Monte-Carlo, two ELBO decompositions).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2.0 * math.pi)


def kl_univariate_gaussians(mu_q, var_q, mu_p, var_p):
    """KL(N(mu_q, var_q) || N(mu_p, var_p)), eq. 11:

    KL = log(sigma_p / sigma_q) + (sigma_q^2 + (mu_q - mu_p)^2) / (2 sigma_p^2) - 1/2
    """
    mu_q, var_q, mu_p, var_p = (torch.as_tensor(v, dtype=torch.float64) for v in (mu_q, var_q, mu_p, var_p))
    return 0.5 * torch.log(var_p / var_q) + (var_q + (mu_q - mu_p) ** 2) / (2.0 * var_p) - 0.5


def kl_diagonal_gaussian_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)), eq. 12 summed over the D latent dimensions:

    KL = sum_d (sigma_d^2 + mu_d^2 - 1 - log sigma_d^2) / 2
    """
    return 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(-1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) of eq. 4 with f_theta(z) = sigmoid(logits):

    log p(x|z) = sum_m x_m log f_m + (1 - x_m) log(1 - f_m)   (computed stably from the logits)
    """
    logits, x = torch.broadcast_tensors(logits, x)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """log p(z) for the prior p(z) = N(0, I_D) of eq. 3: -1/2 sum_d (z_d^2 + log 2 pi)."""
    return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)


def log_diagonal_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log q(z|x) for q = N(mu, diag sigma^2) of eq. 18:

    log q(z|x) = -1/2 sum_d ((z_d - mu_d)^2 / sigma_d^2 + log sigma_d^2 + log 2 pi)
    """
    return -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(-1)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Reparameterization trick (Q8): z = mu + sigma * eps with eps ~ N(0, I), so dz/dphi exists."""
    return mu + torch.exp(0.5 * logvar) * eps


def elbo_analytic(recon_log_likelihood: torch.Tensor, kl: torch.Tensor) -> torch.Tensor:
    """ELBO of eq. 14/15 per example: E_q[log p(x|z)] - KL(q(z|x) || p(z)), the expectation by samples."""
    return recon_log_likelihood - kl


def elbo_joint(log_px_given_z: torch.Tensor, log_pz: torch.Tensor, log_qz: torch.Tensor) -> torch.Tensor:
    """The other form of eq. 14, one term per sample z ~ q(z|x): log p(x|z) + log p(z) - log q(z|x).

    Its mean over samples equals :func:`elbo_analytic` in expectation (the KL estimated by Monte-Carlo).
    """
    return log_px_given_z + log_pz - log_qz


def log_mean_exp(log_values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log (1/K) sum_k exp(v_k) along ``dim``, computed with logsumexp (no under/overflow)."""
    return torch.logsumexp(log_values, dim=dim) - math.log(log_values.shape[dim])


def negative_elbo_loss(recon_log_likelihood: torch.Tensor, kl: torch.Tensor) -> torch.Tensor:
    """Loss of eq. 17/20: L = (1/N) sum_n (L_n^recon + L_n^reg) = mean_n (-log p(x_n|z_n) + KL_n), one z_n each."""
    return (kl - recon_log_likelihood).mean()


def iwae_loss(log_weights: torch.Tensor) -> torch.Tensor:
    """Negative importance-weighted bound (Burda et al.), ``log_weights`` of shape [K, N]:

    L_K = -(1/N) sum_n log (1/K) sum_k p(x_n, z_k) / q(z_k|x_n),  z_k ~ q(z|x_n);  K = 1 is the ELBO (eq. 14).
    """
    return -log_mean_exp(log_weights, dim=0).mean()
