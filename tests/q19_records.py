"""Q19 records in the layout of the negative-prompt study (``vae_diffusion/guidance/negative_prompt.py``) for the
report's tests, built from per-image outcomes with the study's own statistics (:mod:`mvadl.verdicts`): a
200-image run with shares like those of the reference model, every share with its Wilson interval and every
comparison a test on those images. ``tests/test_guidance_pairs.py`` checks that a concept built here has the keys
of one built by the study (``pair_metrics``).

:func:`write_records` writes them into a results folder, so that a test can render the Q19 text from records that
say otherwise than ``results/`` (and from a more-red record in the study's layout, which ``results/`` holds only
in the earlier model's layout).
"""
from __future__ import annotations

import json
from pathlib import Path

from mvadl.verdicts import Comparison, holm, mcnemar_exact, paired_mean_difference, wilson_interval

PALETTE = {"stroke": ("red", "green", "blue", "yellow", "white"), "background": ("black", "gray")}
#: Colours read on the 200 images without a negative prompt at s = 5, and with each negative prompt.
WITHOUT = {"stroke": {"red": 58, "green": 7, "blue": 13, "yellow": 34, "white": 88},
           "background": {"black": 143, "gray": 57}}
WITH = {
    "white": {"stroke": {"red": 187, "green": 7, "blue": 4, "yellow": 2, "white": 0},
              "background": {"black": 155, "gray": 45}},
    "gray background": {"stroke": {"red": 104, "green": 18, "blue": 29, "yellow": 32, "white": 17},
                        "background": {"black": 199, "gray": 1}},
    "red": {"stroke": {"red": 6, "green": 23, "blue": 50, "yellow": 6, "white": 115},
            "background": {"black": 155, "gray": 45}},
}
CONCEPTS = {"white": ("white", "stroke"), "gray background": ("gray", "background"), "red": ("red", "stroke")}
TRAINING_COLOURS = {"stroke": {"red": 0.5, "green": 0.125, "blue": 0.125, "yellow": 0.125, "white": 0.125},
                    "background": {"black": 0.7, "gray": 0.3}, "mention_probability": 0.5}


def share(flags: list[bool]) -> dict:
    k, n = sum(flags), len(flags)
    low, high = wilson_interval(k, n)
    return {"k": k, "n": n, "share": k / n, "low": low, "high": high}


def paired(a: list[bool], b: list[bool], identical: bool) -> dict | None:
    return None if identical else mcnemar_exact(a, b).as_dict()


def colour_changes(a: dict[str, list[str]], b: dict[str, list[str]], identical: bool) -> dict:
    """Every palette colour read under A against B, Holm-adjusted as one family (as the study does)."""
    tests = {f"{colour} {kind}": paired([x == colour for x in a[kind]], [x == colour for x in b[kind]], identical)
             for kind, palette in PALETTE.items() for colour in palette}
    tested = [name for name, c in tests.items() if c is not None]
    for name, p_holm in zip(tested, holm([tests[name]["p_value"] for name in tested])):
        tests[name] = Comparison.from_dict({**tests[name], "p_holm": p_holm}).as_dict()
    return tests


def names(counts: dict[str, int]) -> list[str]:
    return [name for name, k in counts.items() for _ in range(k)]


def moved(without: list[str], counts: dict[str, int]) -> list[str]:
    """Names with ``counts``, each image keeping its name without the negative prompt where the counts allow."""
    left, out = dict(counts), []
    for name in without:
        keep = left.get(name, 0) > 0
        out.append(name if keep else None)
        left[name] = left.get(name, 0) - keep
    spare = names({name: k for name, k in left.items() if k > 0})
    return [name if name is not None else spare.pop(0) for name in out]


