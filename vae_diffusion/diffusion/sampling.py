"""The manual reverse-process loop shared by every sampler, and the registry of diffusers schedulers.

A scheduler is swapped with ``Cls.from_config(pipeline.scheduler.config)``: the trained beta schedule is
kept and only the solver changes. The loop is the one of diffusers' "write your own pipeline" tutorial:
``x_T = noise * init_noise_sigma``; for each t: ``eps = model(scale_model_input(x, t), t)``,
``x = scheduler.step(eps, t, x, generator=g).prev_sample``.

Two entries of the DDPM training config are wrong for some solvers and are overridden in :data:`CONFIG_FIXES`
(measured by ``scheduler_ablation.py``; the report's diffusion appendix): ``clip_sample=True`` makes DDIM clip its
``x_0`` estimate but keep the unclipped noise estimate, and ``timestep_spacing="leading"`` makes the multistep
solvers start from a different noise level for every number of steps (and cuts the Karras sigmas of Euler and
Heun short at both ends, where "trailing" would too: they take "linspace").

A noise-schedule variant is a registry entry of its own, the base solver's class and extra config plus
``use_karras_sigmas=True`` (:func:`noise_schedule_variants` pairs them), so the study runs it at the same seeds and
numbers of steps as every other row.
"""
from __future__ import annotations

import contextlib
import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    HeunDiscreteScheduler,
    LMSDiscreteScheduler,
    UNet2DModel,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from mvadl.seeding import torch_generator
from vae_diffusion.diffusion.sampling_cache import SamplingCache, tensor_digest

#: Display name -> (scheduler class, extra config, stochastic?). Stochastic samplers inject fresh noise each step.
SCHEDULERS: dict[str, tuple[type, dict, bool]] = {
    "DDPM": (DDPMScheduler, {}, True),
    "DDIM": (DDIMScheduler, {}, False),
    "Euler": (EulerDiscreteScheduler, {}, False),
    # Noise-schedule variants, each after its base solver: the same solver on the Karras et al. (2022) sigmas,
    # sigma_i = (sigma_max^(1/rho) + i/(n-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho with rho = 7, which
    # spends more of the n steps at low noise, near the end of the reverse process.
    "Euler Karras": (EulerDiscreteScheduler, {"use_karras_sigmas": True}, False),
    "Euler Ancestral": (EulerAncestralDiscreteScheduler, {}, True),
    "Heun": (HeunDiscreteScheduler, {}, False),
    "Heun Karras": (HeunDiscreteScheduler, {"use_karras_sigmas": True}, False),
    "DPM-Solver++ 2M": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2}, False),
    "DPM-Solver++ 2M Karras": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2,
                                                             "use_karras_sigmas": True}, False),
    "UniPC": (UniPCMultistepScheduler, {}, False),
    "LMS": (LMSDiscreteScheduler, {}, False),
}

