"""Importance-sampled and naive log p(x) on a tiny 2-D-latent model, against exact quadrature."""
import math

import pytest
import torch

from vae_diffusion.vae import losses
from vae_diffusion.vae.likelihood import evaluate_elbo, importance_sampled_log_px, naive_monte_carlo_log_px
from vae_diffusion.vae.model import VAE
from vae_diffusion.vae.naive_mc import sample_count_grid


@pytest.fixture(scope="module")
def tiny_model_and_data():
    torch.manual_seed(0)
    model = VAE(z_dim=2, hidden=[16], x_dim=10).eval()
    x = torch.bernoulli(torch.full((3, 10), 0.5), generator=torch.Generator().manual_seed(1))
    # exact log p(x) = log of the integral of p(x|z) p(z) dz, by a 401 x 401 grid on [-7, 7]^2
    grid = torch.linspace(-7.0, 7.0, 401)
    z = torch.cartesian_prod(grid, grid)[:, None, :]
    with torch.no_grad():
        log_joint = losses.bernoulli_log_likelihood(model.decoder(z), x) + losses.log_standard_normal(z)
    exact = torch.logsumexp(log_joint.double(), 0) + 2 * math.log(float(grid[1] - grid[0]))
    return model, x, exact


def test_importance_sampling_converges_to_exact_log_px(tiny_model_and_data):
    model, x, exact = tiny_model_and_data
    errors = {k: (importance_sampled_log_px(model, x, k, batch_size=2, chunk_size=5000) - exact).abs().max().item()
              for k in (1, 10, 20_000)}
    assert errors[20_000] < 0.02
    assert errors[20_000] < errors[10] < errors[1]


def test_elbo_is_below_importance_sampled_log_px(tiny_model_and_data):
    model, x, exact = tiny_model_and_data
    elbo = evaluate_elbo(model, x)
    assert elbo["elbo"] < exact.mean().item()
    assert elbo["elbo"] == pytest.approx(elbo["recon_log_likelihood"] - elbo["kl"])


def test_naive_monte_carlo_converges_and_shares_one_stream(tiny_model_and_data):
    model, x, exact = tiny_model_and_data
    counts = [1, 10, 20_000]
    estimates = naive_monte_carlo_log_px(model, x, counts, chunk_size=4096, generator=torch.Generator().manual_seed(3))
    assert estimates.shape == (3, 3)
    assert (estimates[-1] - exact).abs().max().item() < 0.05


def test_sample_count_grid():
    assert sample_count_grid(10_000) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000]
    assert sample_count_grid(30) == [1, 2, 5, 10, 20, 30]
