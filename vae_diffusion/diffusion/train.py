"""Train an unconditional DDPM on MNIST and save it as a diffusers ``DDPMPipeline`` (EMA weights).

    python -m vae_diffusion.diffusion.train --output-dir checkpoints/ddpm_mnist            # GPU: ~5 min
    python -m vae_diffusion.diffusion.train --quick --output-dir /tmp/ddpm_quick          # CPU: < 1 min

The loss is the simplified DDPM objective (Ho et al. 2020, and Q15/Q17 of the report):
``|| eps - eps_theta(sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps, t) ||^2`` with t uniform and z_t from eq. 26.
"""
from __future__ import annotations

import argparse
import sys
import logging
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import DDPMPipeline, DDPMScheduler
from torch.utils.data import TensorDataset

from mvadl.cli import add_seed_argument, run_cli, seed_everything, setup_logging
from mvadl.data import add_data_dir_argument
from mvadl.results import describe_device, write_results
from vae_diffusion.diffusion.data import load_mnist_tensors
from vae_diffusion.diffusion.training import FitConfig, add_fit_arguments, default_mixed_precision, fit
from vae_diffusion.diffusion.unet import DEFAULT_WIDTHS, build_noise_scheduler, build_unet

logger = logging.getLogger(__name__)


def epsilon_prediction_loss(noise_scheduler: DDPMScheduler):
    """``loss_fn`` for :func:`fit`: noise a clean batch to a uniform t with eq. 26 and regress the noise.

    A batch is ``(clean, *condition)``; the model is called as ``model(z_t, t, *condition)`` (a conditioned
    denoiser such as ``vae_diffusion.guidance.model.TextConditionedDenoiser`` takes the caption's token ids).
    """
    num_timesteps = noise_scheduler.config.num_train_timesteps

    def loss_fn(model: torch.nn.Module, batch) -> torch.Tensor:
        clean, *condition = batch
        noise = torch.randn_like(clean)
        timesteps = torch.randint(0, num_timesteps, (clean.shape[0],), device=clean.device)
        noisy = noise_scheduler.add_noise(clean, noise, timesteps)  # sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps
        return F.mse_loss(model(noisy, timesteps, *condition).sample.float(), noise.float())

    return loss_fn


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_seed_argument(p)
    add_data_dir_argument(p)
    p.add_argument("--output-dir", default="checkpoints/ddpm_mnist",
                   help="receives pipeline/ (the DDPMPipeline), checkpoints/ and logs/ (TensorBoard)")
    p.add_argument("--epochs", type=int, default=None, help="default: 16 (1 with --quick)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--warmup-steps", type=int, default=500)
    p.add_argument("--ema-decay", type=float, default=0.9995)
    p.add_argument("--sample-size", type=int, default=32, help="28 or padded 32")
    p.add_argument("--widths", type=int, nargs="+", default=list(DEFAULT_WIDTHS),
                   help="UNet channels per resolution level")
    p.add_argument("--layers-per-block", type=int, default=2)
    p.add_argument("--attention-levels", type=int, nargs="*", default=[],
                   help="levels (0 = full resolution) with self-attention")
    p.add_argument("--num-train-timesteps", type=int, default=1000)
    p.add_argument("--beta-schedule", default="linear", choices=["linear", "scaled_linear", "squaredcos_cap_v2"])
    add_fit_arguments(p)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 256 images, tiny UNet, 1 epoch of at most 4 steps (same code path)")
    return p.parse_args(argv)


def main(args: argparse.Namespace) -> Path:
    setup_logging()
    seed_everything(args.seed)
    if args.quick:
        args.train_limit, args.widths, args.layers_per_block = 256, [16, 32], 1
        args.batch_size, args.warmup_steps = 32, 0
    if args.epochs is None:
        args.epochs = 1 if args.quick else 16
    args.mixed_precision = default_mixed_precision(args.mixed_precision)
    images, _ = load_mnist_tensors("train", args.data_dir, size=args.sample_size,
                                   limit=args.train_limit, check_count=args.train_limit is None)
    unet = build_unet(args.sample_size, args.widths, args.layers_per_block, args.attention_levels)
    noise_scheduler = build_noise_scheduler(args.num_train_timesteps, args.beta_schedule)
    logger.info("UNet2DModel: %.2fM parameters; %d training images", sum(p.numel() for p in unet.parameters()) / 1e6,
                len(images))
    config = FitConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                       warmup_steps=args.warmup_steps, ema_decay=args.ema_decay,
                       mixed_precision=args.mixed_precision, seed=args.seed,
                       max_steps_per_epoch=4 if args.quick else None)
    started = time.perf_counter()
    result = fit(unet, TensorDataset(images), epsilon_prediction_loss(noise_scheduler), config, args.output_dir,
                 resume=args.resume, project_name="ddpm_mnist")
    model = result.model
    if result.ema is not None:
        result.ema.copy_to(model.parameters())  # the pipeline ships the EMA weights
    pipeline_dir = Path(args.output_dir) / "pipeline"
    DDPMPipeline(unet=model.float().cpu(), scheduler=noise_scheduler).save_pretrained(pipeline_dir)
    logger.info("saved DDPMPipeline to %s", pipeline_dir)
    write_results("diffusion", "ddpm_training" + ("_quick" if args.quick else ""), config=args,
                  metrics={"epoch_losses": result.epoch_losses, "final_epoch_loss": result.epoch_losses[-1]
                           if result.epoch_losses else None,
                           "parameters": sum(p.numel() for p in model.parameters()),
                           "training_time_s": result.wall_time_s,
                           "images_per_epoch": min(len(images), (config.max_steps_per_epoch or len(images))
                                                   * args.batch_size)},
                  seed=args.seed, wall_time_s=time.perf_counter() - started,
                  device=describe_device(result.accelerator.device))
    return pipeline_dir


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
