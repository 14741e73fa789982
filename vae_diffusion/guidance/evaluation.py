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
from mvadl.seeding import derive_seed
from vae_diffusion.core.pipelines import load_local_pipeline
from vae_diffusion.guidance.captions import BACKGROUND_COLOURS, STROKE_COLOURS, caption
from vae_diffusion.guidance.detect import (
    DigitReading,
    centroid_shift,
    digit_probabilities,
    mask_iou,
    read_digits,
)
from vae_diffusion.guidance.pipeline import TextToDigitPipeline

#: Prompt and negative prompt for a pipeline other than ours (Figure 2 of the assignment).
SD_PROMPT, SD_NEGATIVE = "a photograph of an astronaut riding a horse", "desert"
#: The text-to-digit model's default negative prompt: the stroke colour it adds most often to a prompt that names
#: none. Classifier-free guidance turns strokes white, MNIST's own colour, though few training digits are white.
DIGIT_NEGATIVE = "white"
#: Further concepts: the background colour that 30 % of the training digits have, named as the captions name it
#: ("gray" alone occurs in no caption without "background"), a concept of another kind; and red, the stroke colour
#: half of the training digits have.
OTHER_NEGATIVES = ("gray background", "red")
#: Below this classifier confidence an image counts as showing no digit.
MIN_DIGIT_CONFIDENCE = 0.5


def load_guided_pipeline(path: str | Path, device: torch.device):
    """A local diffusers pipeline (no download): ours (``TextToDigitPipeline``) or any diffusers pipeline, e.g.
    Stable Diffusion; it must accept ``negative_prompt``, else a DataError names the folder."""
    pipe = load_local_pipeline(path, hint="train one with python -m vae_diffusion.guidance.train, or point --model "
                                          "at a local Stable Diffusion folder",
                               classes={TextToDigitPipeline.__name__: TextToDigitPipeline})
    if "negative_prompt" not in inspect.signature(pipe.__call__).parameters:
        raise DataError(f"{path}: {type(pipe).__name__} does not take a negative_prompt")
    return pipe.to(device)


def concept_kind(concept: str) -> str:
    """``"stroke"`` for a stroke colour, ``"background"`` for a background colour (what ``detect`` can read)."""
    if concept in STROKE_COLOURS:
        return "stroke"
    if concept in BACKGROUND_COLOURS:
        return "background"
    raise ValueError(concept)


def digit_concept(path: str | Path, negative_prompt: str, concept: str | None) -> str:
    """The colour counted as the concept: ``concept``, else the one stroke or background colour that the negative
    prompt names ("red", "gray background"). The detector knows only the training's stroke and background colours,
    so anything else is a DataError naming the pipeline folder."""
    palette = (*STROKE_COLOURS, *BACKGROUND_COLOURS)
    if concept:
        named, problem = [concept], f"--concept is {concept!r}"
    else:
        named = [w for w in negative_prompt.lower().split() if w in palette]
        problem = f"the negative prompt {negative_prompt!r} names {len(named)} of them (exactly one is needed)"
    if len(named) != 1 or named[0] not in palette:
        raise DataError(f"{path}: the text-to-digit study counts stroke colours ({', '.join(STROKE_COLOURS)}) and "
                        f"background colours ({', '.join(BACKGROUND_COLOURS)}); {problem}")
    return named[0]


#: The seed stream of an experiment's images (:func:`experiment_seeds`).
IMAGE_STREAM = "image"


def experiment_seeds(seed: int, n: int, stream: str = IMAGE_STREAM) -> list[int]:
    """The seeds of an experiment's ``n`` images: image i of a run seeded ``seed`` uses
    ``derive_seed(seed, stream, i)`` (:mod:`mvadl.seeding`).

    Runs with different seeds share no image (adding i to the seed would let seeds 0 and 1 share all images but
    one); the first images of a larger run are those of a smaller one. Conditions compared within one experiment
    (with and without a negative prompt, another guidance scale) reuse the same seeds on purpose, so that their
    images start from the same noise z_T. Another ``stream`` gives other images for the same indices (the seed
    baseline's second seed)."""
    return [derive_seed(seed, stream, i) for i in range(n)]


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


def read_images(images: np.ndarray, classifier) -> tuple[DigitReading, np.ndarray]:
    """What ``detect`` reads in ``images`` and the classifier's digit probabilities ``[N, 10]``."""
    reading = read_digits(images)
    return reading, digit_probabilities(classifier, reading.coverage)


def no_digit(reading: DigitReading, probabilities: np.ndarray) -> np.ndarray:
    """Images that show no digit: an empty stroke mask, or a classifier confidence below 0.5."""
    return (reading.masks.sum((1, 2)) == 0) | (probabilities.max(1) < MIN_DIGIT_CONFIDENCE)


def _names(reading: DigitReading, concept: str) -> np.ndarray:
    return np.array(reading.stroke_names if concept_kind(concept) == "stroke" else reading.background_names)


