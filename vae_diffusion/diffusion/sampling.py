"""The manual reverse-process loop shared by every sampler, and the registry of diffusers schedulers.

A scheduler is swapped with ``Cls.from_config(pipeline.scheduler.config)``: the trained beta schedule is
kept and only the solver changes. The loop is the one of diffusers' "write your own pipeline" tutorial:
``x_T = noise * init_noise_sigma``; for each t: ``eps = model(scale_model_input(x, t), t)``,
``x = scheduler.step(eps, t, x, generator=g).prev_sample``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import torch
from diffusers import (DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,
                       EulerDiscreteScheduler, HeunDiscreteScheduler, LMSDiscreteScheduler, UNet2DModel,
                       UniPCMultistepScheduler)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

#: Display name -> (scheduler class, extra config, stochastic?). Stochastic samplers inject fresh noise each step.
SCHEDULERS: dict[str, tuple[type, dict, bool]] = {
    "DDPM": (DDPMScheduler, {}, True),
    "DDIM": (DDIMScheduler, {}, False),
    "Euler": (EulerDiscreteScheduler, {}, False),
    "Euler Ancestral": (EulerAncestralDiscreteScheduler, {}, True),
    "Heun": (HeunDiscreteScheduler, {}, False),
    "DPM-Solver++ 2M": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}, False),
    "UniPC": (UniPCMultistepScheduler, {}, False),
    "LMS": (LMSDiscreteScheduler, {}, False),
}

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_scheduler(name: str, config) -> SchedulerMixin:
    """``Cls.from_config(config, **extra)`` for a registered name (``config`` = ``pipeline.scheduler.config``)."""
    if name not in SCHEDULERS:
        raise KeyError(f"unknown scheduler {name!r}; known: {', '.join(SCHEDULERS)}")
    cls, extra, _ = SCHEDULERS[name]
    return cls.from_config(config, **extra)


def unet_denoiser(unet: UNet2DModel) -> Denoiser:
    """Wrap an unconditional UNet as ``denoiser(x, t) -> model output`` (a conditioned model closes over its
    condition the same way)."""
    return lambda x, t: unet(x, t).sample


@dataclass
class SampleResult:
    images: torch.Tensor  # [N, C, H, W] in the model's range ([-1, 1]), on the CPU
    model_evaluations: int  # per image


@torch.no_grad()
def sample(denoiser: Denoiser, scheduler: SchedulerMixin, noise: torch.Tensor, num_inference_steps: int,
           generator: torch.Generator | None = None) -> SampleResult:
    """Run the reverse process from ``noise`` (unit Gaussian, on the model's device).

    ``generator`` drives the noise that stochastic schedulers add in ``step``; counts model evaluations
    (Heun evaluates twice per step, which shows up as ``2n - 1`` entries in ``scheduler.timesteps``).
    """
    scheduler.set_timesteps(num_inference_steps, device=noise.device)
    step_kwargs = {"generator": generator} if "generator" in inspect.signature(scheduler.step).parameters else {}
    x = noise * scheduler.init_noise_sigma
    evaluations = 0
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(x, t)
        timestep = t.expand(x.shape[0]) if t.ndim == 0 else t
        model_output = denoiser(model_input, timestep.to(x.device))
        evaluations += 1
        x = scheduler.step(model_output, t, x, **step_kwargs).prev_sample
    return SampleResult(images=x.float().cpu(), model_evaluations=evaluations)


def initial_noise(n: int, shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """The same unit-Gaussian z_T for a given seed on every device (drawn on the CPU)."""
    return torch.randn((n, *shape), generator=torch.Generator("cpu").manual_seed(seed))


def sample_in_batches(denoiser: Denoiser, scheduler_factory: Callable[[], SchedulerMixin], noise: torch.Tensor,
                      num_inference_steps: int, *, seed: int, device, batch_size: int = 1000) -> SampleResult:
    """:func:`sample` over ``noise`` (CPU) in batches; each batch gets a fresh scheduler (multistep solvers keep
    state) and a CPU generator seeded from ``seed`` and the batch index, so results do not depend on the device."""
    images, evaluations = [], 0
    for index, start in enumerate(range(0, len(noise), batch_size)):
        generator = torch.Generator("cpu").manual_seed(seed * 100_003 + index)
        result = sample(denoiser, scheduler_factory(), noise[start:start + batch_size].to(device),
                        num_inference_steps, generator)
        images.append(result.images)
        evaluations = result.model_evaluations
    return SampleResult(images=torch.cat(images), model_evaluations=evaluations)
