"""Train an unconditional DDPM on MNIST and save it as a diffusers ``DDPMPipeline`` (EMA weights).

    python -m vae_diffusion.diffusion.train --output-dir checkpoints/ddpm_mnist            # GPU: ~5 min
    python -m vae_diffusion.diffusion.train --quick --output-dir /tmp/ddpm_quick          # CPU: < 1 min

The loss is the simplified DDPM objective (Ho et al. 2020, and Q15/Q17 of the report):
``|| eps - eps_theta(sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps, t) ||^2`` with t uniform and z_t from eq. 26
(``diffusion/losses.py``), minimised by the shared loop ``core/fit.py`` (accelerate, EMA, exact resume,
TensorBoard). Writes OUTPUT_DIR/pipeline (with training_record.json) and results/diffusion/ddpm_training.json.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from diffusers import DDPMPipeline
from torch.utils.data import TensorDataset

from mvadl.runner import Context, main, option
from vae_diffusion.core.fit import FitConfig, FitOptions, fit, run_channels_last, run_precision
from vae_diffusion.core.identity import run_identity
from vae_diffusion.core.images import check_unet_image_size, mnist_split, to_model_range
from vae_diffusion.core.pipelines import write_training_record
from vae_diffusion.diffusion.losses import epsilon_prediction_loss
from vae_diffusion.diffusion.unet import DEFAULT_RUN_DIR, DEFAULT_WIDTHS, build_noise_scheduler, build_unet

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig(FitOptions):
    """Train an unconditional DDPM on MNIST (the reference run's settings)."""

    output_dir: str = option(DEFAULT_RUN_DIR, "receives pipeline/ (the DDPMPipeline), checkpoints/ and logs/ "
                                              "(TensorBoard)")
    epochs: int = option(16, "training epochs (a resumed run continues up to this total)")
    batch_size: int = option(256, "images per optimizer step")
    learning_rate: float = option(5e-4, "AdamW peak learning rate (cosine decay)")
    warmup_steps: int = option(500, "linear learning-rate warm-up steps")
    ema_decay: float = option(0.9995, "decay of the EMA weights the pipeline ships")
    sample_size: int = option(32, "image size: 28, or MNIST padded to 32")
    widths: list[int] = option(list(DEFAULT_WIDTHS), "UNet channels per resolution level")
    layers_per_block: int = option(2, "ResNet blocks per UNet level")
    attention_levels: list[int] = option([], "levels (0 = full resolution) with self-attention")
    num_train_timesteps: int = option(1000, "T, the number of diffusion steps")
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = option(
        "linear", "noise schedule of the DDPMScheduler")
    max_steps_per_epoch: int | None = option(None, "cut every epoch after N optimizer steps (None: whole epochs)")
    #: The CPU precision ``python -m vae_diffusion.speed`` measured as fastest without changing the loss curve.
    CPU_MIXED_PRECISION: ClassVar[str] = "bf16"
    CPU_CHANNELS_LAST: ClassVar[bool] = True
    QUICK: ClassVar[dict] = {"epochs": 1, "train_limit": 256, "widths": [16, 32], "layers_per_block": 1,
                             "batch_size": 32, "warmup_steps": 0, "max_steps_per_epoch": 4,
                             "output_dir": "runs/quick/ddpm_mnist"}

    def __post_init__(self) -> None:
        check_unet_image_size(self.sample_size, len(self.widths), "--sample-size")  # refused before MNIST loads


def run(config: TrainConfig, ctx: Context) -> Path:
    mixed_precision = run_precision(config, ctx.device, Path(config.output_dir) / "checkpoints")
    channels_last = run_channels_last(config, ctx.device, Path(config.output_dir) / "checkpoints")
    grey, _ = mnist_split("train", config.data_dir, limit=config.train_limit, check_count=config.train_limit is None)
    images = to_model_range(grey, config.sample_size)
    unet = build_unet(config.sample_size, config.widths, config.layers_per_block, config.attention_levels)
    noise_scheduler = build_noise_scheduler(config.num_train_timesteps, config.beta_schedule)
    parameters = sum(p.numel() for p in unet.parameters())
    logger.info("UNet2DModel: %.2fM parameters; %d training images", parameters / 1e6, len(images))
    fit_config = FitConfig.from_options(config, mixed_precision=mixed_precision, channels_last=channels_last)
    recorded_config = {**config.as_dict(), "mixed_precision": mixed_precision, "channels_last": channels_last}
    result = fit(unet, TensorDataset(images), epsilon_prediction_loss(noise_scheduler), fit_config, config.output_dir,
                 resume=config.resume, project_name="ddpm_mnist", device=ctx.device,
                 identity=run_identity(recorded_config, ctx.revision))
    model = result.model
    if result.ema is not None:
        result.ema.copy_to(model.parameters())  # the pipeline ships the EMA weights
    pipeline_dir = Path(config.output_dir) / "pipeline"
    DDPMPipeline(unet=model.float().cpu(), scheduler=noise_scheduler).save_pretrained(pipeline_dir)
    logger.info("saved DDPMPipeline to %s", pipeline_dir)
    # every epoch visits every training image once (the loader keeps its last partial batch), unless cut short
    images_per_epoch = min(len(images), (config.max_steps_per_epoch or len(images)) * config.batch_size)
    write_training_record(pipeline_dir, {"config": recorded_config, "training_time_s": result.wall_time_s,
                                         "images_per_epoch": images_per_epoch,
                                         "images_seen": config.epochs * images_per_epoch})
    metrics = {"epoch_losses": result.epoch_losses,
               "final_epoch_loss": result.epoch_losses[-1] if result.epoch_losses else None,
               "parameters": parameters, "training_time_s": result.wall_time_s, "resumes": result.resumes,
               "images_per_epoch": images_per_epoch}
    ctx.record("diffusion", "ddpm_training", metrics, config=recorded_config,
               wall_time_s=result.wall_time_s)
    return pipeline_dir


if __name__ == "__main__":
    sys.exit(main(run, TrainConfig, prog="python -m vae_diffusion.diffusion.train", doc=__doc__))
