"""Q19: remove a concept the prompt did not ask for with a negative prompt, from the same initial noise.

    python -m vae_diffusion.guidance.negative_prompt                       # text-to-digit model, 2 CPU cores: ~5 min
    python -m vae_diffusion.guidance.negative_prompt --quick --model PATH  # smoke test
    python -m vae_diffusion.guidance.negative_prompt --model /path/to/stable-diffusion-v1-5   # any local diffusers
        # pipeline whose __call__ takes negative_prompt; default prompt 'a photograph of an astronaut riding a
        # horse', negative prompt 'desert' (Figure 2 of the assignment)

Every sample is generated twice from the same seed (hence the same z_T) and prompt: once with the empty
negative prompt (plain classifier-free guidance) and once with ``--negative-prompt``, whose text states take the
place of the unconditional ones in ``noise_uncond + s * (noise_text - noise_uncond)``.

For the text-to-digit model, prompts name only the digit ("a seven", digits cycling over the seeds) and each
concept is a colour that the model adds by itself: the stroke colour white (the colour guidance turns most strokes
into; the main concept, also studied over the ``--sweep`` guidance scales) and (``--other-concepts``) the
background colour gray, a concept of another kind (30 % of the training digits), and the stroke colour red (half
of the training digits), removed by the negative prompts "white", "gray background" and "red" (a concept is the
one palette colour its negative prompt names).
Measured over ``--n-samples`` seeds, by reading the images back (``detect.py``): the concept's rate without and
with the negative prompt, the share of images whose digit (MNIST classifier on the stroke coverage; its sha256
is recorded) is still the prompt's, the images with no digit (empty stroke mask or classifier confidence below
0.5), the IoU of the two stroke masks and the shift of their centroids (shape and position apart), the other
colours' counts, and where the pixels change. A separate check asks for a stroke colour ("a green seven", every
digit and colour equally often, ``--colour-samples`` seeds) and counts how often it is obeyed. Figures show the
pairs of the first ``--figure-pairs`` seeds. Writes results/guidance/{metrics.json, negative_prompt.png,
negative_prompt_<concept>.png, difference_map.png, guidance_sweep.png}; for another pipeline,
results/guidance/<--output-name>.{json,png}.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from mvadl.plotting import save_figure
from mvadl.results import results_dir
from mvadl.runner import Context, main, option
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import ClassifierOptions, load_classifier
from vae_diffusion.core.pipelines import read_training_record
from vae_diffusion.guidance.captions import caption
from vae_diffusion.guidance.evaluation import (
    DIGIT_NEGATIVE,
    OTHER_NEGATIVES,
    SD_NEGATIVE,
    SD_PROMPT,
    colour_prompt_following,
    digit_concept,
    experiment_seeds,
    generate,
    load_guided_pipeline,
    pair_metrics,
    prompt_following,
    read_images,
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
    figure_pairs: int = option(8, "image pairs in each figure: those of the first seeds")
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
    save_figure(plot_negative_prompt_pairs(without, with_negative, prompts, negative, list(range(n)),
                                           config.guidance_scale),
                results_dir() / "guidance" / f"{name}.png")
    return ctx.record("guidance", name, {"n_samples": n, "image_seeds": seeds,
                                         "mean_abs_change": float(change.mean()),
                                         "changed_pixel_share": float((change > 0.1).mean()),
                                         "image_size": list(without.shape[1:3])},
                      config={**config.as_dict(), "pipeline": type(pipe).__name__, "prompt": prompt,
                              "negative_prompt": negative})


def text_to_digit_study(pipe, config: NegativePromptConfig, ctx: Context) -> Path:
    """Concept rates, digit kept, stroke-mask IoU, centroid shift and where pixels change, for each concept at
    --guidance-scale (the main one also over the sweep), and how well the model follows its prompts."""
    negative = config.negative_prompt or DIGIT_NEGATIVE
    studied = [(digit_concept(config.model, negative, config.concept), negative)]
    studied += [(digit_concept(config.model, c, None), c) for c in config.other_concepts]
    classifier = load_classifier(config.classifier, ctx.device)

    def sample(prompts: list[str], scale: float, negative_prompt: str | None, desc: str) -> np.ndarray:
        return generate(pipe, prompts, negative_prompt, seeds=experiment_seeds(config.seed, len(prompts)),
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
            logger.info("scale %.1f (%d seeds), negative '%s': '%s' %.1f%% -> %.1f%%, digit kept %.1f%%, mask IoU "
                        "%.3f", scale, n, negative_prompt, concept, 100 * metrics["concept_rate_without_negative"],
                        100 * metrics["concept_rate_with_negative"], 100 * metrics["digit_kept_rate"],
                        metrics["mask_iou_mean"])
            entries.append(({"guidance_scale": scale, "negative_prompt": negative_prompt, **metrics}, maps,
                            with_negative))
        return entries, prompt_following(*read_without, digits), (without, prompts)

    entries, following, (without, prompts) = study(config.n_samples, config.guidance_scale, "main", studied)
    main_metrics = entries[0][0]
    sweep = [main_metrics if s == config.guidance_scale else study(config.sweep_samples, s, f"scale {s:g}",
                                                                   studied[:1])[0][0][0] for s in config.sweep]
    if sweep and config.guidance_scale not in config.sweep:
        sweep = sorted(sweep + [main_metrics], key=lambda record: record["guidance_scale"])
    colour_check = None
    if config.colour_samples:
        colour_check = colour_prompt_following(pipe, classifier, experiment_seeds(config.seed, config.colour_samples),
                                               config.guidance_scale, config.num_inference_steps, config.batch_size)
        logger.info("prompts naming a colour: colour obeyed %.1f%%, digit read %.1f%%",
                    100 * colour_check["colour_obeyed_rate"], 100 * colour_check["digit_rate"])

    prefix = f"{config.output_name}_" if config.output_name else ""  # another model's study keeps its own figures
    out = results_dir() / "guidance"
    shown = list(range(min(config.figure_pairs, config.n_samples)))  # the rule: the first seeds, not picked
    for index, (metrics, maps, with_negative) in enumerate(entries):
        notes = [f"{maps['names_without'][i]} -> {maps['names_with'][i]}\nIoU {maps['iou'][i]:.2f}\n"
                 f"shift {maps['centroid_shift'][i]:.1f} px" for i in shown]
        name = "negative_prompt" + ("" if index == 0 else f"_{metrics['concept']}")
        save_figure(plot_negative_prompt_pairs(without[shown], with_negative[shown], [prompts[i] for i in shown],
                                               metrics["negative_prompt"], shown, config.guidance_scale, notes),
                    out / f"{prefix}{name}.png")
    maps = entries[0][1]
    save_figure(plot_difference_map(maps["change"], maps["strokes_without"], maps["strokes_with"]),
                out / f"{prefix}difference_map.png")
    if sweep:
        save_figure(plot_guidance_sweep(sweep, main_metrics["concept"]), out / f"{prefix}guidance_sweep.png")
    return ctx.record("guidance", config.output_name or "metrics",
                      {**main_metrics, "sweep": sweep, "no_digit_count": following["no_digit_count"],
                       "colour_obeyed_rate": None if colour_check is None else colour_check["colour_obeyed_rate"],
                       "colour_prompts": colour_check, "concepts": [entry[0] for entry in entries],
                       "figure_images": shown, "image_seeds": experiment_seeds(config.seed, config.n_samples),
                       "classifier_sha256": sha256_file(config.classifier),
                       "model_training_config": (read_training_record(config.model) or {}).get("config")},
                      config={**config.as_dict(), "negative_prompt": negative, "concept": studied[0][0]})


if __name__ == "__main__":
    sys.exit(main(run, NegativePromptConfig, prog="python -m vae_diffusion.guidance.negative_prompt", doc=__doc__))