#: Config entries set on top of the inherited DDPM config (``make_scheduler(..., fixes=False)`` leaves them out).
#: DDIM: no x_0 clipping, so its x_0 and noise estimates agree and it integrates the probability-flow ODE.
#: DPM-Solver++ / UniPC: "leading" spacing gives ``step_ratio = 1000 // (n + 1)`` and first timestep
#: ``n * step_ratio`` (900 at n = 10 or 100, 800 at n = 200), "trailing" starts every run at t = 999.
#: Euler / Heun with Karras sigmas: their sigma_max and sigma_min are those of the first and last *spaced* timestep,
#: so "leading" stops at t = 900 (sigma 61 instead of 157 at n = 10) and "trailing" at t = 99 (sigma_min 0.34
#: instead of 0.01); "linspace" spans t = 999 ... 0, the whole trained range, as DPM-Solver++ with Karras sigmas
#: does whatever the spacing.
CONFIG_FIXES: dict[str, dict] = {
    "DDIM": {"clip_sample": False},
    "DPM-Solver++ 2M": {"timestep_spacing": "trailing"},
    "UniPC": {"timestep_spacing": "trailing"},
    "Euler Karras": {"timestep_spacing": "linspace"},
    "Heun Karras": {"timestep_spacing": "linspace"},
}

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def noise_schedule_variants(names: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
    """``{base scheduler: its Karras-sigmas row}`` among ``names`` (default: every registered one): a row whose
    class is the base's and whose extra config is the base's plus ``use_karras_sigmas=True``."""
    names = list(SCHEDULERS) if names is None else list(names)
    pairs = {}
    for name in names:
        cls, extra, _ = SCHEDULERS[name]
        if not extra.get("use_karras_sigmas"):
            continue
        base_extra = {key: value for key, value in extra.items() if key != "use_karras_sigmas"}
        base = next((other for other in names if SCHEDULERS[other][0] is cls and SCHEDULERS[other][1] == base_extra),
                    None)
        if base is not None:
            pairs[base] = name
    return pairs


def config_entries(cls: type) -> set[str]:
    """The config entries a scheduler class accepts (its ``__init__`` arguments)."""
    return set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}


def make_scheduler(name: str, config, overrides: dict | None = None, *, fixes: bool = True) -> SchedulerMixin:
    """``Cls.from_config(config, **extra, **CONFIG_FIXES[name], **overrides)`` for a registered name
    (``config`` = ``pipeline.scheduler.config``; later entries win; ``fixes=False`` leaves out ``CONFIG_FIXES``).

    An override that is not a config entry of the class is an error (``from_config`` would silently ignore it);
    arguments of ``step`` such as DDIM's ``use_clipped_model_output`` go to :func:`sample` as ``step_kwargs``.
    """
    if name not in SCHEDULERS:
        raise KeyError(f"unknown scheduler {name!r}; known: {', '.join(SCHEDULERS)}")
    cls, extra, _ = SCHEDULERS[name]
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - config_entries(cls))
    if unknown:
        raise ValueError(f"{cls.__name__} has no config entries {unknown} (arguments of step() go to "
                         f"step_kwargs); its entries: {', '.join(sorted(config_entries(cls)))}")
    return cls.from_config(config, **{**extra, **(CONFIG_FIXES.get(name, {}) if fixes else {}), **overrides})


def parse_scheduler_overrides(text: str | dict) -> dict[str, dict]:
    """Config entries per registered scheduler, from JSON text ``{"DDIM": {"clip_sample": true}, ...}`` (or the
    dict itself); anything else, or an unknown scheduler name, is a ValueError that says what is expected."""
    if isinstance(text, str):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"scheduler overrides are not JSON: {error}") from None
    else:
        value = text
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ValueError('scheduler overrides: expected {"scheduler name": {"config entry": value, ...}, ...}, '
                         f"got {text!r}")
    unknown = sorted(set(value) - set(SCHEDULERS))
    if unknown:
        raise ValueError(f"scheduler overrides: unknown schedulers {unknown}; known: {', '.join(SCHEDULERS)}")
    return value


