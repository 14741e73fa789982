"""Numerical checks of the closed forms of eq. 25-30 and Q15-Q17 (vae_diffusion/diffusion/gaussian_math.py)."""
import numpy as np
import torch

from vae_diffusion.diffusion import gaussian_math as gm
from vae_diffusion.diffusion.unet import build_noise_scheduler


def test_alpha_bars_match_diffusers_schedule():
    alphas = gm.linear_alphas(1000)
    expected = build_noise_scheduler(1000).alphas_cumprod.double()
    assert torch.allclose(gm.alpha_bars(alphas), expected, rtol=1e-5)


def test_closed_form_q_zt_given_z0_matches_iterating_eq25():
    """Eq. 26 vs 300 applications of eq. 25 on 40 000 chains (Monte-Carlo mean and variance)."""
    alphas = gm.linear_alphas(1000)[:300]  # the first 300 steps of the DDPM schedule: alpha_bar ~ 0.4
    z0 = torch.tensor([-1.0, 0.0, 0.5, 1.0], dtype=torch.float64).repeat(10_000, 1)
    z_t = gm.iterate_forward(z0, alphas, torch.Generator().manual_seed(0))
    mean, variance = gm.q_zt_given_z0(z0[0], gm.alpha_bars(alphas)[-1])
    assert 0.05 < gm.alpha_bars(alphas)[-1] < 0.95
    assert torch.allclose(z_t.mean(0), mean, atol=0.03)
    assert torch.allclose(z_t.var(0), variance, atol=0.03)


def test_diffusers_add_noise_is_eq26():
    scheduler = build_noise_scheduler(1000)
    z0, noise, t = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4), torch.tensor([0, 500, 999])
    mean, variance = gm.q_zt_given_z0(z0, scheduler.alphas_cumprod[t].view(-1, 1, 1, 1))
    assert torch.allclose(scheduler.add_noise(z0, noise, t), mean + variance.sqrt() * noise, atol=1e-5)


def condition_gaussian(mean: np.ndarray, cov: np.ndarray, observed: int, value: float) -> tuple[float, float]:
    """Brute-force conditioning of a 2-D Gaussian on coordinate ``observed`` = value (Schur complement)."""
    hidden = 1 - observed
    gain = cov[hidden, observed] / cov[observed, observed]
    return (mean[hidden] + gain * (value - mean[observed]),
            cov[hidden, hidden] - gain * cov[observed, hidden])


def test_posterior_eq27_matches_gaussian_conditioning():
    alphas = gm.linear_alphas(1000)
    bars = gm.alpha_bars(alphas)
    z0, z_t = 0.7, -0.3
    for t in (2, 10, 300, 999):  # 1-based t; alphas[t-1] is alpha_t
        a, ab, ab_prev = float(alphas[t - 1]), float(bars[t - 1]), float(bars[t - 2])
        # joint of (z_{t-1}, z_t) given z_0: z_{t-1} ~ eq. 26, z_t = sqrt(a) z_{t-1} + sqrt(1-a) eps (eq. 25)
        v = 1 - ab_prev
        mean = np.array([np.sqrt(ab_prev) * z0, np.sqrt(ab) * z0])
        cov = np.array([[v, np.sqrt(a) * v], [np.sqrt(a) * v, a * v + 1 - a]])
        expected_mean, expected_var = condition_gaussian(mean, cov, observed=1, value=z_t)
        got_mean = gm.posterior_mean(torch.tensor(z_t, dtype=torch.float64), torch.tensor(z0, dtype=torch.float64),
                                     a, ab, ab_prev)
        assert np.isclose(float(got_mean), expected_mean, rtol=1e-9, atol=1e-12)
        assert np.isclose(float(gm.posterior_variance(a, ab, ab_prev)), expected_var, rtol=1e-9)


def test_snr_is_monotone_decreasing():
    for bars in (gm.alpha_bars(gm.linear_alphas(1000)),
                 build_noise_scheduler(1000, "squaredcos_cap_v2").alphas_cumprod.double()):
        values = gm.snr(bars)
        assert (values[1:] < values[:-1]).all()
        assert values[0] > 1e3 and values[-1] < 1e-2


def test_loss_weight_two_ways_and_against_eq28():
    """Q15 (weight from plugging eq. 29/30 into eq. 28), Q17 (SNR form), and eq. 28 evaluated directly."""
    alphas = gm.linear_alphas(1000)
    bars = gm.alpha_bars(alphas)
    t = torch.arange(2, 1001)
    a, ab, ab_prev = alphas[t - 1], bars[t - 1], bars[t - 2]
    w_plug = gm.z0_loss_weight(a, ab, ab_prev)
    w_snr = gm.z0_loss_weight_snr(ab, ab_prev)
    assert torch.allclose(w_plug, w_snr, rtol=1e-8)
    g = torch.Generator().manual_seed(0)
    z0, z0_hat, z_t = (torch.randn(5, 3, dtype=torch.float64, generator=g) for _ in range(3))
    for i in (0, 100, 998):
        mu_q = gm.posterior_mean(z_t, z0, a[i], ab[i], ab_prev[i])
        mu_theta = gm.posterior_mean(z_t, z0_hat, a[i], ab[i], ab_prev[i])  # eq. 30
        kl = gm.kl_mean_term(mu_theta, mu_q, gm.posterior_variance(a[i], ab[i], ab_prev[i]))
        assert torch.allclose(kl, w_snr[i] * (z0_hat - z0).pow(2).sum(1), rtol=1e-8)
