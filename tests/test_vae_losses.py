"""Numerical checks of the VAE loss math (eq. 4, 9-17): closed forms against Monte-Carlo."""
import math

import pytest
import torch

from vae_diffusion.vae import losses


def test_kl_closed_form_matches_monte_carlo():
    """Eq. 12 (summed over D) vs the definition eq. 8/9: E_q[log q(z) - log p(z)] by 200k samples."""
    gen = torch.Generator().manual_seed(0)
    mu, logvar = torch.tensor([[0.5, -1.0, 0.0]]), torch.tensor([[-0.7, 0.3, 0.0]])
    z = losses.reparameterize(mu, logvar, torch.randn(200_000, 3, generator=gen))
    mc = (losses.log_diagonal_normal(z, mu, logvar) - losses.log_standard_normal(z)).mean()
    closed = losses.kl_diagonal_gaussian_to_standard_normal(mu, logvar)
    assert closed.item() == pytest.approx(mc.item(), abs=0.01)


def test_kl_eq11_reduces_to_eq12_and_is_zero_only_for_equal_gaussians():
    mu, var = torch.tensor(0.8), torch.tensor(0.3)
    eq11 = losses.kl_univariate_gaussians(mu, var, 0.0, 1.0)
    eq12 = losses.kl_diagonal_gaussian_to_standard_normal(mu.view(1, 1), var.log().view(1, 1))
    assert eq11.item() == pytest.approx(eq12.item(), rel=1e-6)
    assert losses.kl_univariate_gaussians(1.0, 2.0, 1.0, 2.0).item() == pytest.approx(0.0, abs=1e-12)
    # Q3's examples: nearly equal Gaussians -> tiny KL; far apart and narrow -> huge KL
    assert losses.kl_univariate_gaussians(0.0, 1.0, 0.01, 1.0).item() < 1e-4
    assert losses.kl_univariate_gaussians(10.0, 0.01, 0.0, 1.0).item() > 50


def test_kl_univariate_matches_torch_distributions():
    q, p = torch.distributions.Normal(0.3, 0.5), torch.distributions.Normal(-1.0, 2.0)
    expected = torch.distributions.kl_divergence(q, p).item()
    assert losses.kl_univariate_gaussians(0.3, 0.25, -1.0, 4.0).item() == pytest.approx(expected, rel=1e-6)


def test_bernoulli_log_likelihood_matches_torch_and_broadcasts():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(4, 6, generator=gen)
    x = torch.bernoulli(torch.full((4, 6), 0.5), generator=gen)
    expected = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(losses.bernoulli_log_likelihood(logits, x), expected)
    assert losses.bernoulli_log_likelihood(logits[:, None, :], x[:3]).shape == (4, 3)


def test_gaussian_log_densities_match_torch():
    z, mu, logvar = torch.tensor([[0.3, -2.0]]), torch.tensor([[0.1, -1.0]]), torch.tensor([[0.2, -0.5]])
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    torch.testing.assert_close(losses.log_diagonal_normal(z, mu, logvar), q.log_prob(z).sum(-1))
    torch.testing.assert_close(losses.log_standard_normal(z), torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1))


def test_two_elbo_decompositions_agree():
    """E_q[log p(x|z)] - KL (eq. 14, right) equals E_q[log p(x,z) - log q(z|x)] (eq. 14, left) by Monte-Carlo."""
    gen = torch.Generator().manual_seed(2)
    decoder = torch.nn.Linear(3, 8)
    x = torch.bernoulli(torch.full((1, 8), 0.4), generator=gen)
    mu, logvar = torch.tensor([[0.4, -0.2, 1.0]]), torch.tensor([[-1.0, -0.5, 0.2]])
    z = losses.reparameterize(mu, logvar, torch.randn(100_000, 1, 3, generator=gen))
    with torch.no_grad():
        log_px_z = losses.bernoulli_log_likelihood(decoder(z), x)
    analytic = losses.elbo_analytic(log_px_z.mean(0), losses.kl_diagonal_gaussian_to_standard_normal(mu, logvar))
    joint = losses.elbo_joint(log_px_z, losses.log_standard_normal(z), losses.log_diagonal_normal(z, mu, logvar))
    assert analytic.item() == pytest.approx(joint.mean().item(), abs=0.02)


def test_iwae_with_one_sample_is_the_negative_elbo_and_log_mean_exp_is_stable():
    log_w = torch.tensor([[-1000.0, -3.0]])
    assert losses.iwae_loss(log_w).item() == pytest.approx(501.5)
    big = torch.tensor([[-1000.0], [-1000.0 + math.log(3.0)]])
    assert losses.log_mean_exp(big, 0).item() == pytest.approx(-1000.0 + math.log(2.0))
    recon, kl = torch.tensor([-80.0, -90.0]), torch.tensor([20.0, 10.0])
    assert losses.negative_elbo_loss(recon, kl).item() == pytest.approx(100.0)