def pair_metrics(without: tuple[DigitReading, np.ndarray], with_negative: tuple[DigitReading, np.ndarray],
                 images: tuple[np.ndarray, np.ndarray], digits: np.ndarray, concept: str) -> tuple[dict, dict]:
    """Metrics of image pairs (same seed and prompt, without / with the negative prompt), read by
    :func:`read_images`, and per-pixel maps of where they differ. ``concept``: a stroke or background colour."""
    (a, p_without), (b, p_with) = without, with_negative
    digit_without, digit_with = p_without.argmax(1), p_with.argmax(1)
    iou = mask_iou(a.masks, b.masks)
    shift = centroid_shift(a.masks, b.masks)  # position apart from shape; NaN where a mask is empty
    area_without, area_with = a.masks.sum((1, 2)), b.masks.sum((1, 2))
    change = np.abs(images[1] - images[0]).mean(-1)  # [N, H, W]
    union = a.masks | b.masks
    concept_without, concept_with = _names(a, concept) == concept, _names(b, concept) == concept
    removed = concept_without & ~concept_with
    strokes_without, strokes_with = np.array(a.stroke_names), np.array(b.stroke_names)
    backgrounds_without, backgrounds_with = np.array(a.background_names), np.array(b.background_names)
    metrics = {
        "concept": concept,
        "concept_kind": concept_kind(concept),
        "n_samples": int(len(digits)),
        "concept_rate_without_negative": float(np.mean(concept_without)),
        "concept_rate_with_negative": float(np.mean(concept_with)),
        "digit_kept_rate": float(np.mean(digit_with == digits)),
        "digit_rate_without_negative": float(np.mean(digit_without == digits)),
        "same_digit_read_rate": float(np.mean(digit_with == digit_without)),
        "no_digit_count_with_negative": int(no_digit(b, p_with).sum()),
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
        "stroke_colours_without": {c: int(np.sum(strokes_without == c)) for c in STROKE_COLOURS},
        "stroke_colours_with": {c: int(np.sum(strokes_with == c)) for c in STROKE_COLOURS},
        "background_colours_without": {c: int(np.sum(backgrounds_without == c)) for c in BACKGROUND_COLOURS},
        "background_colours_with": {c: int(np.sum(backgrounds_with == c)) for c in BACKGROUND_COLOURS},
        "background_changed_rate": float(np.mean(backgrounds_without != backgrounds_with)),
        "stroke_colour_changed_rate": float(np.mean(strokes_without != strokes_with)),
    }
    maps = {"change": change.mean(0), "strokes_without": a.masks.mean(0), "strokes_with": b.masks.mean(0),
            "iou": iou, "centroid_shift": shift, "names_without": _names(a, concept).tolist(),
            "names_with": _names(b, concept).tolist()}
    return metrics, maps


def colour_prompts(n: int) -> tuple[np.ndarray, list[str]]:
    """Digits and stroke colours of ``n`` prompts that name both ("a green seven"): digit ``i % 10``, colour
    cycling over the stroke colours every ten seeds, so every (digit, colour) pair occurs equally often."""
    colours = list(STROKE_COLOURS)
    return np.arange(n) % 10, [colours[(i // 10) % len(colours)] for i in range(n)]


def prompt_following(reading: DigitReading, probabilities: np.ndarray, digits: np.ndarray,
                     colours: list[str] | None = None) -> dict:
    """How well images follow prompts that name ``digits`` (and ``colours``): the share whose digit the
    classifier reads, the share with strokes of the colour named, and the count of images with no digit."""
    result = {"n_samples": int(len(digits)), "digit_rate": float(np.mean(probabilities.argmax(1) == digits)),
              "no_digit_count": int(no_digit(reading, probabilities).sum())}
    if colours is not None:
        has_strokes = reading.masks.sum((1, 2)) > 0  # an image without strokes obeys no colour
        result["colour_obeyed_rate"] = float(np.mean((np.array(reading.stroke_names) == np.array(colours))
                                                     & has_strokes))
    return result


def colour_prompt_following(pipe, classifier, seeds: list[int], guidance_scale: float, num_inference_steps: int,
                            batch_size: int = 100) -> dict:
    """:func:`prompt_following` of one image per seed for prompts naming a digit and a stroke colour
    ("a green seven", :func:`colour_prompts`): digit read, images with no digit, colour obeyed."""
    digits, colours = colour_prompts(len(seeds))
    images = generate(pipe, [caption(int(d), c) for d, c in zip(digits, colours)], None, seeds=seeds,
                      guidance_scale=guidance_scale, num_inference_steps=num_inference_steps, batch_size=batch_size,
                      desc="colour prompts")
    return prompt_following(*read_images(images, classifier), digits, colours)


def follows_prompts(pipe, classifier, seeds: list[int], guidance_scale: float, num_inference_steps: int) -> dict:
    """How well a text-to-digit pipeline follows its prompts, one image per seed for each kind of prompt: on
    "a <digit>" the digit read rate and the images with no digit, on "a <colour> <digit>"
    (:func:`colour_prompt_following`) the share whose strokes have the colour named (``colour_obeyed_rate``)."""
    digits = np.arange(len(seeds)) % 10
    plain = generate(pipe, [caption(int(d)) for d in digits], None, seeds=seeds, guidance_scale=guidance_scale,
                     num_inference_steps=num_inference_steps, batch_size=100, desc="digit prompts")
    result = prompt_following(*read_images(plain, classifier), digits)
    result["colour_obeyed_rate"] = colour_prompt_following(pipe, classifier, seeds, guidance_scale,
                                                           num_inference_steps)["colour_obeyed_rate"]
    return result
