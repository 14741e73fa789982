"""Q18 follow-up: which inherited config entries stop DDIM, DPM-Solver++ and UniPC from converging.

    python -m vae_diffusion.diffusion.scheduler_ablation --model checkpoints/ddpm_mnist/pipeline   # CPU: ~6 min
    python -m vae_diffusion.diffusion.scheduler_ablation --model PATH --quick                      # CPU: seconds

Each variant is a registered scheduler built as ``Cls.from_config(pipeline.scheduler.config, **overrides)``
*without* the study's ``CONFIG_FIXES`` (so "inherited" is exactly the DDPM training config), plus optional
arguments of ``step``. A deterministic solver run with n steps from a fixed ``z_T`` should approach its own
``--reference-steps`` result as n grows; per variant and n we record that RMS distance (pixels clipped to
[-1, 1], as in the study), and the distance of the variant's reference to the inherited variant's reference
(how much the change moves the final image). No FID: a handful of images on the CPU.
Writes results/diffusion/scheduler_ablation.json, scheduler_ablation_convergence.png, scheduler_ablation_grid.png.
"""
from __future__ import annotations

import argparse
import sys
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mvadl.cli import add_seed_argument, run_cli, seed_everything, setup_logging
from mvadl.plotting import save_figure
from mvadl.results import describe_device, results_dir, write_results
from vae_diffusion.diffusion.data import to_mnist_range
from vae_diffusion.diffusion.evaluate import DEFAULT_MODEL, load_pipeline, pick_device
from vae_diffusion.diffusion.plots import plot_convergence_panels, plot_scheduler_grid
from vae_diffusion.diffusion.sampling import initial_noise, make_scheduler, sample, unet_denoiser
from vae_diffusion.diffusion.scheduler_study import rms_distance

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """One way to build a registered scheduler: config overrides on the inherited config, ``step`` arguments."""
    label: str
    scheduler: str
    overrides: dict = field(default_factory=dict)
    step_kwargs: dict = field(default_factory=dict)


#: The first variant of each scheduler is the inherited config; the others change one suspected entry.
VARIANTS: tuple[Variant, ...] = (
    Variant("DDIM inherited", "DDIM"),
    Variant("DDIM clip_sample=False", "DDIM", {"clip_sample": False}),
    Variant("DDIM use_clipped_model_output", "DDIM", step_kwargs={"use_clipped_model_output": True}),
    Variant("DDIM trailing", "DDIM", {"timestep_spacing": "trailing"}),
    Variant("DDIM set_alpha_to_one=False", "DDIM", {"set_alpha_to_one": False}),
    Variant("DPM++ 2M inherited", "DPM-Solver++ 2M"),
    Variant("DPM++ 2M trailing", "DPM-Solver++ 2M", {"timestep_spacing": "trailing"}),
    Variant("DPM++ 2M linspace", "DPM-Solver++ 2M", {"timestep_spacing": "linspace"}),
    Variant("DPM++ 2M lower_order_final=False", "DPM-Solver++ 2M", {"lower_order_final": False}),
    Variant("UniPC inherited", "UniPC"),
    Variant("UniPC trailing", "UniPC", {"timestep_spacing": "trailing"}),
)
QUICK_VARIANTS = ("DDIM inherited", "DDIM clip_sample=False", "DPM++ 2M inherited", "DPM++ 2M trailing")


def column_title(variant: Variant, width: int = 18) -> str:
    """Scheduler name over the changed entry, the entry broken at an underscore if longer than ``width``."""
    change = variant.label.split(" ")[-1]
    if len(change) > width and "_" in change:
        cut = min((i for i, c in enumerate(change) if c == "_"), key=lambda i: abs(i - len(change) / 2))
        change = change[:cut + 1] + "\n" + change[cut + 1:]
    return f"{variant.scheduler}\n{change}"


def first_timesteps(scheduler, steps: list[int]) -> dict[int, list[int]]:
    """First and last timestep of the schedule for each number of steps (the spacing's visible effect)."""
    spans = {}
    for n in steps:
        scheduler.set_timesteps(n)
        spans[n] = [int(scheduler.timesteps[0]), int(scheduler.timesteps[-1])]
    return spans