def concept_record(negative_prompt: str, scale: float, without: dict[str, list[str]], with_: dict[str, list[str]],
                   identical: bool = False, lost_digits: int = 0) -> dict:
    """A concept of the study: ``without``/``with_`` are the stroke and background colours read per image."""
    concept, kind = CONCEPTS[negative_prompt]
    n = len(without["stroke"])
    digits = [i % 10 for i in range(n)]
    digit_with = [(d + 1) % 10 if i < lost_digits else d for i, d in enumerate(digits)]
    iou = [1.0] * n if identical else [round(0.5 + 0.3 * (i % 5) / 4, 4) for i in range(n)]
    shift = [0.0] * n if identical else [round(0.2 + 0.2 * (i % 7), 3) for i in range(n)]
    outcomes = {
        "concept_without": [x == concept for x in without[kind]], "concept_with": [x == concept for x in with_[kind]],
        "digit_read_without": [True] * n, "digit_kept": [a == b for a, b in zip(digit_with, digits)],
        "same_digit_read": [a == b for a, b in zip(digit_with, digits)],
        "no_digit_without": [False] * n, "no_digit_with": [False] * n,
        "stroke_colour_changed": [a != b for a, b in zip(without["stroke"], with_["stroke"])],
        "background_changed": [a != b for a, b in zip(without["background"], with_["background"])],
    }
    removed = [a and not b for a, b in zip(outcomes["concept_without"], outcomes["concept_with"])]
    return {
        "guidance_scale": scale, "negative_prompt": negative_prompt, "concept": concept, "concept_kind": kind,
        "n_samples": n, "identical_pairs": n if identical else 0,
        "shares": {key: share(flags) for key, flags in outcomes.items()},
        "comparisons": {
            "concept": paired(outcomes["concept_with"], outcomes["concept_without"], identical),
            "digit": paired(outcomes["digit_kept"], outcomes["digit_read_without"], identical),
            "no_digit": paired(outcomes["no_digit_with"], outcomes["no_digit_without"], identical),
        },
        "colour_comparisons": colour_changes(with_, without, identical),
        "concept_rate_without_negative": share(outcomes["concept_without"])["share"],
        "concept_rate_with_negative": share(outcomes["concept_with"])["share"],
        "digit_kept_rate": share(outcomes["digit_kept"])["share"], "digit_rate_without_negative": 1.0,
        "no_digit_count_with_negative": 0, "mask_iou_mean": sum(iou) / n, "mask_iou_median": sorted(iou)[n // 2],
        "mask_iou_mean_concept_removed": (sum(i for i, r in zip(iou, removed) if r) / sum(removed)
                                          if any(removed) else None),
        "centroid_shift_px_median": sorted(shift)[n // 2], "centroid_shift_px_p90": sorted(shift)[9 * n // 10],
        "stroke_area_ratio_median": 1.0, "empty_mask_pairs": 0, "change_share_in_strokes": 1.0 if identical else 0.8,
        "stroke_area_share": 0.3, "mean_abs_change": 0.0 if identical else 0.05,
        **{f"{k}_colours_{side}": {c: names_[k].count(c) for c in PALETTE[k]}
           for k in PALETTE for side, names_ in (("without", without), ("with", with_))},
        "per_image": {
            **outcomes, "digit_without": digits, "digit_with": digit_with,
            "stroke_without": without["stroke"], "stroke_with": with_["stroke"],
            "background_without": without["background"], "background_with": with_["background"],
            "identical": [identical] * n, "mask_iou": iou, "centroid_shift_px": shift,
            "stroke_area_without": [150] * n, "stroke_area_with": [150] * n,
        },
    }


def study(negative_prompts: list[str], scale: float = 5.0, without: dict = WITHOUT, with_: dict = WITH) -> list[dict]:
    """The concepts of ``negative_prompts``: colours read per image from the counts ``without`` and, for each
    negative prompt, ``with_[prompt]`` (each image keeping its colour where the counts allow)."""
    base = {kind: names(counts) for kind, counts in without.items()}
    return [concept_record(p, scale, base, {kind: moved(base[kind], counts) for kind, counts in with_[p].items()})
            for p in negative_prompts]


def _shares(**flags: list[bool]) -> dict:
    return {key: share(f) for key, f in flags.items()}


def following(n: int, digits_read: int, colours_obeyed: int | None) -> dict:
    flags = {"digit_read": [i < digits_read for i in range(n)], "no_digit": [False] * n}
    if colours_obeyed is not None:
        flags["colour_obeyed"] = [i < colours_obeyed for i in range(n)]
    return {"n_samples": n, "digit_rate": digits_read / n, "no_digit_count": 0,
            **({"colour_obeyed_rate": colours_obeyed / n} if colours_obeyed is not None else {}),
            "shares": _shares(**flags), "per_image": flags}


def seed_baseline(concepts: list[dict], n: int = 200) -> dict:
    """The seed baseline of the main negative prompt, and (``by_negative_prompt``) every concept's same-seed pairs
    (its recorded mask IoU and centroid shift) against the same other-seed pairs, as the study records them."""
    same = [0.55 + 0.2 * (i % 5) / 4 for i in range(n)]
    other = [0.3 + 0.2 * (i % 3) / 2 for i in range(n)]
    shift_same, shift_other = [0.4 + 0.1 * (i % 4) for i in range(n)], [1.5 + 0.5 * (i % 3) for i in range(n)]

    def against_other_seed(iou: list[float], shift: list[float]) -> dict:
        return {"mask_iou": paired_mean_difference(iou, other, n_resamples=999, seed=7).as_dict(),
                "centroid_shift_px": paired_mean_difference(shift, shift_other, n_resamples=999, seed=7).as_dict()}

    comparisons = against_other_seed(same, shift_same)
    return {"guidance_scale": 5.0, "negative_prompt": "white", "other_image_seeds": list(range(1000, 1000 + n)),
            "n_samples": n, "shift_pairs": n, "test_seed": 7, "mask_iou_same_seed_mean": sum(same) / n,
            "mask_iou_other_seed_mean": sum(other) / n, "centroid_shift_px_same_seed_median": 0.55,
            "centroid_shift_px_other_seed_median": 2.0, "comparisons": comparisons,
            "by_negative_prompt": {c["negative_prompt"]: comparisons if c["negative_prompt"] == "white" else
                                   against_other_seed(c["per_image"]["mask_iou"], c["per_image"]["centroid_shift_px"])
                                   for c in concepts},
            "per_image": {"mask_iou_same_seed": same, "mask_iou_other_seed": other,
                          "centroid_shift_px_same_seed": shift_same, "centroid_shift_px_other_seed": shift_other}}


def across_scales(low: dict, high: dict) -> dict:
    n = min(low["n_samples"], high["n_samples"])
    lo, hi = low["per_image"], high["per_image"]
    colours = [{kind: side[f"{kind}_without"][:n] for kind in PALETTE} for side in (hi, lo)]
    return {"from_scale": low["guidance_scale"], "to_scale": high["guidance_scale"], "n_samples": n,
            "concept": low["concept"],
            "concept_without": paired(hi["concept_without"][:n], lo["concept_without"][:n], False),
            "digit_read_without": paired(hi["digit_read_without"][:n], lo["digit_read_without"][:n], False),
            "colours_without": colour_changes(*colours, False)}


def record(name: str, metrics: dict, config: dict, seed: int = 0) -> dict:
    """A record as :func:`mvadl.results.write_results` writes it (metrics also at the top level)."""
    return {"part": "guidance", "name": name, "seed": seed, "device": "cpu (2 cores, x86_64)", "wall_time_s": 600.0,
            "git_revision": "0123456789abcdef0123456789abcdef01234567", "created_utc": "2026-12-08T00:00:00+00:00",
            "config": {"seed": seed, "quick": False, **config}, "metrics": metrics, **metrics}


def metrics_metrics() -> dict:
    """The study of the reference model: 200 images at s = 5, the sweep (100 images at s = 1 and 7.5), the seed
    baseline and prompt following."""
    n = 200
    concepts = study(list(WITH))
    at_1 = {"stroke": {"red": 50, "green": 12, "blue": 12, "yellow": 13, "white": 13},
            "background": {"black": 70, "gray": 30}}
    at_7 = {"stroke": {"red": 20, "green": 2, "blue": 3, "yellow": 10, "white": 65},
            "background": {"black": 75, "gray": 25}}
    low = study(["white"], 1.0, at_1, {"white": at_1})[0]
    low = concept_record("white", 1.0, *[{k: low["per_image"][f"{k}_without"] for k in PALETTE}] * 2,
                         identical=True)
    high = study(["white"], 7.5, at_7, {"white": {"stroke": {"red": 95, "green": 2, "blue": 1, "yellow": 2,
                                                             "white": 0}, "background": at_7["background"]}})[0]
    for c in concepts:  # the figure rule of the study (vae_diffusion.guidance.evaluation.figure_images)
        c["figure_images"] = [i for i, shown in enumerate(c["per_image"]["concept_without"]) if shown][:8]
    return {"guidance_scale": 5.0, "n_samples": n, "main_concept": "white", "negative_prompt": "white",
            "image_seeds": list(range(n)), "digits": [i % 10 for i in range(n)], "concepts": concepts,
            "sweep": [low, concepts[0], high], "across_scales": across_scales(low, high),
            "seed_baseline": seed_baseline(concepts, n), "prompt_following": following(n, n, None),
            "colour_prompts": following(n, n - 1, n), "colour_obeyed_rate": 1.0, "compared_with": None,
            "classifier_sha256": "0" * 64,
            "model_training_config": training_config(), "training_colours": TRAINING_COLOURS}


def training_config() -> dict:
    return {"epochs": 20, "train_limit": None, "steps_per_epoch": 500, "batch_size": 128, "learning_rate": 0.001,
            "warmup_steps": 500, "ema_decay": 0.999, "resolution": 28, "widths": [64, 128, 256],
            "layers_per_block": 1, "attention_levels": 1, "pooled_text": True, "snr_gamma": 5.0,
            "text_hidden_size": 128, "text_layers": 2, "mention_probability": 0.5, "digit_drop_probability": 0.1,
            "caption_dropout": 0.1, "red_share": 0.5, "gray_share": 0.3, "mixed_precision": "bf16"}


def more_red_metrics(reference: dict) -> dict:
    """The study of a model trained on more red digits, compared image by image with ``reference``."""
    n = reference["n_samples"]
    without = {"stroke": {"red": 80, "green": 5, "blue": 10, "yellow": 25, "white": 80},
               "background": {"black": 143, "gray": 57}}
    with_ = {"red": {"stroke": {"red": 20, "green": 30, "blue": 40, "yellow": 10, "white": 100},
                     "background": {"black": 150, "gray": 50}},
             "gray background": WITH["gray background"]}
    concepts = study(["red", "gray background"], without=without, with_=with_)
    theirs = {c["negative_prompt"]: c for c in reference["concepts"]}
    compared = {c["concept"]: {"negative_prompt": c["negative_prompt"],
                               **{side: paired(c["per_image"][f"concept_{side}"],
                                               theirs[c["negative_prompt"]]["per_image"][f"concept_{side}"], False)
                                  for side in ("without", "with")}} for c in concepts}
    return {**reference, "main_concept": "red", "negative_prompt": "red", "concepts": concepts, "sweep": [],
            "across_scales": None, "seed_baseline": None, "colour_prompts": None, "colour_obeyed_rate": None,
            "compared_with": {"record": "results/guidance/metrics.json", "n_samples": n, "concepts": compared},
            "training_colours": {**TRAINING_COLOURS, "stroke": {"red": 0.6, "green": 0.1, "blue": 0.1,
                                                                "yellow": 0.1, "white": 0.1}}}


def precision_metrics(n: int = 200) -> dict:
    """The stored-precision check: fp16-rounded weights lose one digit of 200."""
    measures, per_image = {}, {"fp32": {}, "fp16": {}}
    for name, k32, k16 in (("digit_read", 199, 198), ("colour_obeyed", 200, 200)):
        per_image["fp16"][name], per_image["fp32"][name] = [i < k16 for i in range(n)], [i < k32 for i in range(n)]
        measures[name] = {"fp32": share(per_image["fp32"][name]), "fp16": share(per_image["fp16"][name]),
                          "fp16_vs_fp32": mcnemar_exact(per_image["fp16"][name], per_image["fp32"][name]).as_dict(),
                          "images_differing": abs(k32 - k16), "within_noise": True}
    return {"measures": measures, "chosen_dtype": "fp16", "n_samples": n, "image_seeds": list(range(n)),
            "per_image": per_image, "classifier_sha256": "0" * 64}


def progress_metrics(n: int = 200) -> dict:
    checkpoints = [{"epoch": e, "images_seen": 64_000 * e, "training_minutes": 4.5 * e, "resumes": int(e > 10),
                    "epoch_loss": 0.1 / e, "n_samples": n, "digit_rate": min(1.0, 0.1 * e), "no_digit_count": 0,
                    "shares": _shares(digit_read=[i < min(n, 20 * e) for i in range(n)], no_digit=[False] * n,
                                      colour_obeyed=[i < min(n, 15 * e) for i in range(n)]),
                    "colour_obeyed_rate": min(1.0, 0.075 * e)} for e in (1, 5, 10, 20)]
    return {"checkpoints": checkpoints, "image_seeds": list(range(n)), "run_revision": "0123456789abcdef",
            "training_config": training_config()}


def training_metrics() -> dict:
    return {"epoch_losses": [0.1 / e for e in range(1, 21)], "final_epoch_loss": 0.005,
            "parameters": {"unet": 2_000_000, "text_encoder": 300_000}, "training_time_s": 5400.0, "resumes": 1,
            "images_seen": 1_280_000, "images_per_s": 237.0}


def write_records(results: Path, change=None) -> Path:
    """Write the Q19 records into ``results/guidance/`` (``change(name, record)`` may edit each first)."""
    folder = Path(results) / "guidance"
    folder.mkdir(parents=True, exist_ok=True)
    metrics = metrics_metrics()
    study_config = {"n_samples": 200, "sweep_samples": 100, "num_inference_steps": 25, "guidance_scale": 5.0}
    records = {
        "metrics": record("metrics", metrics, study_config),
        "more_red": record("more_red", more_red_metrics(metrics), study_config),
        "stored_precision": record("stored_precision", precision_metrics(),
                                   {"samples": 200, "guidance_scale": 5.0, "num_inference_steps": 25}),
        "progress": record("progress", progress_metrics(),
                           {"samples": 200, "guidance_scale": 5.0, "num_inference_steps": 25}),
        "training": record("training", training_metrics(), training_config()),
    }
    for name, value in records.items():
        if change is not None:
            change(name, value)
        (folder / f"{name}.json").write_text(json.dumps(value), encoding="utf-8")
    return results
