"""Q19: remove a concept the prompt did not ask for with a negative prompt, from the same initial noise.

    python -m vae_diffusion.guidance.negative_prompt                       # our text-to-digit model, 2 CPU cores: ~15 min
    python -m vae_diffusion.guidance.negative_prompt --quick --model PATH  # smoke test
    python -m vae_diffusion.guidance.negative_prompt --model /path/to/stable-diffusion-v1-5   # any local diffusers
        # pipeline whose __call__ takes negative_prompt; default prompt 'a photograph of an astronaut riding a
        # horse', negative prompt 'desert' (Figure 2 of the assignment)

Every sample is generated twice from the same seed (hence the same z_T) and prompt: once with the empty
negative prompt (plain classifier-free guidance) and once with ``--negative-prompt``, whose text states take the
place of the unconditional ones in ``noise_uncond + s * (noise_text - noise_uncond)``.

For the text-to-digit model, prompts name only the digit ("a seven", digits cycling over the seeds) and the
concept is a stroke colour that the model adds by itself (red: half of the training digits are red). Measured
over ``--n-samples`` seeds, by reading the images back (``detect.py``): the concept's rate without and with the
negative prompt, the share of images whose digit (MNIST classifier on the stroke coverage) is still the
prompt's, the IoU of the two stroke masks (is the object in the same place?) and where the pixels change. The
same is repeated for each ``--sweep`` guidance scale. Writes results/guidance/{metrics.json, negative_prompt.png,
difference_map.png, guidance_sweep.png}; for another pipeline, results/guidance/<--output-name>.{json,png}.
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from mvadl.cli import add_seed_argument, resolve_device, run_cli, seed_everything, setup_logging
from mvadl.plotting import save_figure
from mvadl.results import describe_device, results_dir, write_results
from vae_diffusion.diffusion.classifier import DEFAULT_WEIGHTS, load_classifier
from vae_diffusion.guidance.captions import STROKE_COLOURS, caption
from vae_diffusion.guidance.detect import centroid_shift, classify_digits, mask_iou, read_digits
from vae_diffusion.guidance.pipeline import TextToDigitPipeline
from vae_diffusion.guidance.plots import plot_difference_map, plot_guidance_sweep, plot_negative_prompt_pairs
from vae_diffusion.guidance.train import DEFAULT_OUTPUT

logger = logging.getLogger(__name__)
DEFAULT_MODEL = f"{DEFAULT_OUTPUT}/pipeline"
SD_PROMPT, SD_NEGATIVE = "a photograph of an astronaut riding a horse", "desert"


def load_guided_pipeline(path: str | Path, device: torch.device):
    """A local diffusers pipeline (no download): ours by its class name, any other through
    ``DiffusionPipeline.from_pretrained``; it must accept ``negative_prompt``."""
    path = Path(path)
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise FileNotFoundError(f"{path} is not a saved diffusers pipeline (no model_index.json); train one with "
                                f"python -m vae_diffusion.guidance.train, or point --model at a local Stable "
                                f"Diffusion folder")
    class_name = json.loads(index_file.read_text()).get("_class_name")
    if class_name == TextToDigitPipeline.__name__:
        pipe = TextToDigitPipeline.from_pretrained(str(path))
    else:
        from diffusers import DiffusionPipeline

        pipe = DiffusionPipeline.from_pretrained(str(path), local_files_only=True)
    if "negative_prompt" not in inspect.signature(pipe.__call__).parameters:
        raise ValueError(f"{path}: {type(pipe).__name__} does not take a negative_prompt")
    if hasattr(pipe, "set_progress_bar_config"):
        pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


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
            "iou": iou, "centroid_shift": shift, "stroke_names_without": a.stroke_names, "stroke_names_with": b.stroke_names}
    return metrics, maps


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_seed_argument(p)
    p.add_argument("--model", default=DEFAULT_MODEL, help="local diffusers pipeline folder")
    p.add_argument("--prompt", default=None,
                   help="one prompt for every sample (default: 'a <digit>' cycling over digits for the text-to-digit "
                        f"model, '{SD_PROMPT}' for another pipeline)")
    p.add_argument("--negative-prompt", default=None, help=f"default: 'red' (text-to-digit) or '{SD_NEGATIVE}'")
    p.add_argument("--concept", default=None, help="stroke colour counted as the concept (default: the negative "
                                                   "prompt)")
    p.add_argument("--guidance-scale", type=float, default=5.0)
    p.add_argument("--sweep", type=float, nargs="*", default=[1.0, 2.0, 3.0, 5.0, 7.5],
                   help="guidance scales of the sweep (text-to-digit model; none: skip)")
    p.add_argument("--n-samples", type=int, default=200, help="seeds for the main metrics")
    p.add_argument("--sweep-samples", type=int, default=100,
                   help="seeds per sweep point (the point at --guidance-scale reuses the main --n-samples run)")
    p.add_argument("--num-inference-steps", type=int, default=25)
    p.add_argument("--figure-pairs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--classifier", default=str(DEFAULT_WEIGHTS), help="MNIST classifier weights (digit check)")
    p.add_argument("--output-name", default=None,
                   help="file stem under results/guidance (default: metrics for the text-to-digit model, "
                        "stable_diffusion_negative_prompt otherwise)")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="smoke test: 8 seeds, 3 steps, a 2-point sweep")
    return p.parse_args(argv)


def main(args: argparse.Namespace) -> Path:
    setup_logging()
    seed_everything(args.seed)
    if args.quick:
        args.n_samples, args.sweep_samples, args.num_inference_steps = 8, 4, 3
        args.figure_pairs, args.sweep = 4, [1.0, 3.0] if args.sweep else []
    started = time.perf_counter()
    device = resolve_device(args.device)
    pipe = load_guided_pipeline(args.model, device)
    ours = isinstance(pipe, TextToDigitPipeline)
    run = stable_diffusion_run if not ours else text_to_digit_run
    return run(pipe, args, device, started)


def stable_diffusion_run(pipe, args, device, started) -> Path:
    """Figure and pixel statistics for a pipeline without digit detectors (e.g. Stable Diffusion)."""
    prompt = args.prompt or SD_PROMPT
    negative = args.negative_prompt or SD_NEGATIVE
    n = max(1, min(args.figure_pairs, args.n_samples))
    seeds = [args.seed + i for i in range(n)]
    prompts = [prompt] * n
    kwargs = dict(seeds=seeds, guidance_scale=args.guidance_scale, num_inference_steps=args.num_inference_steps,
                  batch_size=args.batch_size)
    without = generate(pipe, prompts, None, desc="no negative prompt", **kwargs)
    with_negative = generate(pipe, prompts, negative, desc=f"negative '{negative}'", **kwargs)
    change = np.abs(with_negative - without).mean(-1)
    name = args.output_name or "stable_diffusion_negative_prompt"
    save_figure(plot_negative_prompt_pairs(without, with_negative, prompts, negative, seeds, args.guidance_scale),
                results_dir() / "guidance" / f"{name}{'_quick' if args.quick else ''}.png")
    return write_results("guidance", name + ("_quick" if args.quick else ""),
                         config={**vars(args), "pipeline": type(pipe).__name__, "prompt": prompt,
                                 "negative_prompt": negative},
                         metrics={"n_samples": n, "mean_abs_change": float(change.mean()),
                                  "changed_pixel_share": float((change > 0.1).mean()),
                                  "image_size": list(without.shape[1:3])},
                         seed=args.seed, wall_time_s=time.perf_counter() - started, device=describe_device(device))


def text_to_digit_run(pipe, args, device, started) -> Path:
    negative = args.negative_prompt or "red"
    concept = args.concept or negative
    if concept not in STROKE_COLOURS:
        raise ValueError(f"--concept must be a stroke colour the detector knows ({', '.join(STROKE_COLOURS)}), "
                         f"got {concept!r}")
    classifier = load_classifier(args.classifier, device)

    def evaluate(n: int, scale: float, desc: str):
        seeds = [args.seed + i for i in range(n)]
        digits = np.arange(n) % 10
        prompts = [args.prompt or caption(int(d)) for d in digits]
        kwargs = dict(seeds=seeds, guidance_scale=scale, num_inference_steps=args.num_inference_steps,
                      batch_size=args.batch_size)
        without = generate(pipe, prompts, None, desc=f"{desc}: no negative", **kwargs)
        with_negative = generate(pipe, prompts, negative, desc=f"{desc}: negative '{negative}'", **kwargs)
        metrics, maps = pair_metrics(without, with_negative, digits, concept, classifier)
        logger.info("scale %.1f (%d seeds): '%s' %.1f%% -> %.1f%%, digit kept %.1f%%, mask IoU %.3f", scale, n,
                    concept, 100 * metrics["concept_rate_without_negative"],
                    100 * metrics["concept_rate_with_negative"], 100 * metrics["digit_kept_rate"],
                    metrics["mask_iou_mean"])
        return {"guidance_scale": scale, **metrics}, maps, (without, with_negative, prompts, seeds)

    main_metrics, maps, (without, with_negative, prompts, seeds) = evaluate(args.n_samples, args.guidance_scale,
                                                                           "main")
    sweep = [main_metrics if s == args.guidance_scale else evaluate(args.sweep_samples, s, f"scale {s:g}")[0]
             for s in args.sweep]
    if sweep and args.guidance_scale not in args.sweep:
        sweep = sorted(sweep + [main_metrics], key=lambda record: record["guidance_scale"])
    suffix = "_quick" if args.quick else ""
    out = results_dir() / "guidance"
    # figure: the first pairs whose top image shows the concept, then others, up to --figure-pairs
    order = sorted(range(len(seeds)), key=lambda i: maps["stroke_names_without"][i] != concept)[:args.figure_pairs]
    order.sort()
    notes = [f"{maps['stroke_names_without'][i]} -> {maps['stroke_names_with'][i]}, IoU {maps['iou'][i]:.2f}, "
             f"shift {maps['centroid_shift'][i]:.1f} px" for i in order]
    save_figure(plot_negative_prompt_pairs(without[order], with_negative[order], [prompts[i] for i in order],
                                           negative, [seeds[i] for i in order], args.guidance_scale, notes),
                out / f"negative_prompt{suffix}.png")
    save_figure(plot_difference_map(maps["change"], maps["strokes_without"], maps["strokes_with"]),
                out / f"difference_map{suffix}.png")
    if sweep:
        save_figure(plot_guidance_sweep(sweep, concept), out / f"guidance_sweep{suffix}.png")
    name = (args.output_name or "metrics") + suffix
    return write_results("guidance", name, config={**vars(args), "negative_prompt": negative, "concept": concept},
                         metrics={**main_metrics, "negative_prompt": negative, "concept": concept, "sweep": sweep},
                         seed=args.seed, wall_time_s=time.perf_counter() - started, device=describe_device(device))


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
