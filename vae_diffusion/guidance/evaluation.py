"""The negative-prompt study's library (``negative_prompt.py``): loading a guided pipeline, generating image
pairs from the same noise, and reading the pairs back into metrics.

Nothing here trains: it imports the pipeline, the detectors and the classifier, not the training loop.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from mvadl.data import DataError
from vae_diffusion.core.pipelines import load_local_pipeline
from vae_diffusion.guidance.captions import STROKE_COLOURS
from vae_diffusion.guidance.detect import centroid_shift, classify_digits, mask_iou, read_digits
from vae_diffusion.guidance.pipeline import TextToDigitPipeline

#: Prompt and negative prompt for a pipeline other than ours (Figure 2 of the assignment).
SD_PROMPT, SD_NEGATIVE = "a photograph of an astronaut riding a horse", "desert"
#: The text-to-digit model's default negative prompt: the stroke colour half of its training digits have.
DIGIT_NEGATIVE = "red"


def load_guided_pipeline(path: str | Path, device: torch.device):
    """A local diffusers pipeline (no download): ours (``TextToDigitPipeline``) or any diffusers pipeline, e.g.
    Stable Diffusion; it must accept ``negative_prompt``, else a DataError names the folder."""
    pipe = load_local_pipeline(path, hint="train one with python -m vae_diffusion.guidance.train, or point --model "
                                          "at a local Stable Diffusion folder",
                               classes={TextToDigitPipeline.__name__: TextToDigitPipeline})
    if "negative_prompt" not in inspect.signature(pipe.__call__).parameters:
        raise DataError(f"{path}: {type(pipe).__name__} does not take a negative_prompt")
    return pipe.to(device)


def digit_concept(path: str | Path, negative_prompt: str, concept: str | None) -> str:
    """The stroke colour counted as the concept (``concept``, else the negative prompt); the detector knows only
    the training colours, so anything else is a DataError naming the pipeline folder."""
    concept = concept or negative_prompt
    if concept not in STROKE_COLOURS:
        raise DataError(f"{path}: the text-to-digit study counts stroke colours ({', '.join(STROKE_COLOURS)}); "
                        f"--concept (default: the negative prompt) is {concept!r}")
    return concept


def generate(pipe, prompts: list[str], negative_prompt: str | None, seeds: list[int], guidance_scale: float,
             num_inference_steps: int, batch_size: int, desc: str = "") -> np.ndarray:
    """``[N, H, W, 3]`` images in [0, 1]; image i starts from the noise of ``torch.Generator().manual_seed(seeds[i])``
    (on the CPU, so the noise does not depend on the device)."""
    out = []
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc or "sampling", leave=False):
        stop = start + batch_size
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds[start:stop]]
        batch = prompts[start:stop]
        images = pipe(prompt=batch, negative_prompt=None if negative_prompt is None else [negative_prompt] * len(batch),
                      guidance_scale=guidance_scale, num_inference_steps=num_inference_steps,
                      generator=generators, output_type="np").images
        out.append(np.asarray(images, np.float32))
    return np.concatenate(out)


def pair_metrics(without: np.ndarray, with_negative: np.ndarray, digits: np.ndarray, concept: str,
                 classifier) -> tuple[dict, dict]:
    """Metrics of image pairs (same seed, prompt "a <digit>"), and per-pixel maps of where they differ."""
    a, b = read_digits(without), read_digits(with_negative)
    digit_without, digit_with = classify_digits(classifier, a.coverage), classify_digits(classifier, b.coverage)
    iou = mask_iou(a.masks, b.masks)
    shift = centroid_shift(a.masks, b.masks)  # position apart from shape; NaN where a mask is empty
    area_without, area_with = a.masks.sum((1, 2)), b.masks.sum((1, 2))
    change = np.abs(with_negative - without).mean(-1)  # [N, H, W]
    union = a.masks | b.masks
    names_without, names_with = np.array(a.stroke_names), np.array(b.stroke_names)
    removed = (names_without == concept) & (names_with != concept)
    metrics = {
        "n_samples": int(len(digits)),
        "concept_rate_without_negative": float(np.mean(names_without == concept)),
        "concept_rate_with_negative": float(np.mean(names_with == concept)),
        "digit_kept_rate": float(np.mean(digit_with == digits)),
        "digit_rate_without_negative": float(np.mean(digit_without == digits)),
        "mask_iou_mean": float(iou.mean()),
        "mask_iou_median": float(np.median(iou)),
        "mask_iou_mean_concept_removed": float(iou[removed].mean()) if removed.any() else None,
        "centroid_shift_px_median": float(np.nanmedian(shift)) if np.isfinite(shift).any() else None,
        "centroid_shift_px_p90": float(np.nanpercentile(shift, 90)) if np.isfinite(shift).any() else None,
        "stroke_area_ratio_median": float(np.median(area_with[area_without > 0] / area_without[area_without > 0]))
        if (area_without > 0).any() else None,
        "empty_mask_pairs": int(np.sum(~np.isfinite(shift))),
        "per_pair": {"seed_index": list(range(len(digits))), "mask_iou": np.round(iou, 4).tolist(),
                     "centroid_shift_px": [None if not np.isfinite(v) else round(float(v), 3) for v in shift]},
        "change_share_in_strokes": float((change * union).sum() / max(change.sum(), 1e-9)),
        "stroke_area_share": float(union.mean()),
        "mean_abs_change": float(change.mean()),
        "stroke_colours_without": {c: int(np.sum(names_without == c)) for c in STROKE_COLOURS},
        "stroke_colours_with": {c: int(np.sum(names_with == c)) for c in STROKE_COLOURS},
        "background_changed_rate": float(np.mean(np.array(a.background_names) != np.array(b.background_names))),
    }
    maps = {"change": change.mean(0), "strokes_without": a.masks.mean(0), "strokes_with": b.masks.mean(0),
            "iou": iou, "centroid_shift": shift, "stroke_names_without": a.stroke_names,
            "stroke_names_with": b.stroke_names}
    return metrics, maps


def figure_pairs(stroke_names_without: list[str], concept: str, count: int) -> list[int]:
    """Indices of the pairs to show: first those whose top image shows the concept, then others, in seed order."""
    order = sorted(range(len(stroke_names_without)), key=lambda i: stroke_names_without[i] != concept)[:count]
    return sorted(order)
