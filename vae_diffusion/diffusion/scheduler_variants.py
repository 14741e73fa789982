"""The scheduler config variants of the ablation (``scheduler_ablation``) and how one is run; the study's
noise-schedule rows side by side with their base solver (:func:`noise_schedule_comparison`).

Each variant is a registered scheduler built as ``Cls.from_config(pipeline.scheduler.config, **overrides)``
*without* the study's ``CONFIG_FIXES`` (so "inherited" is exactly the DDPM training config), plus optional
arguments of ``step``. A variant is one entry of :data:`VARIANTS`; a scheduler or noise schedule the study runs is
one entry of ``sampling.SCHEDULERS`` (the Karras rows there: ``sampling.noise_schedule_variants``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from mvadl.verdicts import holm
from vae_diffusion.core.metrics import paired_fid_difference, rms_distance
from vae_diffusion.diffusion.sampling import make_scheduler, noise_schedule_variants, sample


@dataclass(frozen=True)
class Variant:
    """One way to build a registered scheduler: config overrides on the inherited config, ``step`` arguments."""
    label: str
    scheduler: str
    overrides: dict = field(default_factory=dict)
    step_kwargs: dict = field(default_factory=dict)

    @property
    def inherited(self) -> bool:
        return not self.overrides and not self.step_kwargs


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
    # Karras sigmas span the first to the last spaced timestep: only "linspace" reaches both t = 999 and t = 0
    Variant("Euler Karras inherited", "Euler Karras"),
    Variant("Euler Karras trailing", "Euler Karras", {"timestep_spacing": "trailing"}),
    Variant("Euler Karras linspace", "Euler Karras", {"timestep_spacing": "linspace"}),
)
VARIANTS_BY_LABEL = {v.label: v for v in VARIANTS}
QUICK_VARIANTS = ("DDIM inherited", "DDIM clip_sample=False", "DPM++ 2M inherited", "DPM++ 2M trailing")


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


def noise_schedule_tests(names: list[str], features: Mapping[tuple[str, int], np.ndarray], reference: np.ndarray,
                         *, seed: int, n_resamples: int = 1000) -> dict[tuple[str, int], dict]:
    """``{(base, n): comparison}``: for each base solver among ``names`` and each number of steps n at which both
    it and its Karras-sigmas row have ``features`` (``{(scheduler, n): [N, D]}`` of images from the same initial
    noises), FID(Karras) - FID(base) against ``reference`` by :func:`~vae_diffusion.core.metrics.
    paired_fid_difference`, Holm-adjusted over all of them (one family: every solver at every n)."""
    found = {(base, n): (variant, n) for base, variant in noise_schedule_variants(names).items()
             for (name, n) in features if name == base and (variant, n) in features}
    comparisons = {key: paired_fid_difference(features[other], features[key], reference, seed=seed,
                                              n_resamples=n_resamples) for key, other in found.items()}
    adjusted = holm([c.p_value for c in comparisons.values()]) if comparisons else []
    return {key: dataclasses.replace(c, p_holm=p).as_dict() for (key, c), p in zip(comparisons.items(), adjusted)}


def noise_schedule_comparison(cells: list[dict], names: list[str],
                              tests: Mapping[tuple[str, int], dict] | None = None) -> dict[str, dict]:
    """Each base solver among ``names`` beside its Karras-sigmas row, from the study's ``cells`` (one record per
    scheduler and number of steps): ``{base: {"variant", "steps", "fid": {"default": {n: .}, "karras": {n: .}},
    "fid_change": {n: karras - default}, "kid": ..., "rms_to_reference": ..., "model_evaluations": ...}}``, keyed by
    the number of steps as text (JSON keys), so a report prints any entry without computing; with ``tests``
    (:func:`noise_schedule_tests`), ``"fid_test": {n: comparison}`` too."""
    by_cell = {(cell["scheduler"], cell["steps"]): cell for cell in cells}
    comparison = {}
    for base, variant in noise_schedule_variants(names).items():
        steps = [n for (name, n) in by_cell if name == base and (variant, n) in by_cell]
        entry = {"variant": variant, "steps": steps}
        for key in ("fid", "kid", "rms_to_reference", "model_evaluations"):
            entry[key] = {schedule: {str(n): by_cell[(name, n)][key] for n in steps}
                          for schedule, name in (("default", base), ("karras", variant))}
        entry["fid_change"] = {str(n): by_cell[(variant, n)]["fid"] - by_cell[(base, n)]["fid"] for n in steps}
        if tests is not None:
            entry["fid_test"] = {str(n): tests[(base, n)] for n in steps if (base, n) in tests}
        comparison[base] = entry
    return comparison
