"""Train the text-to-digit model on captioned coloured MNIST and save it as a ``TextToDigitPipeline``.

    python -m vae_diffusion.guidance.train                                   # 2 CPU cores: ~85 min (0.5 s/step)
    python -m vae_diffusion.guidance.train --quick --output-dir /tmp/t2d     # CPU: < 1 min

UNet and text encoder are trained jointly with the DDPM loss of the diffusion part,
``|| eps - eps_theta(sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps, t, text_encoder(caption)) ||^2``
(``diffusion/losses.py``), through the shared loop ``core/fit.py`` (accelerate, EMA, exact resume, TensorBoard).
Captions leave attributes out at random and are dropped entirely with probability ``--caption-dropout``, which
trains the unconditional model that classifier-free guidance needs. An "epoch" is ``--steps-per-epoch`` optimizer
steps over a reshuffled dataset, so a CPU run checkpoints (and can resume) every few minutes.
Writes OUTPUT_DIR/pipeline (with training_record.json) and results/guidance/training.json (``--record-name``), one
record for the whole run however often it was resumed (``--resume latest``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from mvadl.runner import Context, main
from vae_diffusion.guidance.training import TrainConfig, train


def run(config: TrainConfig, ctx: Context) -> Path:
    trained = train(config, ctx.device, ctx.revision)
    ctx.record("guidance", config.record_name, trained.metrics,
               config=trained.config, wall_time_s=trained.metrics["training_time_s"])
    return trained.pipeline_dir


if __name__ == "__main__":
    sys.exit(main(run, TrainConfig, prog="python -m vae_diffusion.guidance.train", doc=__doc__))
