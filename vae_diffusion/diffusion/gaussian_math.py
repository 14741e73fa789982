"""Closed forms of the variational diffusion model (ASSIGNMENT.md section 2, eq. 23-30, Q14-Q17).

Pure functions on tensors (or floats through ``torch.as_tensor``), checked numerically in
``tests/test_diffusion_gaussian_math.py``. Notation: ``alphas[t-1]`` is alpha_t for t = 1..T and
``alpha_bar_t = prod_{s<=t} alpha_s``; z_0 = x.
"""
from __future__ import annotations

import torch


def linear_alphas(num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """alpha_t = 1 - beta_t with beta linear from ``beta_start`` to ``beta_end`` (Ho et al. 2020), float64."""
    return 1.0 - torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)


def alpha_bars(alphas: torch.Tensor) -> torch.Tensor:
    """alpha_bar_t = prod_{s=1}^{t} alpha_s (the coefficient of eq. 26), for t = 1..T."""
    return torch.cumprod(alphas, dim=0)


def forward_step(z_prev: torch.Tensor, alpha_t, noise: torch.Tensor) -> torch.Tensor:
    """Eq. 25: z_t = sqrt(alpha_t) z_{t-1} + sqrt(1 - alpha_t) eps, eps ~ N(0, I) (one draw of eq. 23)."""
    alpha_t = torch.as_tensor(alpha_t, dtype=z_prev.dtype)
    return alpha_t.sqrt() * z_prev + (1 - alpha_t).sqrt() * noise


def iterate_forward(z0: torch.Tensor, alphas: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply eq. 25 for t = 1..len(alphas) with fresh noise each step; returns z_T for each z_0."""
    z = z0
    for alpha_t in alphas:
        z = forward_step(z, alpha_t, torch.randn(z.shape, generator=generator, dtype=z.dtype))
    return z


def q_zt_given_z0(z0: torch.Tensor, alpha_bar_t) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 26: q(z_t | z_0) = N(sqrt(alpha_bar_t) z_0, (1 - alpha_bar_t) I); returns (mean, variance)."""
    alpha_bar_t = torch.as_tensor(alpha_bar_t, dtype=z0.dtype)
    return alpha_bar_t.sqrt() * z0, (1 - alpha_bar_t) * torch.ones_like(z0)


def posterior_mean(z_t: torch.Tensor, z0: torch.Tensor, alpha_t, alpha_bar_t, alpha_bar_prev) -> torch.Tensor:
    """Eq. 27/29: mu_q(z_t, z_0) = [sqrt(alpha_t)(1 - abar_{t-1}) z_t + sqrt(abar_{t-1})(1 - alpha_t) z_0]
    / (1 - abar_t). With z_0 replaced by the network's estimate it is mu_theta of eq. 30."""
    a, ab, ab_prev = (torch.as_tensor(v, dtype=z_t.dtype) for v in (alpha_t, alpha_bar_t, alpha_bar_prev))
    return (a.sqrt() * (1 - ab_prev) * z_t + ab_prev.sqrt() * (1 - a) * z0) / (1 - ab)


def posterior_variance(alpha_t, alpha_bar_t, alpha_bar_prev) -> torch.Tensor:
    """Eq. 27: sigma_q^2(t) = (1 - alpha_t)(1 - abar_{t-1}) / (1 - abar_t)."""
    a, ab, ab_prev = (torch.as_tensor(v, dtype=torch.float64) for v in (alpha_t, alpha_bar_t, alpha_bar_prev))
    return (1 - a) * (1 - ab_prev) / (1 - ab)


def snr(alpha_bar_t) -> torch.Tensor:
    """Q16: SNR(t) = mu^2 / sigma^2 of q(z_t | z_0) per unit signal = alpha_bar_t / (1 - alpha_bar_t)."""
    ab = torch.as_tensor(alpha_bar_t, dtype=torch.float64)
    return ab / (1 - ab)


def kl_mean_term(mu_theta: torch.Tensor, mu_q: torch.Tensor, sigma2_q) -> torch.Tensor:
    """Eq. 28: the theta-dependent part of KL(q(z_{t-1}|z_t,z_0) || p_theta(z_{t-1}|z_t)) for equal variances,
    1 / (2 sigma_q^2(t)) ||mu_theta - mu_q||^2 (summed over the last dimensions)."""
    return (mu_theta - mu_q).pow(2).flatten(1).sum(1) / (2 * torch.as_tensor(sigma2_q, dtype=mu_q.dtype))


def z0_loss_weight(alpha_t, alpha_bar_t, alpha_bar_prev) -> torch.Tensor:
    """Q15: plugging eq. 29-30 into eq. 28 gives w_t ||z_hat_theta(z_t, t) - z_0||^2 with
    w_t = 1 / (2 sigma_q^2(t)) * abar_{t-1} (1 - alpha_t)^2 / (1 - abar_t)^2."""
    a, ab, ab_prev = (torch.as_tensor(v, dtype=torch.float64) for v in (alpha_t, alpha_bar_t, alpha_bar_prev))
    return ab_prev * (1 - a) ** 2 / (1 - ab) ** 2 / (2 * posterior_variance(a, ab, ab_prev))


def z0_loss_weight_snr(alpha_bar_t, alpha_bar_prev) -> torch.Tensor:
    """Q17: the same weight written with the SNR, w_t = (SNR(t-1) - SNR(t)) / 2 (Kingma et al. 2021)."""
    return (snr(alpha_bar_prev) - snr(alpha_bar_t)) / 2
