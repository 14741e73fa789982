"""The negative-prompt study's library (``negative_prompt.py``): loading a guided pipeline, generating image
pairs from the same noise, and reading the pairs back into metrics.

Nothing here trains: it imports the pipeline, the detectors and the classifier, not the training loop.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from mvadl.data import DataError
from mvadl.seeding import derive_seed
from mvadl.verdicts import Comparison, holm, mcnemar_exact, paired_mean_difference, wilson_interval
from vae_diffusion.core.pipelines import load_local_pipeline
from vae_diffusion.guidance.captions import BACKGROUND_COLOURS, STROKE_COLOURS, caption
from vae_diffusion.guidance.detect import (
    DigitReading,
    centroid_shift,
    digit_probabilities,
    mask_iou,
    read_digits,
)
from vae_diffusion.guidance.model import DEFAULT_PIPELINE, DEFAULT_PIPELINE_PIN
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
    Stable Diffusion; it must accept ``negative_prompt``, else a DataError names the folder. The shipped default
    (:data:`~vae_diffusion.guidance.model.DEFAULT_PIPELINE`) is verified against its pinned digest."""
    default = Path(path).resolve() == Path(DEFAULT_PIPELINE).resolve()
    pipe = load_local_pipeline(path, pinned=DEFAULT_PIPELINE_PIN if default else None,
                               hint="train one with python -m vae_diffusion.guidance.train, or point --model "
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


#: The seed stream of an experiment's images (:func:`experiment_seeds`), and that of the seed baseline's second
#: images (the same prompts from other noise, :func:`seed_baseline`).
IMAGE_STREAM, BASELINE_STREAM = "image", "baseline image"


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


def share(flags) -> dict:
    """``{"k", "n", "share", "low", "high"}``: how many of the per-image ``flags`` are true, of how many, and
    the Wilson 95 % interval of that share (:func:`mvadl.verdicts.wilson_interval`)."""
    flags = np.asarray(flags, bool)
    k, n = int(flags.sum()), int(flags.size)
    low, high = wilson_interval(k, n)
    return {"k": k, "n": n, "share": k / n, "low": low, "high": high}


def paired_change(a, b, identical) -> dict | None:
    """``Comparison.as_dict()`` of the exact McNemar test of a yes/no outcome on the same images under condition
    A (``a[i]``, the condition of interest, e.g. with the negative prompt) and B (``b[i]``): ``difference`` is
    the share under A minus that under B, with Newcombe's paired interval (:func:`mvadl.verdicts.mcnemar_exact`).
    None when every pair is the same image twice (``identical``): then the outcomes agree by construction, the
    change is exactly 0 and no interval is due."""
    if np.all(identical):
        return None
    return mcnemar_exact(list(a), list(b)).as_dict()


def colour_changes(a: dict[str, np.ndarray], b: dict[str, np.ndarray], identical) -> dict[str, dict | None]:
    """:func:`paired_change` of every palette colour read (``"red stroke"``, ..., ``"gray background"``) between
    the names read under condition A and B (``{"stroke": names, "background": names}``). The colours form one
    family of tests: each comparison carries Holm's adjusted p-value ``p_holm`` (:func:`mvadl.verdicts.holm`),
    which decides its verdict, since a side effect is looked for among all of them."""
    comparisons = {f"{colour} {kind}": paired_change(a[kind] == colour, b[kind] == colour, identical)
                   for kind, palette in (("stroke", STROKE_COLOURS), ("background", BACKGROUND_COLOURS))
                   for colour in palette}
    tested = [name for name, c in comparisons.items() if c is not None]
    for name, p_holm in zip(tested, holm([comparisons[name]["p_value"] for name in tested])):
        comparisons[name] = Comparison.from_dict({**comparisons[name], "p_holm": p_holm}).as_dict()
    return comparisons


def _optional(values: np.ndarray, digits: int) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in values]


