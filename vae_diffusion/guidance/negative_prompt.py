"""Q19: remove a concept the prompt did not ask for with a negative prompt, from the same initial noise.

    python -m vae_diffusion.guidance.negative_prompt                       # text-to-digit model, 2 CPU cores: ~5 min
    python -m vae_diffusion.guidance.negative_prompt --quick --model PATH  # smoke test
    python -m vae_diffusion.guidance.negative_prompt --model /path/to/stable-diffusion-v1-5   # any local diffusers
        # pipeline whose __call__ takes negative_prompt; default prompt 'a photograph of an astronaut riding a
        # horse', negative prompt 'desert' (Figure 2 of the assignment)

Image i of a run seeded ``--seed`` starts from the noise of ``derive_seed(seed, "image", i)`` (runs with other
seeds share no image). Every image is generated twice from that seed (hence the same z_T) and its prompt: once
with the empty negative prompt (plain classifier-free guidance) and once with ``--negative-prompt``, whose text
states take the place of the unconditional ones in ``noise_uncond + s * (noise_text - noise_uncond)``.

For the text-to-digit model, prompts name only the digit ("a seven", digits cycling over the images) and each
concept is a colour that the model adds by itself: the stroke colour white (the colour guidance turns most strokes
into; the main concept, also studied over the ``--sweep`` guidance scales) and (``--other-concepts``) the
background colour gray, a concept of another kind (30 % of the training digits), and the stroke colour red (half
of the training digits), removed by the negative prompts "white", "gray background" and "red" (a concept is the
one palette colour its negative prompt names).
Measured over ``--n-samples`` images, by reading the images back (``detect.py``), and recorded per image: the
concept shown without and with the negative prompt, whether the digit (MNIST classifier on the stroke coverage;
its sha256 is recorded) is the prompt's, images with no digit (empty stroke mask or classifier confidence below
0.5), the colours read, whether the two images are identical, the IoU of the two stroke masks and the shift of
their centroids (shape and position apart). Every share carries its Wilson interval; every change under the
negative prompt is an exact McNemar test on the actual pairs (colours read: Holm-adjusted as one family). At
s = 1 the pipeline computes no unconditional branch, so the negative prompt cannot act and the pairs are the same
image twice: the record says so (``identical_pairs``) and runs no test. Across the sweep, the lowest and highest
scale are compared on their shared images without a negative prompt (``across_scales``). The seed baseline
samples the main negative prompt from other seeds (``derive_seed(seed, "baseline image", i)``, same prompts) and
compares mask IoU and centroid shift of those pairs with the same-seed pairs' (paired sign-flip test), for the
main negative prompt and for each other one (``by_negative_prompt``), so that "the initial noise fixes the layout"
is measured against what centred MNIST-like digits share anyway. With
``--compare-with RECORD`` (this study on another model, same seeds), each concept is also tested against that
model's, image by image (``compared_with``). A separate check asks for a stroke colour ("a green seven", every
digit and colour equally often, ``--colour-samples`` images) and counts how often it is obeyed. Each concept's
figure shows the pairs of the first ``--figure-pairs`` images that show the concept without the negative prompt
(``evaluation.figure_images``; recorded as the concept's ``figure_images``). Writes
results/guidance/{metrics.json, negative_prompt.png, negative_prompt_<concept>.png, difference_map.png,
guidance_sweep.png}; for another pipeline, results/guidance/<--output-name>.{json,png}.
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from mvadl.data import DataError
from mvadl.plotting import save_figure
from mvadl.results import results_dir
from mvadl.runner import Context, main, option
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import ClassifierOptions, load_classifier
from vae_diffusion.core.pipelines import read_training_record
from vae_diffusion.guidance.captions import CaptionConfig, background_prior, caption, stroke_prior
from vae_diffusion.guidance.detect import read_digits
from vae_diffusion.guidance.evaluation import (
    BASELINE_STREAM,
    DIGIT_NEGATIVE,
    IMAGE_STREAM,
    OTHER_NEGATIVES,
    SD_NEGATIVE,
    SD_PROMPT,
    across_scales,
    colour_prompt_following,
    comparable_images,
    digit_concept,
    experiment_seeds,
    figure_images,
    generate,
    load_guided_pipeline,
    pair_metrics,
    prompt_following,
    read_images,
    seed_baseline,
    versus_reference,
)
from vae_diffusion.guidance.model import DEFAULT_PIPELINE
from vae_diffusion.guidance.pipeline import TextToDigitPipeline
from vae_diffusion.guidance.plots import plot_difference_map, plot_guidance_sweep, plot_negative_prompt_pairs

logger = logging.getLogger(__name__)


@dataclass
class NegativePromptConfig(ClassifierOptions):
    """The negative-prompt study (the reference run's settings)."""

    model: str = option(DEFAULT_PIPELINE, "local diffusers pipeline folder")
    prompt: str | None = option(None, "one prompt for every sample (None: 'a <digit>' cycling over digits for the "
                                         f"text-to-digit model, '{SD_PROMPT}' for another pipeline)")
    negative_prompt: str | None = option(None, f"None: '{DIGIT_NEGATIVE}' (text-to-digit) or '{SD_NEGATIVE}'")
    concept: str | None = option(None, "stroke or background colour counted as the concept (None: the colour "
                                       "the negative prompt names)")
    other_concepts: list[str] = option(list(OTHER_NEGATIVES), "negative prompts of further concepts, each counted as "
                                                          "the colour it names")
    colour_samples: int = option(200, "seeds of the prompts that name a stroke colour ('a green seven'; 0: skip)")
    guidance_scale: float = option(5.0, "classifier-free guidance scale s")
    sweep: list[float] = option([1.0, 2.0, 3.0, 5.0, 7.5], "guidance scales of the sweep (text-to-digit model; "
                                                           "no values: skip)")
    n_samples: int = option(200, "seeds for the main metrics")
    sweep_samples: int = option(100, "seeds per sweep point (the point at --guidance-scale reuses the main run)")
    num_inference_steps: int = option(25, "sampling steps")
    figure_pairs: int = option(8, "image pairs in each figure: the first images that show its concept without "
                                  "the negative prompt")
    seed_baseline: bool = option(True, "also sample the main negative prompt from other seeds (same prompts) and "
                                       "compare the pairs' mask IoU and centroid shift with the same-seed pairs'")
    compare_with: str | None = option(None, "record of this study on another model with the same seeds (e.g. "
                                            "results/guidance/metrics.json): each concept of this model is tested "
                                            "against that model's, image by image")
    batch_size: int = option(100, "images generated at once")
    output_name: str | None = option(None, "file stem under results/guidance, also the prefix of its figures "
                                           "(None: metrics for the text-to-digit model, "
                                           "stable_diffusion_negative_prompt otherwise)")
    QUICK: ClassVar[dict] = {"n_samples": 8, "sweep_samples": 4, "num_inference_steps": 3, "figure_pairs": 4,
                             "colour_samples": 10,
                             "sweep": [1.0, 3.0]}


def run(config: NegativePromptConfig, ctx: Context) -> Path:
    pipe = load_guided_pipeline(config.model, ctx.device)
    study = text_to_digit_study if isinstance(pipe, TextToDigitPipeline) else stable_diffusion_study
    return study(pipe, config, ctx)


def stable_diffusion_study(pipe, config: NegativePromptConfig, ctx: Context) -> Path:
    """Figure and pixel statistics for a pipeline without digit detectors (e.g. Stable Diffusion)."""
    prompt = config.prompt or SD_PROMPT
    negative = config.negative_prompt or SD_NEGATIVE
    n = max(1, min(config.figure_pairs, config.n_samples))
    seeds = experiment_seeds(config.seed, n)
    prompts = [prompt] * n
    kwargs = dict(seeds=seeds, guidance_scale=config.guidance_scale, num_inference_steps=config.num_inference_steps,
                  batch_size=config.batch_size)
    without = generate(pipe, prompts, None, desc="no negative prompt", **kwargs)
    with_negative = generate(pipe, prompts, negative, desc=f"negative '{negative}'", **kwargs)
    change = np.abs(with_negative - without).mean(-1)
    name = config.output_name or "stable_diffusion_negative_prompt"
    save_figure(plot_negative_prompt_pairs(without, with_negative, prompts, list(range(n)), negative_prompt=negative),
                results_dir() / "guidance" / f"{name}.png")
    return ctx.record("guidance", name, {"n_samples": n, "image_seeds": seeds,
                                         "mean_abs_change": float(change.mean()),
                                         "changed_pixel_share": float((change > 0.1).mean()),
                                         "image_size": list(without.shape[1:3])},
                      config={**config.as_dict(), "pipeline": type(pipe).__name__, "prompt": prompt,
                              "negative_prompt": negative})


def text_to_digit_study(pipe, config: NegativePromptConfig, ctx: Context) -> Path:
    """Concept shares, digit kept, stroke-mask IoU, centroid shift and where pixels change, for each concept at
    --guidance-scale (the main one also over the sweep), each with per-image outcomes and paired tests; the seed
    baseline of the position question; how well the model follows its prompts."""
    negative = config.negative_prompt or DIGIT_NEGATIVE
    studied = [(digit_concept(config.model, negative, config.concept), negative)]
    studied += [(digit_concept(config.model, c, None), c) for c in config.other_concepts]
    classifier = load_classifier(config.classifier, ctx.device)
    image_seeds = experiment_seeds(config.seed, config.n_samples)
    reference = None
    if config.compare_with:  # refused before any sampling
        reference = read_reference(config.compare_with)
        comparable_images(reference, image_seeds, config.compare_with)

    def sample(prompts: list[str], scale: float, negative_prompt: str | None, desc: str,
               stream: str = IMAGE_STREAM) -> np.ndarray:
        return generate(pipe, prompts, negative_prompt, seeds=experiment_seeds(config.seed, len(prompts), stream),
                        guidance_scale=scale, num_inference_steps=config.num_inference_steps,
                        batch_size=config.batch_size, desc=desc)

    def study(n: int, scale: float, desc: str, concepts: list[tuple[str, str]]):
        digits = np.arange(n) % 10
        prompts = [config.prompt or caption(int(d)) for d in digits]
        without = sample(prompts, scale, None, f"{desc}: no negative")
        read_without = read_images(without, classifier)
        entries = []
        for concept, negative_prompt in concepts:
            with_negative = sample(prompts, scale, negative_prompt, f"{desc}: negative '{negative_prompt}'")
            metrics, maps = pair_metrics(read_without, read_images(with_negative, classifier),
                                         (without, with_negative), digits, concept)
            log_concept(scale, n, negative_prompt, metrics)
            entries.append(({"guidance_scale": scale, "negative_prompt": negative_prompt, **metrics}, maps,
                            with_negative))
        return entries, prompt_following(*read_without, digits), (without, read_without, prompts)

    entries, following, (without, read_without, prompts) = study(config.n_samples, config.guidance_scale, "main",
                                                                 studied)
    main_metrics = entries[0][0]
    baseline = None
    if config.seed_baseline:
        other = sample(prompts, config.guidance_scale, negative, f"other seeds: negative '{negative}'",
                       stream=BASELINE_STREAM)
        same_seed = {metrics["negative_prompt"]: read_digits(with_negative).masks
                     for metrics, _, with_negative in entries}
        baseline = {"guidance_scale": config.guidance_scale, "negative_prompt": negative,
                    "other_image_seeds": experiment_seeds(config.seed, config.n_samples, BASELINE_STREAM),
                    **seed_baseline(read_without[0].masks, same_seed[negative], read_digits(other).masks,
                                    config.seed, same_seed)}
        iou = baseline["comparisons"]["mask_iou"]
        logger.info("seed baseline: mask IoU %.3f same seed vs %.3f other seed (%+.3f [%+.3f, %+.3f], p = %.3g)",
                    iou["a"], iou["b"], iou["difference"], iou["low"], iou["high"], iou["p_value"])
    sweep = [main_metrics if s == config.guidance_scale else study(config.sweep_samples, s, f"scale {s:g}",
                                                                   studied[:1])[0][0][0] for s in config.sweep]
    if sweep and config.guidance_scale not in config.sweep:
        sweep = sorted(sweep + [main_metrics], key=lambda record: record["guidance_scale"])
    scales = across_scales(sweep[0], sweep[-1]) if len(sweep) > 1 else None
    colour_check = None
    if config.colour_samples:
        colour_check = colour_prompt_following(pipe, classifier, experiment_seeds(config.seed, config.colour_samples),
                                               config.guidance_scale, config.num_inference_steps, config.batch_size)
        logger.info("prompts naming a colour: colour obeyed %.1f%%, digit read %.1f%%",
                    100 * colour_check["colour_obeyed_rate"], 100 * colour_check["digit_rate"])
    concepts = [entry[0] for entry in entries]
    versus = None if reference is None else versus_reference(concepts, image_seeds, reference, config.compare_with)

    prefix = f"{config.output_name}_" if config.output_name else ""  # another model's study keeps its own figures
    out = results_dir() / "guidance"
    for index, (metrics, maps, with_negative) in enumerate(entries):
        shown = metrics["figure_images"] = figure_images(metrics["per_image"]["concept_without"],
                                                         config.figure_pairs)
        notes = [pair_note(maps, i) for i in shown]
        name = "negative_prompt" + ("" if index == 0 else f"_{metrics['concept']}")
        save_figure(plot_negative_prompt_pairs(without[shown], with_negative[shown], [prompts[i] for i in shown],
                                               shown, notes, negative_prompt=metrics["negative_prompt"]),
                    out / f"{prefix}{name}.png")
    maps = entries[0][1]
    save_figure(plot_difference_map(maps["change"], maps["strokes_without"], maps["strokes_with"]),
                out / f"{prefix}difference_map.png")
    if sweep:
        save_figure(plot_guidance_sweep(sweep, main_metrics["concept"]), out / f"{prefix}guidance_sweep.png")
    training_config = (read_training_record(config.model) or {}).get("config")
    return ctx.record("guidance", config.output_name or "metrics",
                      {"guidance_scale": config.guidance_scale, "n_samples": config.n_samples,
                       "main_concept": main_metrics["concept"], "negative_prompt": negative,
                       "image_seeds": image_seeds, "digits": (np.arange(config.n_samples) % 10).tolist(),
                       "concepts": concepts, "sweep": sweep, "across_scales": scales, "seed_baseline": baseline,
                       "prompt_following": following, "colour_prompts": colour_check,
                       "colour_obeyed_rate": None if colour_check is None else colour_check["colour_obeyed_rate"],
                       "compared_with": versus,
                       "classifier_sha256": sha256_file(config.classifier),
                       "model_training_config": training_config,
                       "training_colours": None if training_config is None else training_colours(training_config)},
                      config={**config.as_dict(), "negative_prompt": negative, "concept": studied[0][0]})


def training_colours(training_config: dict) -> dict:
    """Each stroke and background colour's share of the model's training data (from its training config), and
    the probability that a caption names each attribute."""
    defaults = CaptionConfig()
    return {"stroke": stroke_prior(training_config.get("red_share", defaults.red_share)),
            "background": background_prior(training_config.get("gray_share", defaults.gray_share)),
            "mention_probability": training_config.get("mention_probability", defaults.mention_probability)}


def log_concept(scale: float, n: int, negative_prompt: str, metrics: dict) -> None:
    change = metrics["comparisons"]["concept"]
    verdict = "identical images" if change is None else \
        f"{100 * change['difference']:+.1f} pp [{100 * change['low']:+.1f}, {100 * change['high']:+.1f}], " \
        f"p = {change['p_value']:.3g}"
    logger.info("scale %.1f (%d images), negative '%s': '%s' %.1f%% -> %.1f%% (%s), digit kept %.1f%%, mask IoU "
                "%.3f", scale, n, negative_prompt, metrics["concept"], 100 * metrics["concept_rate_without_negative"],
                100 * metrics["concept_rate_with_negative"], verdict, 100 * metrics["digit_kept_rate"],
                metrics["mask_iou_mean"])


def pair_note(maps: dict, i: int) -> str:
    """The text under pair ``i`` of a figure: the concept's colour read without -> with, mask IoU, centroid
    shift in pixels."""
    shift = maps["centroid_shift"][i]
    return (f"{maps['names_without'][i]}\n\N{RIGHTWARDS ARROW} {maps['names_with'][i]}\nIoU {maps['iou'][i]:.2f}\n"
            + ("no strokes" if not np.isfinite(shift) else f"{shift:.1f} px"))


def read_reference(path: str) -> dict:
    """The metrics of another record of this study (``--compare-with``); a missing or unreadable file is a
    DataError."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))["metrics"]
    except FileNotFoundError:
        raise DataError(f"{path}: missing (run the reference model's study first)") from None
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: not a record of this study ({error})") from None


if __name__ == "__main__":
    sys.exit(main(run, NegativePromptConfig, prog="python -m vae_diffusion.guidance.negative_prompt", doc=__doc__))
