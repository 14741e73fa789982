"""Evaluating a trained VAE on a (fixed-binarized) test set: ELBO, importance-sampled and naive log p(x).

Everything is batched over images and chunked over samples, so memory stays bounded for k = 5000;
per-chunk logsumexps are combined with another logsumexp (exact, no under/overflow). Every estimator takes
the seed of its noise (a run derives it with ``ctx.seed(...)``), so an evaluation is repeatable.
"""
from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from vae_diffusion.vae import losses
from vae_diffusion.vae.model import VAE


def _batches(x: torch.Tensor, batch_size: int):
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size]


@torch.no_grad()
def evaluate_elbo(model: VAE, x: torch.Tensor, *, seed: int, batch_size: int = 1000,
                  device: torch.device | str = "cpu") -> dict[str, float]:
    """Mean ELBO (eq. 15, one z per image), reconstruction log-likelihood and KL over ``x``, in nats."""
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    recon_sum = kl_sum = 0.0
    for batch in _batches(x, batch_size):
        recon, kl = model.elbo_terms(batch.to(device), generator)
        recon_sum += recon.sum().item()
        kl_sum += kl.sum().item()
    n = len(x)
    return {"elbo": (recon_sum - kl_sum) / n, "recon_log_likelihood": recon_sum / n, "kl": kl_sum / n}


@torch.no_grad()
def importance_sampled_log_px(model: VAE, x: torch.Tensor, num_samples: int, *, seed: int, batch_size: int = 100,
                              chunk_size: int = 500,
                              device: torch.device | str = "cpu", progress: bool = False) -> torch.Tensor:
    """Per-image log p(x) ~ log (1/k) sum_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x) (eq. 13 by Monte-Carlo).

    A lower bound in expectation that tightens to log p(x) as k grows (Burda et al. 2016). Returns [N].
    """
    model.eval()
    generator = torch.Generator(device=device).manual_seed(seed)
    out = []
    for batch in tqdm(list(_batches(x, batch_size)), desc="IS log p(x)", disable=not progress, leave=False):
        batch = batch.to(device)
        chunk_lse = []
        for start in range(0, num_samples, chunk_size):
            k = min(chunk_size, num_samples - start)
            log_w = model.log_importance_weights(batch, k, generator)  # [k, B]
            chunk_lse.append(torch.logsumexp(log_w.double(), dim=0))
        out.append((torch.logsumexp(torch.stack(chunk_lse), dim=0) - math.log(num_samples)).cpu())
    return torch.cat(out)


@torch.no_grad()
def naive_monte_carlo_log_px(model: VAE, x: torch.Tensor, sample_counts: list[int], *, chunk_size: int = 1000,
                             generator: torch.Generator | None = None,
                             device: torch.device | str = "cpu") -> torch.Tensor:
    """Naive estimate of eq. 7, log (1/L) sum_l p(x|z_l) with z_l ~ p(z) = N(0, I), for every L in
    ``sample_counts`` from one stream of max(L) prior samples shared by all images. Returns [len(counts), N].
    """
    model.eval()
    x = x.to(device)
    total = max(sample_counts)
    log_p = []
    for start in range(0, total, chunk_size):
        k = min(chunk_size, total - start)
        z = torch.randn((k, 1, model.z_dim), generator=generator, device=device)
        log_p.append(losses.bernoulli_log_likelihood(model.decoder(z), x).double())  # [k, N]
    cumulative = torch.logcumsumexp(torch.cat(log_p), dim=0)  # log sum_{l<=L} p(x|z_l)
    index = torch.tensor([n - 1 for n in sample_counts], device=cumulative.device)
    counts = torch.tensor(sample_counts, dtype=torch.float64, device=cumulative.device)
    return (cumulative[index] - counts.log()[:, None]).cpu()


def sample_count_grid(max_samples: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... up to and including ``max_samples``."""
    counts, decade = [], 1
    while decade <= max_samples:
        counts += [m * decade for m in (1, 2, 5) if m * decade <= max_samples]
        decade *= 10
    return counts if counts[-1] == max_samples else counts + [max_samples]


def naive_against_importance_sampling(model: VAE, x: torch.Tensor, sample_counts: list[int],
                                      repeat_generators: list[torch.Generator], *, is_samples: int, is_seed: int,
                                      chunk_size: int = 1000, device: torch.device | str = "cpu") -> dict:
    """Bias and noise of the naive estimate (eq. 7) for every L in ``sample_counts`` (Q2).

    The reference is the importance-sampled log p(x) with k = ``is_samples``; each generator of
    ``repeat_generators`` (on ``device``) drives one independent stream of prior samples. Per L:
    bias = mean over streams and images of (naive - reference); noise = std over streams, averaged over images.
    """
    reference = importance_sampled_log_px(model, x, is_samples, seed=is_seed, device=device).double()  # [N]
    estimates = torch.stack([naive_monte_carlo_log_px(model, x, sample_counts, chunk_size=chunk_size, device=device,
                                                      generator=generator)
                             for generator in repeat_generators])  # [R, C, N]
    error = estimates - reference
    return {"z_dim": model.z_dim, "sample_counts": list(sample_counts),
            "is_log_px_mean": reference.mean().item(),
            "naive_log_px_mean": estimates.mean(dim=(0, 2)).tolist(),
            "bias_mean": error.mean(dim=(0, 2)).tolist(),
            "noise_std": estimates.std(dim=0).mean(dim=1).tolist(),
            "rmse": error.pow(2).mean(dim=(0, 2)).sqrt().tolist()}
