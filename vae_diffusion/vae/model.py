"""MLP encoder q_phi(z|x) (eq. 18) and MLP Bernoulli decoder p_theta(x|z) (eq. 4); knows nothing of training."""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from vae_diffusion.vae import losses

IMAGE_PIXELS = 28 * 28


class ImportanceTerms(NamedTuple):
    """Per-sample terms of K draws z_k ~ q(z|x) for N images: ``[K, N]`` each, except ``kl`` ``[N]``."""

    log_px_given_z: torch.Tensor  # log p(x|z_k), eq. 4
    log_pz: torch.Tensor  # log p(z_k), eq. 3
    log_qz: torch.Tensor  # log q(z_k|x), eq. 18
    kl: torch.Tensor  # KL(q(z|x) || p(z)) in closed form, eq. 12 (does not depend on the draws)

    @property
    def log_weights(self) -> torch.Tensor:
        """log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x) (eq. 14, left)."""
        return losses.elbo_joint(self.log_px_given_z, self.log_pz, self.log_qz)


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class GaussianEncoder(nn.Module):
    """x -> (mu_phi(x), log sigma_phi^2(x)) of the factored Gaussian q_phi(z|x) (eq. 18)."""

    def __init__(self, x_dim: int, hidden: Sequence[int], z_dim: int):
        super().__init__()
        self.net = mlp([x_dim, *hidden, 2 * z_dim])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=-1)
        return mu, logvar


class BernoulliDecoder(nn.Module):
    """z -> logits of the pixel means f_theta(z) = sigmoid(logits) of p_theta(x|z) (eq. 4)."""

    def __init__(self, z_dim: int, hidden: Sequence[int], x_dim: int):
        super().__init__()
        self.net = mlp([z_dim, *hidden, x_dim])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class VAE(nn.Module):
    """Encoder and decoder with mirrored hidden widths; ``config`` rebuilds the same model."""

    def __init__(self, z_dim: int = 20, hidden: Sequence[int] = (1024, 1024), x_dim: int = IMAGE_PIXELS):
        super().__init__()
        self.config = {"z_dim": int(z_dim), "hidden": [int(h) for h in hidden], "x_dim": int(x_dim)}
        self.z_dim = int(z_dim)
        self.encoder = GaussianEncoder(x_dim, hidden, z_dim)
        self.decoder = BernoulliDecoder(z_dim, list(hidden)[::-1], x_dim)

    @classmethod
    def from_config(cls, config: dict) -> VAE:
        return cls(z_dim=config["z_dim"], hidden=config["hidden"], x_dim=config["x_dim"])

    def elbo_terms(self, x: torch.Tensor, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example (log p(x|z), KL(q(z|x)||p(z))) with one reparameterised z ~ q(z|x) (Q7, Q9)."""
        mu, logvar = self.encoder(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = losses.reparameterize(mu, logvar, eps)
        recon = losses.bernoulli_log_likelihood(self.decoder(z), x)
        return recon, losses.kl_diagonal_gaussian_to_standard_normal(mu, logvar)

    def importance_terms(self, x: torch.Tensor, num_samples: int,
                         generator: torch.Generator | None = None) -> ImportanceTerms:
        """The terms of K reparameterised samples z_k ~ q(z|x) per image x (eq. 13/14 integrands), see
        :class:`ImportanceTerms`."""
        mu, logvar = self.encoder(x)
        eps = torch.randn((num_samples, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
        z = losses.reparameterize(mu, logvar, eps)
        return ImportanceTerms(log_px_given_z=losses.bernoulli_log_likelihood(self.decoder(z), x),
                               log_pz=losses.log_standard_normal(z),
                               log_qz=losses.log_diagonal_normal(z, mu, logvar),
                               kl=losses.kl_diagonal_gaussian_to_standard_normal(mu, logvar))

    def log_importance_weights(self, x: torch.Tensor, num_samples: int,
                               generator: torch.Generator | None = None) -> torch.Tensor:
        """[K, N] log w_k = log p(x, z_k) - log q(z_k|x), z_k ~ q(z|x) reparameterised (eq. 13 integrand)."""
        return self.importance_terms(x, num_samples, generator).log_weights

    @torch.no_grad()
    def pixel_means(self, z: torch.Tensor) -> torch.Tensor:
        """f_theta(z) in [0, 1]^M: the Bernoulli means shown as images (ancestral sampling, Q1)."""
        return torch.sigmoid(self.decoder(z))
