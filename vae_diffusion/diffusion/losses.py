"""The DDPM training objective, shared by the unconditional DDPM and the text-conditioned denoiser."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from diffusers.training_utils import compute_snr


def epsilon_prediction_loss(noise_scheduler: DDPMScheduler, snr_gamma: float | None = None):
    """``loss_fn`` for :func:`vae_diffusion.core.fit.fit`: noise a clean batch to a uniform t with eq. 26 and
    regress the noise (Ho et al. 2020's simplified objective, Q15/Q17 of the report)::

        || eps - eps_theta(sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps, t) ||^2

    A batch is ``(clean, *condition)``; the model is called as ``model(z_t, t, *condition)`` (a conditioned
    denoiser such as ``vae_diffusion.guidance.model.TextConditionedDenoiser`` takes the caption's token ids).

    ``snr_gamma`` weights each sample's error by ``min(SNR(t), gamma) / SNR(t)`` (min-SNR weighting, Hang et al.
    2023, with diffusers' ``compute_snr``), which lowers the weight of the nearly clean timesteps; None: uniform.
    """
    num_timesteps = noise_scheduler.config.num_train_timesteps

    def loss_fn(model: torch.nn.Module, batch) -> torch.Tensor:
        clean, *condition = batch
        noise = torch.randn_like(clean)
        timesteps = torch.randint(0, num_timesteps, (clean.shape[0],), device=clean.device)
        noisy = noise_scheduler.add_noise(clean, noise, timesteps)  # sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps
        prediction = model(noisy, timesteps, *condition).sample.float()
        if snr_gamma is None:
            return F.mse_loss(prediction, noise.float())
        snr = compute_snr(noise_scheduler, timesteps)
        weights = torch.clamp(snr, max=snr_gamma) / snr
        per_sample = F.mse_loss(prediction, noise.float(), reduction="none").mean(dim=(1, 2, 3))
        return (per_sample * weights).mean()

    return loss_fn
