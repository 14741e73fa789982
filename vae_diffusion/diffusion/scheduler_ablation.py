"""Q18 follow-up: which inherited config entries stop DDIM, DPM-Solver++ and UniPC from converging.

    python -m vae_diffusion.diffusion.scheduler_ablation --model checkpoints/ddpm_mnist/pipeline   # CPU: ~6 min
    python -m vae_diffusion.diffusion.scheduler_ablation --model PATH --quick                      # CPU: seconds

Each variant (``scheduler_variants.py``) is a registered scheduler built as
``Cls.from_config(pipeline.scheduler.config, **overrides)`` *without* the study's ``CONFIG_FIXES`` (so
"inherited" is exactly the DDPM training config), plus optional arguments of ``step``. A deterministic solver
run with n steps from a fixed ``z_T`` should approach its own ``--reference-steps`` result as n grows; per
variant and n we record that RMS distance (pixels clipped to [-1, 1], as in the study), and the distance of the
variant's reference to the inherited variant's reference (how much the change moves the final image). No FID:
a handful of images on the CPU.
Writes results/diffusion/scheduler_ablation.json, scheduler_ablation_convergence.png, scheduler_ablation_grid.png.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import torch

from mvadl.plotting import save_figure
from mvadl.results import results_dir
from mvadl.runner import Context, ExperimentConfig, main, option
from vae_diffusion.core.images import to_mnist_range
from vae_diffusion.core.metrics import rms_distance
from vae_diffusion.diffusion.evaluation import load_unconditional_pipeline
from vae_diffusion.diffusion.plots import plot_convergence_panels, plot_variant_rows
from vae_diffusion.diffusion.sampling import initial_noise, unet_denoiser
from vae_diffusion.diffusion.scheduler_variants import (
    QUICK_VARIANTS,
    VARIANTS,
    VARIANTS_BY_LABEL,
    run_variant,
)
from vae_diffusion.diffusion.unet import DEFAULT_PIPELINE

logger = logging.getLogger(__name__)

#: The labels --variants accepts.
VariantLabel = Literal[tuple(VARIANTS_BY_LABEL)]


@dataclass
class SchedulerAblationConfig(ExperimentConfig):
    """Config variants of DDIM, DPM-Solver++ and UniPC against their own converged result."""

    model: str = option(DEFAULT_PIPELINE, "local diffusers pipeline folder")
    variants: list[VariantLabel] = option([v.label for v in VARIANTS], "variants to run")
    steps: list[int] = option([10, 20, 50, 100], "numbers of inference steps")
    reference_steps: int = option(200, "steps of each variant's own reference")
    n_images: int = option(8, "images per variant (one batch)")
    grid_images: int = option(4, "digits shown per grid cell (a square number)")
    threads: int = option(1, "torch CPU threads")
    QUICK: ClassVar[dict] = {"variants": list(QUICK_VARIANTS), "steps": [2, 4], "reference_steps": 6, "n_images": 2}


def run(config: SchedulerAblationConfig, ctx: Context) -> Path:
    torch.set_num_threads(config.threads)
    grid_images = min(config.grid_images, config.n_images)
    pipeline = load_unconditional_pipeline(config.model, ctx.device)
    unet = pipeline.unet
    denoiser = unet_denoiser(unet)
    shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    noise = initial_noise(config.n_images, shape, config.seed).to(ctx.device)
    variants = [VARIANTS_BY_LABEL[label] for label in config.variants]
    records, convergence, cells, inherited_reference = [], {}, {}, {}
    grid_steps = [config.steps[0], config.steps[-1], config.reference_steps]
    for variant in variants:
        t0 = time.perf_counter()
        out = run_variant(variant, denoiser, pipeline.scheduler.config, noise, config.steps, config.reference_steps)
        if variant.inherited:
            inherited_reference[variant.scheduler] = out["reference"]
        base = inherited_reference.get(variant.scheduler)
        record = {"variant": variant.label, "scheduler": variant.scheduler, "overrides": variant.overrides,
                  "step_kwargs": variant.step_kwargs, "steps": config.steps,
                  "rms_to_reference": out["rms_to_reference"],
                  "reference_rms_to_inherited_reference": None if base is None else rms_distance(out["reference"],
                                                                                                   base),
                  "timestep_span": out["timestep_span"], "seconds": time.perf_counter() - t0}
        records.append(record)
        convergence[variant.label] = out["rms_to_reference"]
        images = {**out["images"], config.reference_steps: out["reference"]}
        for n in grid_steps:
            cells[(variant.label, n)] = to_mnist_range(images[n][:grid_images]).squeeze(1).numpy()
        logger.info("%-34s RMS to own %d-step result at %s steps: %s; reference vs inherited: %s", variant.label,
                    config.reference_steps, config.steps, " ".join(f"{d:.4f}" for d in out["rms_to_reference"]),
                    record["reference_rms_to_inherited_reference"])
    figure_dir = results_dir() / "diffusion"
    save_figure(plot_convergence_panels(config.steps, convergence, {v.label: v.scheduler for v in variants},
                                        config.reference_steps),
                figure_dir / "scheduler_ablation_convergence.png")
    grid = plot_variant_rows(cells, [v.label for v in variants], grid_steps, config.reference_steps)
    save_figure(grid, figure_dir / "scheduler_ablation_grid.png")
    recorded_config = {"ablation": {**config.as_dict(), "grid_images": grid_images},
                       "inherited_scheduler_config": dict(pipeline.scheduler.config),
                       "variants": [{"label": v.label, "scheduler": v.scheduler, "overrides": v.overrides,
                                     "step_kwargs": v.step_kwargs} for v in variants]}
    return ctx.record("diffusion", "scheduler_ablation",
                      {"variants": records, "n_images": config.n_images, "reference_steps": config.reference_steps},
                      config=recorded_config)


if __name__ == "__main__":
    sys.exit(main(run, SchedulerAblationConfig, prog="python -m vae_diffusion.diffusion.scheduler_ablation",
                  doc=__doc__))