def pair_metrics(without: tuple[DigitReading, np.ndarray], with_negative: tuple[DigitReading, np.ndarray],
                 images: tuple[np.ndarray, np.ndarray], digits: np.ndarray, concept: str) -> tuple[dict, dict]:
    """Metrics of image pairs (same seed and prompt, without / with the negative prompt), read by
    :func:`read_images`, and per-pixel maps of where they differ. ``concept``: a stroke or background colour.

    ``per_image`` holds every outcome of every pair (concept shown, digit read, no digit, colours read, whether
    the two images are identical, mask IoU, centroid shift, stroke areas), so that each share (``shares``, with
    its Wilson interval) and each paired test (``comparisons``: exact McNemar on the actual pairs, the condition
    with the negative prompt as A; ``colour_comparisons``: every colour read, Holm-adjusted as one family) can be
    recomputed from the record alone."""
    (a, p_without), (b, p_with) = without, with_negative
    digit_without, digit_with = p_without.argmax(1), p_with.argmax(1)
    identical = np.all(images[0] == images[1], axis=tuple(range(1, images[0].ndim)))
    iou = mask_iou(a.masks, b.masks)
    shift = centroid_shift(a.masks, b.masks)  # position apart from shape; NaN where a mask is empty
    area_without, area_with = a.masks.sum((1, 2)), b.masks.sum((1, 2))
    change = np.abs(images[1] - images[0]).mean(-1)  # [N, H, W]
    union = a.masks | b.masks
    names_without = {"stroke": np.array(a.stroke_names), "background": np.array(a.background_names)}
    names_with = {"stroke": np.array(b.stroke_names), "background": np.array(b.background_names)}
    kind = concept_kind(concept)
    outcomes = {
        "concept_without": names_without[kind] == concept, "concept_with": names_with[kind] == concept,
        "digit_read_without": digit_without == digits, "digit_kept": digit_with == digits,
        "same_digit_read": digit_with == digit_without,
        "no_digit_without": no_digit(a, p_without), "no_digit_with": no_digit(b, p_with),
        "stroke_colour_changed": names_without["stroke"] != names_with["stroke"],
        "background_changed": names_without["background"] != names_with["background"],
    }
    removed = outcomes["concept_without"] & ~outcomes["concept_with"]
    per_image = {
        **{key: flags.tolist() for key, flags in outcomes.items()},
        "digit_without": digit_without.tolist(), "digit_with": digit_with.tolist(),
        "stroke_without": a.stroke_names, "stroke_with": b.stroke_names,
        "background_without": a.background_names, "background_with": b.background_names,
        "identical": identical.tolist(), "mask_iou": np.round(iou, 4).tolist(),
        "centroid_shift_px": _optional(shift, 3),
        "stroke_area_without": area_without.tolist(), "stroke_area_with": area_with.tolist(),
    }
    metrics = {
        "concept": concept,
        "concept_kind": kind,
        "n_samples": int(len(digits)),
        "identical_pairs": int(identical.sum()),
        "shares": {key: share(flags) for key, flags in outcomes.items()},
        "comparisons": {
            "concept": paired_change(outcomes["concept_with"], outcomes["concept_without"], identical),
            "digit": paired_change(outcomes["digit_kept"], outcomes["digit_read_without"], identical),
            "no_digit": paired_change(outcomes["no_digit_with"], outcomes["no_digit_without"], identical),
        },
        "colour_comparisons": colour_changes(names_with, names_without, identical),
        "concept_rate_without_negative": float(np.mean(outcomes["concept_without"])),
        "concept_rate_with_negative": float(np.mean(outcomes["concept_with"])),
        "digit_kept_rate": float(np.mean(outcomes["digit_kept"])),
        "digit_rate_without_negative": float(np.mean(outcomes["digit_read_without"])),
        "no_digit_count_with_negative": int(outcomes["no_digit_with"].sum()),
        "mask_iou_mean": float(iou.mean()),
        "mask_iou_median": float(np.median(iou)),
        "mask_iou_mean_concept_removed": float(iou[removed].mean()) if removed.any() else None,
        "centroid_shift_px_median": float(np.nanmedian(shift)) if np.isfinite(shift).any() else None,
        "centroid_shift_px_p90": float(np.nanpercentile(shift, 90)) if np.isfinite(shift).any() else None,
        "stroke_area_ratio_median": float(np.median(area_with[area_without > 0] / area_without[area_without > 0]))
        if (area_without > 0).any() else None,
        "empty_mask_pairs": int(np.sum(~np.isfinite(shift))),
        "change_share_in_strokes": float((change * union).sum() / max(change.sum(), 1e-9)),
        "stroke_area_share": float(union.mean()),
        "mean_abs_change": float(change.mean()),
        "stroke_colours_without": {c: int(np.sum(names_without["stroke"] == c)) for c in STROKE_COLOURS},
        "stroke_colours_with": {c: int(np.sum(names_with["stroke"] == c)) for c in STROKE_COLOURS},
        "background_colours_without": {c: int(np.sum(names_without["background"] == c)) for c in BACKGROUND_COLOURS},
        "background_colours_with": {c: int(np.sum(names_with["background"] == c)) for c in BACKGROUND_COLOURS},
        "per_image": per_image,
    }
    maps = {"change": change.mean(0), "strokes_without": a.masks.mean(0), "strokes_with": b.masks.mean(0),
            "iou": iou, "centroid_shift": shift, "names_without": _names(a, concept).tolist(),
            "names_with": _names(b, concept).tolist()}
    return metrics, maps


