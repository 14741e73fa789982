"""Q18: the same seed and initial noise through every scheduler at several numbers of steps.

    python -m vae_diffusion.diffusion.scheduler_study --model checkpoints/ddpm_mnist/pipeline   # GPU: ~2 min, CPU: ~3 h
    python -m vae_diffusion.diffusion.scheduler_study --model PATH --quick                      # CPU: < 1 min

Every scheduler is ``Cls.from_config(pipeline.scheduler.config)`` with the registry's ``CONFIG_FIXES`` (DDIM
without x_0 clipping, DPM-Solver++ and UniPC with "trailing" timesteps; ``--no-config-fixes`` reproduces the
inherited config, ``--scheduler-overrides`` sets any config entry) and runs in the shared manual loop of
``sampling.py``. Per (steps, scheduler) cell it measures FID/KID of n samples against n test digits (the
real-vs-real value at the same n is the floor), model evaluations per image, and seconds; and the RMS distance
of the first samples to the scheduler's own ``--reference-steps`` result (deterministic solvers converge to
the probability-flow ODE solution, stochastic ones keep drawing new noise). The noise-schedule rows (Euler, Heun
and DPM-Solver++ on Karras sigmas, ``sampling.SCHEDULERS``) are cells like any other; the record also sets each
beside its base solver (``noise_schedules``: FID, KID, RMS to reference per number of steps, the FID change, and
its paired test on the same initial noises, Holm-adjusted over every solver and number of steps).
Writes results/diffusion/scheduler_metrics.json, scheduler_grid.png, scheduler_convergence.png, scheduler_fid.png.

Sampling stays in fp32 (in channels_last layout): the RMS distance of a deterministic solver to its reference falls
to about 0.002 at 100 steps, below what bf16 rounding alone moves a sample. On 2 CPU cores the study takes about
3 h (a forward pass about 7 ms an image); finished batches are kept (``sampling_cache``), so a run stopped part-way
continues with the same command and ``--resume``, and the record counts the resumes.
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from tyro.constructors import PrimitiveConstructorSpec

from mvadl.plotting import save_figure
from mvadl.results import results_dir
from mvadl.runner import Context, main, option
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import load_classifier
from vae_diffusion.core.images import to_mnist_range
from vae_diffusion.core.metrics import ClassifierFeatures, FeatureDistances, rms_distance
from vae_diffusion.diffusion.evaluation import PipelineEvaluationOptions, load_unconditional_pipeline, real_digits
from vae_diffusion.diffusion.plots import fid_text, plot_convergence, plot_fid_vs_evaluations, plot_scheduler_grid
from vae_diffusion.diffusion.sampling import (
    SCHEDULERS,
    initial_noise,
    make_scheduler,
    noise_schedule_variants,
    parse_scheduler_overrides,
    sample_in_batches,
    unet_denoiser,
)
from vae_diffusion.diffusion.sampling_cache import SamplingCache, module_digest
from vae_diffusion.diffusion.scheduler_variants import noise_schedule_comparison, noise_schedule_tests

logger = logging.getLogger(__name__)

#: The names --schedulers accepts.
SchedulerName = Literal[tuple(SCHEDULERS)]
#: --scheduler-overrides: one word of JSON text, checked and parsed by :func:`parse_scheduler_overrides`.
SchedulerOverrides = Annotated[dict, PrimitiveConstructorSpec(
    nargs=1, metavar="JSON", instance_from_str=lambda args: parse_scheduler_overrides(args[0]),
    is_instance=lambda value: isinstance(value, dict), str_from_instance=lambda value: [json.dumps(value)])]


@dataclass
class SchedulerStudyConfig(PipelineEvaluationOptions):
    """Schedulers x numbers of steps from one initial noise (the reference study's settings)."""

    schedulers: list[SchedulerName] = option(list(SCHEDULERS), "registered schedulers to run")
    steps: list[int] = option([5, 10, 20, 50, 100], "numbers of inference steps")
    reference_steps: int = option(200, "steps of each scheduler's own reference")
    n_samples: int = option(500, "samples per cell for FID/KID")
    n_convergence: int = option(128, "samples compared to the reference")
    grid_images: int = option(4, "digits shown per grid cell (a square number)")
    batch_size: int = option(100, "images sampled at once (a finished batch is kept for --resume)")
    channels_last: bool = option(True, "UNet and images in channels_last memory format")
    resume: bool = option(False, "read back the batches an earlier run of the same command and commit finished")
    fid_resamples: int = option(1000, "resamples of each noise-schedule FID test (permutation and bootstrap)")
    config_fixes: bool = option(True, "apply CONFIG_FIXES on top of the inherited DDPM config "
                                      "(--no-config-fixes: the inherited config only)")
    scheduler_overrides: SchedulerOverrides = option({}, 'JSON config entries per scheduler, applied last, e.g. '
                                                         '\'{"DDIM": {"clip_sample": true}}\'')
    QUICK: ClassVar[dict] = {"schedulers": ["Euler", "Euler Ancestral", "DPM-Solver++ 2M"], "steps": [2, 4],
                             "reference_steps": 6, "n_samples": 8, "n_convergence": 4,
                             "fid_resamples": 20}

    def __post_init__(self) -> None:
        # JSON text or the dict itself, when the config is made in code
        self.scheduler_overrides = parse_scheduler_overrides(self.scheduler_overrides)


def run(config: SchedulerStudyConfig, ctx: Context) -> Path:
    device = ctx.device
    pipeline = load_unconditional_pipeline(config.model, device)
    classifier = load_classifier(config.classifier, device)
    unet = pipeline.unet
    weights = module_digest(unet)
    cache = SamplingCache.for_run("scheduler_study", {"model": weights, "channels_last": config.channels_last},
                                  resume=config.resume)
    denoiser = unet_denoiser(unet, channels_last=config.channels_last)
    shape = (unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    noise = initial_noise(config.n_samples, shape, config.seed)  # one z_T for every cell
    n = len(noise)
    check_count = not config.quick
    test_digits = real_digits("test", n, config.data_dir, check_count=check_count)
    distances = FeatureDistances(ClassifierFeatures(classifier), test_digits)
    floor = distances(real_digits("train", n, config.data_dir, seed=config.seed, check_count=check_count),
                      seed=config.seed)
    records, cells, captions, convergence = [], {}, {}, {}
    n_conv = min(config.n_convergence, n)
    paired = {name for pair in noise_schedule_variants(config.schedulers).items() for name in pair}
    features = {}  # of the cells whose FIDs a noise-schedule test compares
    for name in config.schedulers:
        def factory(name=name):
            return make_scheduler(name, pipeline.scheduler.config, config.scheduler_overrides.get(name),
                                  fixes=config.config_fixes)

        reference = sample_in_batches(denoiser, factory, noise[:n_conv], config.reference_steps, seed=config.seed,
                                      device=device, batch_size=config.batch_size, cache=cache).images
        convergence[name] = []
        for steps in config.steps:
            result = sample_in_batches(denoiser, factory, noise, steps, seed=config.seed, device=device,
                                       batch_size=config.batch_size, cache=cache)
            seconds = result.seconds
            scores = distances(to_mnist_range(result.images), seed=config.seed)
            if name in paired:
                features[(name, steps)] = distances.extract(to_mnist_range(result.images))
            to_reference = rms_distance(result.images[:n_conv], reference)
            convergence[name].append(to_reference)
            records.append({"scheduler": name, "steps": steps, "model_evaluations": result.model_evaluations,
                            "seconds": seconds, "rms_to_reference": to_reference, **scores})
            cells[(steps, name)] = to_mnist_range(result.images[:config.grid_images]).squeeze(1).numpy()
            captions[(steps, name)] = f"FID {fid_text(scores['fid'])}, {result.model_evaluations} NFE"
            logger.info("%-16s %4d steps: FID %.3f KID %.5f NFE %d %.1fs, RMS to ref %.4f", name, steps,
                        scores["fid"], scores["kid"], result.model_evaluations, seconds, to_reference)
    tests = noise_schedule_tests(config.schedulers, features, distances.extract(test_digits), seed=config.seed,
                                 n_resamples=config.fid_resamples)
    figure_dir = results_dir() / "diffusion"
    stochastic = {name: SCHEDULERS[name][2] for name in config.schedulers}
    save_figure(plot_scheduler_grid(cells, config.steps, config.schedulers, captions),
                figure_dir / "scheduler_grid.png")
    save_figure(plot_convergence(config.steps, convergence, config.reference_steps, stochastic),
                figure_dir / "scheduler_convergence.png")
    save_figure(plot_fid_vs_evaluations(records, floor["fid"]), figure_dir / "scheduler_fid.png")
    recorded_config = {"study": config.as_dict(), "scheduler_configs": {
        name: dict(make_scheduler(name, pipeline.scheduler.config, config.scheduler_overrides.get(name),
                                  fixes=config.config_fixes).config) for name in config.schedulers}}
    return ctx.record("diffusion", "scheduler_metrics",
                      {"cells": records,
                       "noise_schedules": noise_schedule_comparison(records, config.schedulers, tests),
                       "n_samples": n, "n_convergence": n_conv,
                       "reference_steps": config.reference_steps, "stochastic": stochastic,
                       "fid_real_vs_real": floor["fid"], "kid_real_vs_real": floor["kid"],
                       "classifier_sha256": sha256_file(config.classifier), "sampling": cache.summary(),
                       "unet_digest": weights},
                      config=recorded_config, wall_time_s=ctx.elapsed() + cache.reused_seconds)


if __name__ == "__main__":
    sys.exit(main(run, SchedulerStudyConfig, prog="python -m vae_diffusion.diffusion.scheduler_study", doc=__doc__))
