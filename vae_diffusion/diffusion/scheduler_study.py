"""Q18: the same seed and initial noise through every scheduler at several numbers of steps.

    python -m vae_diffusion.diffusion.scheduler_study --model checkpoints/ddpm_mnist/pipeline   # GPU: ~2 min
    python -m vae_diffusion.diffusion.scheduler_study --model PATH --quick                      # CPU: < 1 min

Every scheduler is ``Cls.from_config(pipeline.scheduler.config)`` with the registry's ``CONFIG_FIXES`` (DDIM
without x_0 clipping, DPM-Solver++ and UniPC with "trailing" timesteps; ``--no-config-fixes`` reproduces the
inherited config, ``--scheduler-overrides`` sets any config entry) and runs in the shared manual loop of
``sampling.py``. Per (steps, scheduler) cell it measures FID/KID of n samples against n test digits (the
real-vs-real value at the same n is the floor), model evaluations per image, and seconds; and the RMS distance
of the first samples to the scheduler's own ``--reference-steps`` result (deterministic solvers converge to
the probability-flow ODE solution, stochastic ones keep drawing new noise).
Writes results/diffusion/scheduler_metrics.json, scheduler_grid.png, scheduler_convergence.png, scheduler_fid.png.
"""
from __future__ import annotations

import argparse
import json
import sys
import logging
import time
from pathlib import Path

import torch

from mvadl.cli import run_cli, seed_everything, setup_logging
from mvadl.plotting import save_figure
from mvadl.results import describe_device, results_dir, write_results
from vae_diffusion.diffusion.classifier import load_classifier
from vae_diffusion.diffusion.data import to_mnist_range
from vae_diffusion.diffusion.evaluate import (classifier_features, distances, evaluation_parser, load_pipeline,
                                              pick_device, real_features)
from vae_diffusion.diffusion.plots import plot_convergence, plot_fid_vs_evaluations, plot_scheduler_grid
from vae_diffusion.diffusion.sampling import SCHEDULERS, initial_noise, make_scheduler, sample_in_batches, unet_denoiser

logger = logging.getLogger(__name__)


def rms_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Root-mean-square difference between two image batches, in pixel values clipped to [-1, 1]."""
    return float((a.float().clamp(-1, 1) - b.float().clamp(-1, 1)).pow(2).mean().sqrt())


def parse_args(argv=None) -> argparse.Namespace:
    p = evaluation_parser(__doc__.split("\n")[0])
    p.add_argument("--schedulers", nargs="+", default=list(SCHEDULERS), choices=list(SCHEDULERS))
    p.add_argument("--steps", type=int, nargs="+", default=[5, 10, 20, 50, 100])
    p.add_argument("--reference-steps", type=int, default=200, help="steps of each scheduler's own reference")
    p.add_argument("--n-samples", type=int, default=500, help="samples per cell for FID/KID")
    p.add_argument("--n-convergence", type=int, default=256, help="samples compared to the reference")
    p.add_argument("--grid-images", type=int, default=4, help="digits shown per grid cell (a square number)")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--no-config-fixes", dest="config_fixes", action="store_false",
                   help="build every scheduler from the inherited DDPM config only (leave out CONFIG_FIXES)")
    p.add_argument("--scheduler-overrides", type=scheduler_overrides, default={}, metavar="JSON",
                   help='config entries per scheduler, applied last, e.g. \'{"DDIM": {"clip_sample": true}}\'')
    p.add_argument("--quick", action="store_true", help="smoke test: 3 schedulers, steps 2 and 4, 8 samples")
    args = p.parse_args(argv)
    unknown = sorted(set(args.scheduler_overrides) - set(SCHEDULERS))
    if unknown:
        p.error(f"--scheduler-overrides: unknown schedulers {unknown}; known: {', '.join(SCHEDULERS)}")
    return args


def scheduler_overrides(text: str) -> dict[str, dict]:
    """Parse ``--scheduler-overrides``: a JSON object ``{scheduler name: {config entry: value}}``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise argparse.ArgumentTypeError('expected {"scheduler name": {"config entry": value, ...}, ...}')
    return value