def run_variant(variant: Variant, denoiser, config, noise: torch.Tensor, steps: list[int],
                reference_steps: int) -> dict:
    """Samples of one variant at every n and at ``reference_steps``; returns images and distances."""
    def build():
        return make_scheduler(variant.scheduler, config, variant.overrides, fixes=False)

    reference = sample(denoiser, build(), noise, reference_steps, step_kwargs=variant.step_kwargs).images
    images = {n: sample(denoiser, build(), noise, n, step_kwargs=variant.step_kwargs).images for n in steps}
    return {"reference": reference, "images": images,
            "rms_to_reference": [rms_distance(images[n], reference) for n in steps],
            "timestep_span": first_timesteps(build(), [*steps, reference_steps])}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_seed_argument(p)
    p.add_argument("--model", default=DEFAULT_MODEL, help="local diffusers pipeline folder")
    p.add_argument("--variants", nargs="+", default=[v.label for v in VARIANTS],
                   choices=[v.label for v in VARIANTS], metavar="LABEL",
                   help="variants to run: " + "; ".join(v.label for v in VARIANTS))
    p.add_argument("--steps", type=int, nargs="+", default=[10, 20, 50, 100])
    p.add_argument("--reference-steps", type=int, default=200, help="steps of each variant's own reference")
    p.add_argument("--n-images", type=int, default=8, help="images per variant (one batch)")
    p.add_argument("--grid-images", type=int, default=4, help="digits shown per grid cell (a square number)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--quick", action="store_true", help="smoke test: 4 variants, steps 2 and 4, 2 images")
    return p.parse_args(argv)


def main(args: argparse.Namespace) -> Path:
    setup_logging()
    seed_everything(args.seed)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.variants, args.steps, args.reference_steps, args.n_images = list(QUICK_VARIANTS), [2, 4], 6, 2
    args.grid_images = min(args.grid_images, args.n_images)
    started = time.perf_counter()
    device = pick_device()
    pipeline = load_pipeline(args.model, device)
    unet = pipeline.unet
    denoiser = unet_denoiser(unet)
    shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    noise = initial_noise(args.n_images, shape, args.seed).to(device)
    by_label = {v.label: v for v in VARIANTS}
    variants = [by_label[label] for label in args.variants]
    records, convergence, cells, inherited_reference = [], {}, {}, {}
    grid_steps = [args.steps[0], args.steps[-1], args.reference_steps]
    for variant in variants:
        t0 = time.perf_counter()
        out = run_variant(variant, denoiser, pipeline.scheduler.config, noise, args.steps, args.reference_steps)
        if not variant.overrides and not variant.step_kwargs:
            inherited_reference[variant.scheduler] = out["reference"]
        base = inherited_reference.get(variant.scheduler)
        record = {"variant": variant.label, "scheduler": variant.scheduler, "overrides": variant.overrides,
                  "step_kwargs": variant.step_kwargs, "steps": args.steps,
                  "rms_to_reference": out["rms_to_reference"],
                  "reference_rms_to_inherited_reference": None if base is None else rms_distance(out["reference"],
                                                                                                   base),
                  "timestep_span": out["timestep_span"], "seconds": time.perf_counter() - t0}
        records.append(record)
        convergence[variant.label] = out["rms_to_reference"]
        images = {**out["images"], args.reference_steps: out["reference"]}
        for n in grid_steps:
            cells[(n, column_title(variant))] = to_mnist_range(images[n][:args.grid_images]).squeeze(1).numpy()
        logger.info("%-34s RMS to own %d-step result at %s steps: %s; reference vs inherited: %s", variant.label,
                    args.reference_steps, args.steps, " ".join(f"{d:.4f}" for d in out["rms_to_reference"]),
                    record["reference_rms_to_inherited_reference"])
    figure_dir = results_dir() / "diffusion"
    suffix = "_quick" if args.quick else ""
    save_figure(plot_convergence_panels(args.steps, convergence, {v.label: v.scheduler for v in variants},
                                        args.reference_steps),
                figure_dir / f"scheduler_ablation_convergence{suffix}.png")
    grid = plot_scheduler_grid(cells, grid_steps, [column_title(v) for v in variants])
    grid.suptitle("Same seed and initial noise; rows: number of inference steps, columns: config variant")
    grid.set_figheight(grid.get_figheight() + 0.6)  # room for the three-line column titles
    save_figure(grid, figure_dir / f"scheduler_ablation_grid{suffix}.png")
    config = {"ablation": vars(args), "inherited_scheduler_config": dict(pipeline.scheduler.config),
              "variants": [{"label": v.label, "scheduler": v.scheduler, "overrides": v.overrides,
                            "step_kwargs": v.step_kwargs} for v in variants]}
    return write_results("diffusion", f"scheduler_ablation{suffix}", config=config,
                         metrics={"variants": records, "n_images": args.n_images,
                                  "reference_steps": args.reference_steps},
                         seed=args.seed, wall_time_s=time.perf_counter() - started, device=describe_device(device))


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