def across_scales(low: dict, high: dict) -> dict:
    """How guidance itself changes the images without a negative prompt: the :func:`pair_metrics` of the lowest
    and the highest guidance scale of a sweep, compared on the images they share (the first ``n`` of both: the
    same seeds and prompts, hence the same z_T). ``concept`` and ``colours`` (every colour read, Holm-adjusted as
    one family) are exact McNemar tests with the higher scale as A."""
    n = min(low["n_samples"], high["n_samples"])
    lo, hi = low["per_image"], high["per_image"]
    names_low = {kind: np.array(lo[f"{kind}_without"][:n]) for kind in ("stroke", "background")}
    names_high = {kind: np.array(hi[f"{kind}_without"][:n]) for kind in ("stroke", "background")}
    never_identical = np.zeros(n, bool)  # two scales never give the same image twice by construction
    return {"from_scale": low["guidance_scale"], "to_scale": high["guidance_scale"], "n_samples": n,
            "concept": low["concept"],
            "concept_without": paired_change(hi["concept_without"][:n], lo["concept_without"][:n], never_identical),
            "digit_read_without": paired_change(hi["digit_read_without"][:n], lo["digit_read_without"][:n],
                                                never_identical),
            "colours_without": colour_changes(names_high, names_low, never_identical)}


def figure_images(concept_without, k: int) -> list[int]:
    """The image pairs a concept's figure shows, by a fixed rule: the first ``k`` images (in the study's order)
    that show the concept without the negative prompt, i.e. the images the negative prompt has something to
    remove from, whatever it does to them; the first ``k`` images when none shows the concept."""
    present = [i for i, shown in enumerate(concept_without) if shown]
    return present[:k] if present else list(range(min(k, len(concept_without))))