def unet_denoiser(unet: UNet2DModel, *, channels_last: bool = False,
                  autocast_dtype: torch.dtype | None = None) -> Denoiser:
    """Wrap an unconditional UNet as ``denoiser(x, t) -> model output`` in fp32 (a conditioned model closes over
    its condition the same way).

    ``channels_last``: the UNet (in place) and each input in channels_last memory format, the same arithmetic in
    another layout (on 2 CPU cores a forward pass at batch 100 took 6.9 ms an image against 10 at batch 500 in the
    default layout). ``autocast_dtype`` (``torch.bfloat16``): the forward pass under autocast, about half the time
    again on a CPU with bf16 instructions, at the cost of bf16 rounding in every model output."""
    if channels_last:
        unet.to(memory_format=torch.channels_last)

    def denoise(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with (torch.autocast(x.device.type, dtype=autocast_dtype) if autocast_dtype is not None
              else contextlib.nullcontext()):
            return unet(x, t).sample.float()

    return denoise


@dataclass
class SampleResult:
    images: torch.Tensor  # [N, C, H, W] in the model's range ([-1, 1]), on the CPU
    model_evaluations: int  # per image
    seconds: float = 0.0  # sampling time (:func:`sample_in_batches`: of every batch, those of a resumed run too)


@torch.no_grad()
def sample(denoiser: Denoiser, scheduler: SchedulerMixin, noise: torch.Tensor, num_inference_steps: int,
           generator: torch.Generator | None = None, step_kwargs: dict | None = None) -> SampleResult:
    """Run the reverse process from ``noise`` (unit Gaussian, on the model's device).

    ``generator`` drives the noise that stochastic schedulers add in ``step``; ``step_kwargs`` are extra
    arguments of ``scheduler.step`` (e.g. DDIM's ``use_clipped_model_output=True``). Counts model evaluations
    (Heun evaluates twice per step, which shows up as ``2n - 1`` entries in ``scheduler.timesteps``).
    """
    step_parameters = inspect.signature(scheduler.step).parameters
    step_kwargs = dict(step_kwargs or {})
    unknown = sorted(set(step_kwargs) - set(step_parameters))
    if unknown:
        raise ValueError(f"{type(scheduler).__name__}.step() has no arguments {unknown}")
    if "generator" in step_parameters:
        step_kwargs["generator"] = generator
    scheduler.set_timesteps(num_inference_steps, device=noise.device)
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
    """The same unit-Gaussian z_T for a given seed on every device (drawn on the CPU).

    It is the run's base stream (``derive_seed(seed)`` is ``seed``): the committed figures and the report name
    the seed of their z_T, so this stays ``torch.Generator().manual_seed(seed)``.
    """
    return torch.randn((n, *shape), generator=torch_generator(seed))


def sample_in_batches(denoiser: Denoiser, scheduler_factory: Callable[[], SchedulerMixin], noise: torch.Tensor,
                      num_inference_steps: int, *, seed: int, device, batch_size: int = 1000,
                      step_kwargs: dict | None = None, cache: SamplingCache | None = None) -> SampleResult:
    """:func:`sample` over ``noise`` (CPU) in batches; each batch gets a fresh scheduler (multistep solvers keep
    state) and a CPU generator seeded with ``derive_seed(seed, "sample_batch", index)``, so results do not depend on
    the device.

    ``cache``: each finished batch is kept there, and with ``cache.resume`` one an earlier run finished is read
    back instead of sampled (a batch is known by its scheduler, config, steps, seed, index and noise; the run's
    model and precision are the cache's own key)."""
    images, evaluations, seconds = [], 0, 0.0
    for index, start in enumerate(range(0, len(noise), batch_size)):
        scheduler = scheduler_factory()
        batch = noise[start:start + batch_size]

        key = cache and {"scheduler": type(scheduler).__name__, "config": dict(scheduler.config),
                         "steps": num_inference_steps, "step_kwargs": step_kwargs or {}, "seed": seed,
                         "index": index, "noise": tensor_digest(batch)}
        stored = cache.load(key) if cache is not None else None
        if stored is not None:
            result = SampleResult(stored.images, stored.info["model_evaluations"], stored.info["seconds"])
        else:
            t0 = time.perf_counter()
            result = sample(denoiser, scheduler, batch.to(device), num_inference_steps,
                            torch_generator(seed, "sample_batch", index), step_kwargs)
            if torch.device(device).type == "cuda":
                torch.cuda.synchronize(device)
            result.seconds = time.perf_counter() - t0
            if cache is not None:
                cache.store(key, result.images, model_evaluations=result.model_evaluations, seconds=result.seconds)
        images.append(result.images)
        evaluations = result.model_evaluations
        seconds += result.seconds
    return SampleResult(images=torch.cat(images), model_evaluations=evaluations, seconds=seconds)
