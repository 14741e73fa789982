"""Importance-sampled and naive log p(x) on a tiny 2-D-latent model, against exact quadrature."""
import math

import pytest
import torch

from vae_diffusion.vae import losses
from vae_diffusion.vae.likelihood import (
    evaluate_elbo,
    importance_sampled_log_px,
    naive_against_importance_sampling,
    naive_monte_carlo_log_px,
    sample_count_grid,
)
from vae_diffusion.vae.model import VAE


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
    errors = {k: (importance_sampled_log_px(model, x, k, seed=7, batch_size=2, chunk_size=5000) - exact).abs().max()
              for k in (1, 10, 20_000)}
    assert errors[20_000] < 0.02
    assert errors[20_000] < errors[10] < errors[1]


def test_elbo_is_below_importance_sampled_log_px(tiny_model_and_data):
    model, x, exact = tiny_model_and_data
    elbo = evaluate_elbo(model, x, seed=7)
    assert elbo["elbo"] < exact.mean().item()
    assert elbo["elbo"] == pytest.approx(elbo["recon_log_likelihood"] - elbo["kl"])


def test_naive_monte_carlo_converges_and_shares_one_stream(tiny_model_and_data):
    model, x, exact = tiny_model_and_data
    counts = [1, 10, 20_000]
    estimates = naive_monte_carlo_log_px(model, x, counts, chunk_size=4096, generator=torch.Generator().manual_seed(3))
    assert estimates.shape == (3, 3)
    assert (estimates[-1] - exact).abs().max().item() < 0.05


def test_estimators_repeat_with_their_seed(tiny_model_and_data):
    model, x, _ = tiny_model_and_data
    assert evaluate_elbo(model, x, seed=1) == evaluate_elbo(model, x, seed=1) != evaluate_elbo(model, x, seed=2)
    once, again, other = (importance_sampled_log_px(model, x, 50, seed=s, chunk_size=20) for s in (1, 1, 2))
    assert torch.equal(once, again) and not torch.equal(once, other)


def test_naive_study_is_measured_against_importance_sampling(tiny_model_and_data):
    model, x, exact = tiny_model_and_data
    streams = [torch.Generator().manual_seed(r) for r in range(3)]
    study = naive_against_importance_sampling(model, x, [1, 100, 5000], streams, is_samples=5000, is_seed=0)
    assert study["z_dim"] == 2 and study["sample_counts"] == [1, 100, 5000]
    assert study["is_log_px_mean"] == pytest.approx(exact.mean().item(), abs=0.05)
    assert abs(study["bias_mean"][-1]) < 0.1 and study["noise_std"][-1] < study["noise_std"][0]
    assert study["bias_mean"][0] < study["bias_mean"][-1]  # few prior samples underestimate log p(x) (Jensen)


def test_sample_count_grid():
    assert sample_count_grid(10_000) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000]
    assert sample_count_grid(30) == [1, 2, 5, 10, 20, 30]