def _against_other_seed(without: np.ndarray, same_seed: np.ndarray, other_seed: np.ndarray,
                        test_seed: int) -> tuple[dict, dict]:
    """Per image i, the mask IoU and centroid shift of (without_i, same_seed_i) and of (without_i, other_seed_i),
    and their comparisons (:func:`mvadl.verdicts.paired_mean_difference`, same-seed pair as A; the shift on the
    images where all three masks are non-empty): ``(comparisons, per-image values)``."""
    iou_same, iou_other = mask_iou(without, same_seed), mask_iou(without, other_seed)
    shift_same, shift_other = centroid_shift(without, same_seed), centroid_shift(without, other_seed)
    both = np.isfinite(shift_same) & np.isfinite(shift_other)
    comparisons = {
        "mask_iou": paired_mean_difference(iou_same, iou_other, seed=test_seed).as_dict(),
        "centroid_shift_px": paired_mean_difference(shift_same[both], shift_other[both], seed=test_seed).as_dict()
        if both.any() else None,
    }
    return comparisons, {"iou_same": iou_same, "iou_other": iou_other, "shift_same": shift_same,
                         "shift_other": shift_other, "both": both}


def seed_baseline(without: np.ndarray, with_negative: np.ndarray, other_with_negative: np.ndarray,
                  seed: int, by_negative_prompt: Mapping[str, np.ndarray] | None = None) -> dict:
    """Does the initial noise fix the layout more than the prompt alone would? Stroke masks ``[N, H, W]`` of the
    images without the negative prompt, with it from the same seed, and with it from another seed (same prompt,
    same negative prompt): per image i, the mask IoU and centroid shift of (without_i, with_i), the same-seed
    pair, and of (without_i, other_i), the other-seed pair. The two pairs differ only in whether z_T is shared.

    Each quantity is compared by :func:`mvadl.verdicts.paired_mean_difference` (same-seed pair as A): paired,
    because both pairs of image i share its image without the negative prompt and its prompt, so the per-image
    difference removes how much one digit and one drawing vary (MNIST digits are centred, so two random digits
    already overlap); a sign-flip randomization test and a bootstrap interval, because IoU is bounded and the
    shift skewed. The shift is compared on the images where all three masks are non-empty.

    ``by_negative_prompt`` (``{negative prompt: masks with it from the same seeds}``, the main one included): each
    negative prompt's same-seed pairs compared in the same way with the same other-seed pairs, recorded under
    ``by_negative_prompt`` (the main one's comparisons are then those of ``comparisons``)."""
    test_seed = derive_seed(seed, "seed baseline test")
    comparisons, values = _against_other_seed(without, with_negative, other_with_negative, test_seed)
    iou_same, iou_other, shift_same, shift_other, both = (values[key] for key in (
        "iou_same", "iou_other", "shift_same", "shift_other", "both"))
    record = {
        "n_samples": int(len(without)), "shift_pairs": int(both.sum()), "test_seed": test_seed,
        "mask_iou_same_seed_mean": float(iou_same.mean()), "mask_iou_other_seed_mean": float(iou_other.mean()),
        "centroid_shift_px_same_seed_median": float(np.median(shift_same[both])) if both.any() else None,
        "centroid_shift_px_other_seed_median": float(np.median(shift_other[both])) if both.any() else None,
        "comparisons": comparisons,
        "per_image": {"mask_iou_same_seed": iou_same.tolist(), "mask_iou_other_seed": iou_other.tolist(),
                      "centroid_shift_px_same_seed": _optional(shift_same, 6),
                      "centroid_shift_px_other_seed": _optional(shift_other, 6)},
    }
    if by_negative_prompt is not None:
        record["by_negative_prompt"] = {
            prompt: _against_other_seed(without, masks, other_with_negative, test_seed)[0]
            for prompt, masks in by_negative_prompt.items()}
    return record


def comparable_images(reference: dict, image_seeds: list[int], where: str) -> int:
    """How many images this study shares with ``reference`` (another record of it: its metrics), which must
    keep per-image outcomes and start with the same image seeds; otherwise a DataError naming ``where``."""
    theirs = reference.get("concepts") or []
    n = min(len(image_seeds), len(reference.get("image_seeds") or []))
    if not n or reference["image_seeds"][:n] != image_seeds[:n] or any("per_image" not in c for c in theirs):
        raise DataError(f"{where}: not a record of this study with per-image outcomes on the same image seeds "
                        "(re-run the other model's study with this code and seed)")
    return n