def main(args: argparse.Namespace) -> Path:
    setup_logging()
    seed_everything(args.seed)
    if args.quick:
        args.schedulers, args.steps = ["Euler", "Euler Ancestral", "DPM-Solver++ 2M"], [2, 4]
        args.reference_steps, args.n_samples, args.n_convergence = 6, 8, 4
    started = time.perf_counter()
    device = pick_device()
    pipeline = load_pipeline(args.model, device)
    classifier = load_classifier(args.classifier, device)
    unet = pipeline.unet
    denoiser = unet_denoiser(unet)
    shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    noise = initial_noise(args.n_samples, shape, args.seed)  # one z_T for every cell
    n = len(noise)
    test_features = real_features(classifier, "test", n, args.data_dir, check_count=not args.quick)
    floor = distances(real_features(classifier, "train", n, args.data_dir, seed=args.seed,
                                    check_count=not args.quick), test_features, seed=args.seed)
    records, cells, captions, convergence = [], {}, {}, {}
    n_conv = min(args.n_convergence, n)
    for name in args.schedulers:
        def factory(name=name):
            return make_scheduler(name, pipeline.scheduler.config, args.scheduler_overrides.get(name),
                                  fixes=args.config_fixes)

        reference = sample_in_batches(denoiser, factory, noise[:n_conv], args.reference_steps, seed=args.seed,
                                      device=device, batch_size=args.batch_size).images
        convergence[name] = []
        for steps in args.steps:
            t0 = time.perf_counter()
            result = sample_in_batches(denoiser, factory, noise, steps, seed=args.seed, device=device,
                                       batch_size=args.batch_size)
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds = time.perf_counter() - t0
            scores = distances(classifier_features(classifier, result.images), test_features, seed=args.seed)
            to_reference = rms_distance(result.images[:n_conv], reference)
            convergence[name].append(to_reference)
            records.append({"scheduler": name, "steps": steps, "model_evaluations": result.model_evaluations,
                            "seconds": seconds, "rms_to_reference": to_reference, **scores})
            cells[(steps, name)] = to_mnist_range(result.images[:args.grid_images]).squeeze(1).numpy()
            captions[(steps, name)] = f"FID {scores['fid']:.2f}, {result.model_evaluations} NFE"
            logger.info("%-16s %4d steps: FID %.3f KID %.5f NFE %d %.1fs, RMS to ref %.4f", name, steps,
                        scores["fid"], scores["kid"], result.model_evaluations, seconds, to_reference)
    figure_dir = results_dir() / "diffusion"
    suffix = "_quick" if args.quick else ""
    stochastic = {name: SCHEDULERS[name][2] for name in args.schedulers}
    save_figure(plot_scheduler_grid(cells, args.steps, args.schedulers, captions),
                figure_dir / f"scheduler_grid{suffix}.png")
    save_figure(plot_convergence(args.steps, convergence, args.reference_steps, stochastic),
                figure_dir / f"scheduler_convergence{suffix}.png")
    save_figure(plot_fid_vs_evaluations(records, floor["fid"]), figure_dir / f"scheduler_fid{suffix}.png")
    config = {"study": vars(args), "scheduler_configs": {
        name: dict(make_scheduler(name, pipeline.scheduler.config, args.scheduler_overrides.get(name),
                                  fixes=args.config_fixes).config) for name in args.schedulers}}
    return write_results("diffusion", f"scheduler_metrics{suffix}", config=config,
                         metrics={"cells": records, "n_samples": n, "n_convergence": n_conv,
                                  "reference_steps": args.reference_steps, "stochastic": stochastic,
                                  "fid_real_vs_real": floor["fid"], "kid_real_vs_real": floor["kid"]},
                         seed=args.seed, wall_time_s=time.perf_counter() - started, device=describe_device(device))


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
