"""Q2 made empirical: the naive Monte-Carlo estimate of log p(x) (eq. 7, z ~ p(z)) against importance sampling.

    python -m vae_diffusion.vae.naive_mc --checkpoints checkpoints/vae/naive_mc_z2.pt ...

For every trained model (one latent size each) and each of the first ``--num-images`` fixed-binarized
test images, ``--repeats`` independent streams of prior samples give the naive estimate for every L in a
1-2-5 grid up to ``--max-samples``; the reference is the importance-sampled log p(x) (k = ``--is-samples``).
Bias = mean over streams minus the reference; noise = std over streams; both averaged over images.
Writes ``results/vae/<name>.json`` and ``results/vae/<name>.png``.
"""
from __future__ import annotations

import argparse
import sys
import logging
import time
from pathlib import Path

import torch

from mvadl.cli import add_seed_argument, resolve_device, run_cli, seed_everything
from mvadl.data import add_data_dir_argument
from mvadl.plotting import save_figure
from mvadl.results import describe_device, results_dir, write_results
from vae_diffusion.vae import plots
from vae_diffusion.vae.data import TEST_BINARIZATION_SEED, fixed_binarization, pixel_probabilities
from vae_diffusion.vae.likelihood import importance_sampled_log_px, naive_monte_carlo_log_px
from vae_diffusion.vae.model import VAE
from vae_diffusion.vae.train import load_checkpoint

logger = logging.getLogger("vae.naive_mc")


def sample_count_grid(max_samples: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... up to and including ``max_samples``."""
    counts, decade = [], 1
    while decade <= max_samples:
        counts += [m * decade for m in (1, 2, 5) if m * decade <= max_samples]
        decade *= 10
    return counts if counts[-1] == max_samples else counts + [max_samples]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vae_diffusion.vae.naive_mc", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", required=True, help="training checkpoints (.pt), one per latent size")
    p.add_argument("--num-images", type=int, default=100, help="first N fixed-binarized test images")
    p.add_argument("--max-samples", type=int, default=10_000, help="largest number L of prior samples")
    p.add_argument("--repeats", type=int, default=10, help="independent streams of prior samples per model")
    p.add_argument("--is-samples", type=int, default=5000, help="k of the importance-sampled reference")
    p.add_argument("--chunk-size", type=int, default=1000, help="prior samples per decoder pass")
    p.add_argument("--name", default="naive_mc", help="results/vae/<name>.json and .png")
    p.add_argument("--device", default="auto")
    add_seed_argument(p)
    add_data_dir_argument(p)
    return p.parse_args(argv)


def load_model(path: Path, device: torch.device) -> VAE:
    state = load_checkpoint(Path(path))
    model = VAE.from_config(state["model_config"]).to(device)
    model.load_state_dict(state["model"])
    return model.eval()


def study_model(model: VAE, x: torch.Tensor, args, device: torch.device) -> dict:
    counts = sample_count_grid(args.max_samples)
    reference = importance_sampled_log_px(model, x, args.is_samples, device=device).double()  # [N]
    estimates = torch.stack([
        naive_monte_carlo_log_px(model, x, counts, chunk_size=args.chunk_size, device=device,
                                 generator=torch.Generator(device=device).manual_seed(args.seed * 1000 + r))
        for r in range(args.repeats)])  # [R, C, N]
    error = estimates - reference
    return {"z_dim": model.z_dim, "sample_counts": counts,
            "is_log_px_mean": reference.mean().item(),
            "naive_log_px_mean": estimates.mean(dim=(0, 2)).tolist(),
            "bias_mean": error.mean(dim=(0, 2)).tolist(),
            "noise_std": estimates.std(dim=0).mean(dim=1).tolist(),
            "rmse": error.pow(2).mean(dim=(0, 2)).sqrt().tolist()}


def main(args: argparse.Namespace) -> list[dict]:
    device = resolve_device(args.device)
    seed_everything(args.seed)
    t0 = time.perf_counter()
    probs = pixel_probabilities("test", args.data_dir, check_count=False, limit=args.num_images)
    x = fixed_binarization(probs, TEST_BINARIZATION_SEED)
    records = []
    for path in args.checkpoints:
        model = load_model(path, device)
        records.append({"checkpoint": str(path), **study_model(model, x, args, device)})
        r = records[-1]
        logger.info("z=%d: IS log p(x) %.2f; naive with L=1: %.2f, L=%d: %.2f", r["z_dim"], r["is_log_px_mean"],
                    r["naive_log_px_mean"][0], r["sample_counts"][-1], r["naive_log_px_mean"][-1])
    records.sort(key=lambda r: r["z_dim"])
    write_results("vae", args.name, config=vars(args), metrics={"models": records, "num_images": len(x)},
                  seed=args.seed, wall_time_s=time.perf_counter() - t0, device=describe_device(device))
    fig = plots.naive_mc_figure(records, f"Naive Monte-Carlo log p(x) with L prior samples (eq. 7) vs "
                                         f"importance sampling (k={args.is_samples}), {len(x)} test images, "
                                         f"{args.repeats} repeats")
    save_figure(fig, results_dir() / "vae" / f"{args.name}.png")
    return records


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