def versus_reference(concepts: list[dict], image_seeds: list[int], reference: dict, where: str) -> dict:
    """This model against another model (another record of this study, ``reference``: its metrics) on the
    same images: for each concept both studied with the same negative prompt, exact McNemar tests of the concept
    shown without (``without``) and with (``with``) the negative prompt, this model as A, on the images both
    records share (same index, seed and prompt, hence the same z_T; :func:`comparable_images`)."""
    n = comparable_images(reference, image_seeds, where)
    theirs = {c["negative_prompt"]: c for c in reference["concepts"]}
    never_identical = np.zeros(n, bool)  # two models
    compared = {}
    for ours in concepts:
        other = theirs.get(ours["negative_prompt"])
        if other is None or other["concept"] != ours["concept"]:
            continue
        compared[ours["concept"]] = {
            "negative_prompt": ours["negative_prompt"],
            **{condition: paired_change(ours["per_image"][f"concept_{condition}"][:n],
                                        other["per_image"][f"concept_{condition}"][:n], never_identical)
               for condition in ("without", "with")}}
    return {"record": where, "n_samples": n, "concepts": compared}


def colour_prompts(n: int) -> tuple[np.ndarray, list[str]]:
    """Digits and stroke colours of ``n`` prompts that name both ("a green seven"): digit ``i % 10``, colour
    cycling over the stroke colours every ten seeds, so every (digit, colour) pair occurs equally often."""
    colours = list(STROKE_COLOURS)
    return np.arange(n) % 10, [colours[(i // 10) % len(colours)] for i in range(n)]


def prompt_following(reading: DigitReading, probabilities: np.ndarray, digits: np.ndarray,
                     colours: list[str] | None = None) -> dict:
    """How well images follow prompts that name ``digits`` (and ``colours``): the share whose digit the
    classifier reads, the share with strokes of the colour named, and the count of images with no digit; each
    share also with its Wilson interval (``shares``) and the per-image outcomes (``per_image``)."""
    outcomes = {"digit_read": probabilities.argmax(1) == digits, "no_digit": no_digit(reading, probabilities)}
    if colours is not None:
        has_strokes = reading.masks.sum((1, 2)) > 0  # an image without strokes obeys no colour
        outcomes["colour_obeyed"] = (np.array(reading.stroke_names) == np.array(colours)) & has_strokes
    result = {"n_samples": int(len(digits)), "digit_rate": float(np.mean(outcomes["digit_read"])),
              "no_digit_count": int(outcomes["no_digit"].sum())}
    if colours is not None:
        result["colour_obeyed_rate"] = float(np.mean(outcomes["colour_obeyed"]))
    result["shares"] = {key: share(flags) for key, flags in outcomes.items()}
    result["per_image"] = {key: flags.tolist() for key, flags in outcomes.items()}
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
    (:func:`colour_prompt_following`) the share whose strokes have the colour named (``colour_obeyed_rate``).
    ``shares``: ``digit_read`` and ``no_digit`` (plain prompts) and ``colour_obeyed``, with Wilson intervals."""
    digits = np.arange(len(seeds)) % 10
    plain = generate(pipe, [caption(int(d)) for d in digits], None, seeds=seeds, guidance_scale=guidance_scale,
                     num_inference_steps=num_inference_steps, batch_size=100, desc="digit prompts")
    result = prompt_following(*read_images(plain, classifier), digits)
    coloured = colour_prompt_following(pipe, classifier, seeds, guidance_scale, num_inference_steps)
    result["colour_obeyed_rate"] = coloured["colour_obeyed_rate"]
    result["shares"]["colour_obeyed"] = coloured["shares"]["colour_obeyed"]
    del result["per_image"]  # a training's checks need the shares, not a test on their images
    return result
