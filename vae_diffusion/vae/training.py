"""The parts of VAE training that ``python -m vae_diffusion.vae.train`` puts together, in the order it uses them:
optimizer, one epoch, evaluation, samples, logging (the data are in ``data``, the model in ``model``, the
checkpoint in ``checkpoint``). The layout follows pytorch/examples ``vae/main.py``: a train step per epoch, a
test pass, the same fixed prior draws decoded after chosen epochs.
"""
from __future__ import annotations

import contextlib
import time

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from vae_diffusion.vae import losses
from vae_diffusion.vae.data import binarize
from vae_diffusion.vae.model import VAE

#: The 64 prior draws z decoded at every sample epoch. A constant, not derived from --seed: it defines the
#: committed sample figures (results/vae/samples_*.png), which show the same z before, during and after training.
SAMPLE_NOISE_SEED = 2024
NUM_SAMPLES_SHOWN = 64
NUM_RECONSTRUCTIONS = 16


def make_optimizer(model: VAE, lr: float, lr_decay: float
                   ) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.ExponentialLR]:
    """Adam with learning rate ``lr``, multiplied by ``lr_decay`` after every epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=lr_decay)


def train_epoch(model: VAE, optimizer: torch.optim.Optimizer, train_probabilities: torch.Tensor, *,
                batch_size: int, iw_samples: int, shuffle_generator: torch.Generator,
                noise_generator: torch.Generator, description: str = "epoch",
                autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """One pass over a fresh binarization of the training set (means per image, in nats).

    ``shuffle_generator`` (CPU) orders the images; ``noise_generator`` (on the model's device) draws the
    binarization and the reparameterization noise, so an epoch is fixed by its two generators.

    K = ``iw_samples`` = 1: the loss is the negative ELBO with the analytic KL (eq. 17, one z per image); the
    log has ``train_elbo`` (the bound) = ``train_recon_log_likelihood`` (log p(x|z)) - ``train_kl`` (eq. 12).

    K > 1 (IWAE, Burda et al. 2016): the loss is -L_K, L_K = log (1/K) sum_k p(x, z_k) / q(z_k|x), logged as
    ``train_iwae_bound``. L_K has no reconstruction/KL split; what is defined, and logged, are the terms of the
    ELBO of the same encoder and draws: ``train_recon_log_likelihood`` = (1/K) sum_k log p(x|z_k),
    ``train_kl`` = KL(q(z|x) || p(z)) in closed form (eq. 12) and ``train_elbo`` = their difference, an
    unbiased estimate of the ELBO, which lies below L_K (in expectation).

    ``autocast_dtype`` (bf16): the forward pass and loss run under autocast on the model's device.
    """
    model.train()
    start = time.perf_counter()
    order = torch.randperm(len(train_probabilities), generator=shuffle_generator)
    device = train_probabilities.device
    totals = torch.zeros(4, dtype=torch.float64, device=device)  # sums of: bound, ELBO, log p(x|z), KL
    for first in tqdm(range(0, len(order), batch_size), desc=description, leave=False, mininterval=2.0):
        probabilities = train_probabilities[order[first:first + batch_size].to(device)]
        x = binarize(probabilities, noise_generator)  # dynamic binarization: a fresh draw each epoch
        with (torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None
              else contextlib.nullcontext()):
            loss, bound, elbo, recon, kl = _batch_loss(model, x, iw_samples, noise_generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        totals += torch.stack([t.detach().double() for t in (bound, elbo, recon.sum(), kl.sum())])
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    bound, elbo, recon, kl = (totals / len(order)).tolist()
    record = {"train_elbo": elbo, "train_recon_log_likelihood": recon, "train_kl": kl}
    if iw_samples > 1:
        record["train_iwae_bound"] = bound
    record["train_seconds"] = time.perf_counter() - start
    return record


def _batch_loss(model: VAE, x: torch.Tensor, iw_samples: int, noise_generator: torch.Generator):
    """(loss, summed bound, summed ELBO, per-image log p(x|z), per-image KL) of one batch (see train_epoch)."""
    if iw_samples == 1:
        recon, kl = model.elbo_terms(x, noise_generator)
        loss = losses.negative_elbo_loss(recon, kl)  # eq. 17, analytic KL (eq. 12)
        elbo = losses.elbo_analytic(recon, kl).sum()
        return loss, elbo, elbo, recon, kl
    terms = model.importance_terms(x, iw_samples, noise_generator)
    loss = losses.iwae_loss(terms.log_weights)
    recon, kl = terms.log_px_given_z.mean(0), terms.kl
    return loss, -loss * len(x), losses.elbo_analytic(recon, kl).sum(), recon, kl


@torch.no_grad()
def active_units(model: VAE, x: torch.Tensor, device: torch.device | str, threshold: float = 0.01) -> int:
    """Latent dimensions d with Cov_x(E_q[z_d]) > threshold (Burda et al. 2016): the ones the model uses."""
    model.eval()
    mu = torch.cat([model.encoder(batch.to(device))[0].cpu() for batch in x.split(1000)])
    return int((mu.var(dim=0) > threshold).sum())


def fixed_prior_draws(z_dim: int) -> torch.Tensor:
    """The ``NUM_SAMPLES_SHOWN`` draws z ~ N(0, I_D) of every sample grid, [64, D] on the CPU."""
    return torch.randn(NUM_SAMPLES_SHOWN, z_dim, generator=torch.Generator().manual_seed(SAMPLE_NOISE_SEED))


@torch.no_grad()
def decode_means(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """Bernoulli means f(z) of the prior draws ``z`` [N, D] (the sample grid), [N, 784] on the CPU."""
    model.eval()
    return model.pixel_means(z.to(next(model.parameters()).device)).cpu()


@torch.no_grad()
def reconstructions(model: VAE, x: torch.Tensor) -> torch.Tensor:
    """f(mu(x)): the decoder's means at the encoder's mean of each image of ``x`` [N, 784], on the CPU."""
    model.eval()
    x = x.to(next(model.parameters()).device)
    return model.pixel_means(model.encoder(x)[0]).cpu()


def log_epoch(writer: SummaryWriter, record: dict) -> None:
    """TensorBoard scalars of one epoch's record (train/*, test/*, the learning rate)."""
    epoch = record["epoch"]
    for key in ("elbo", "kl", "recon_log_likelihood"):
        writer.add_scalar(f"train/{key}", record[f"train_{key}"], epoch)
        writer.add_scalar(f"test/{key}", record[f"test_{key}"], epoch)
    if "train_iwae_bound" in record:
        writer.add_scalar("train/iwae_bound", record["train_iwae_bound"], epoch)
    writer.add_scalar("train/lr", record["lr"], epoch)
    writer.flush()
