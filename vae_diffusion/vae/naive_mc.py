"""Q2 made empirical: the naive Monte-Carlo estimate of log p(x) (eq. 7, z ~ p(z)) against importance sampling.

    python -m vae_diffusion.vae.naive_mc --checkpoints checkpoints/vae/naive_mc_z2.pt ...

For every trained model (one latent size each) and each of the first --num-images fixed-binarized test
images, --repeats independent streams of prior samples give the naive estimate for every L in a 1-2-5 grid
up to --max-samples; the reference is the importance-sampled log p(x) (k = --is-samples). Bias = mean over
streams minus the reference; noise = std over streams; both averaged over images. Stream r is seeded with
derive_seed(seed, "naive_mc", r), the same streams for every model. Writes results/vae/<name>.json and .png.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import ClassVar

from mvadl.results import results_dir
from mvadl.runner import REQUIRED, Context, ExperimentConfig, main, option
from vae_diffusion.vae.checkpoint import load_model
from vae_diffusion.vae.data import fixed_binarization, pixel_probabilities
from vae_diffusion.vae.likelihood import naive_against_importance_sampling, sample_count_grid
from vae_diffusion.vae.run_figures import naive_mc_figure

logger = logging.getLogger("vae.naive_mc")


@dataclass
class NaiveMcConfig(ExperimentConfig):
    """Naive Monte-Carlo log p(x) against importance sampling, per trained model (Q2)."""

    checkpoints: list[str] = option(REQUIRED, "training checkpoints (.pt), one per latent size")
    num_images: int = option(100, "first N fixed-binarized test images")
    max_samples: int = option(10_000, "largest number L of prior samples")
    repeats: int = option(10, "independent streams of prior samples per model")
    is_samples: int = option(5000, "k of the importance-sampled reference")
    chunk_size: int = option(1000, "prior samples per decoder pass")
    name: str = option("naive_mc", "results/vae/<name>.json and .png")
    data_dir: str | None = option(None, "root folder of the datasets, holding mnist/; None: $DATA_DIR, "
                                  "else ./data")

    #: --quick: the smoke-test size of scripts/vae_reproduce.sh --quick.
    QUICK: ClassVar[dict] = {"num_images": 5, "max_samples": 100, "repeats": 2, "is_samples": 50, "chunk_size": 50}

    def __post_init__(self) -> None:
        if not self.checkpoints:
            raise ValueError("--checkpoints: give at least one training checkpoint")


def run(config: NaiveMcConfig, ctx: Context) -> list[dict]:
    """Study every checkpoint, record the results and draw the figure; returns one record per model."""
    x = fixed_binarization(pixel_probabilities("test", config.data_dir, check_count=False, limit=config.num_images))
    counts = sample_count_grid(config.max_samples)
    records = []
    for path in config.checkpoints:
        model = load_model(path, ctx.device)
        streams = [ctx.torch_generator("naive_mc", r, device=ctx.device) for r in range(config.repeats)]
        record = naive_against_importance_sampling(model, x, counts, streams, is_samples=config.is_samples,
                                                   is_seed=ctx.seed("importance_sampling"),
                                                   chunk_size=config.chunk_size, device=ctx.device)
        records.append({"checkpoint": str(path), **record})
        logger.info("z=%d: IS log p(x) %.2f; naive with L=1: %.2f, L=%d: %.2f", record["z_dim"],
                    record["is_log_px_mean"], record["naive_log_px_mean"][0], counts[-1],
                    record["naive_log_px_mean"][-1])
    records.sort(key=lambda r: r["z_dim"])
    ctx.record("vae", config.name, {"models": records, "num_images": len(x)})
    naive_mc_figure(records, results_dir() / "vae" / f"{config.name}.png")
    return records


if __name__ == "__main__":
    sys.exit(main(run, NaiveMcConfig, prog="python -m vae_diffusion.vae.naive_mc", doc=__doc__))
