"""Train the text-to-digit model on captioned coloured MNIST and save it as a ``TextToDigitPipeline``.

    python -m vae_diffusion.guidance.train                                   # 2 CPU cores: ~70 min (1.67 s/step)
    python -m vae_diffusion.guidance.train --quick --output-dir /tmp/t2d     # CPU: < 1 min

UNet and text encoder are trained jointly with the DDPM loss of the diffusion part,
``|| eps - eps_theta(sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps, t, text_encoder(caption)) ||^2``, through the
same loop (:func:`vae_diffusion.diffusion.training.fit`: accelerate, EMA, resume, TensorBoard). Captions leave
attributes out at random and are dropped entirely with probability ``--caption-dropout``, which trains the
unconditional model that classifier-free guidance needs. An "epoch" is ``--steps-per-epoch`` optimizer steps
over a reshuffled dataset, so a CPU run checkpoints (and can resume) every few minutes.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from functools import partial
from pathlib import Path


from mvadl.cli import add_seed_argument, run_cli, seed_everything, setup_logging
from mvadl.data import add_data_dir_argument, data_root, load_mnist
from mvadl.results import describe_device, write_results
from vae_diffusion.diffusion.sampling import make_scheduler
from vae_diffusion.diffusion.train import epsilon_prediction_loss
from vae_diffusion.diffusion.training import FitConfig, add_fit_arguments, default_mixed_precision, fit
from vae_diffusion.diffusion.unet import build_noise_scheduler
from vae_diffusion.guidance.captions import CaptionConfig, CaptionedMnist
from vae_diffusion.guidance.model import DEFAULT_WIDTHS, TextConditionedDenoiser, build_text_unet
from vae_diffusion.guidance.pipeline import TextToDigitPipeline
from vae_diffusion.guidance.text_encoder import CaptionTextEncoder, build_tokenizer, tokenize

logger = logging.getLogger(__name__)
DEFAULT_OUTPUT = "checkpoints/text_to_digit"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_seed_argument(p)
    add_data_dir_argument(p)
    p.add_argument("--output-dir", default=DEFAULT_OUTPUT,
                   help="receives pipeline/ (the TextToDigitPipeline), checkpoints/ and logs/ (TensorBoard)")
    p.add_argument("--epochs", type=int, default=None, help="number of --steps-per-epoch chunks; default 10 (1 with --quick)")
    p.add_argument("--steps-per-epoch", type=int, default=250)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=200)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--widths", type=int, nargs="+", default=list(DEFAULT_WIDTHS), help="UNet channels per level")
    p.add_argument("--layers-per-block", type=int, default=1)
    p.add_argument("--text-hidden-size", type=int, default=64, help="text states = UNet cross-attention width")
    p.add_argument("--text-layers", type=int, default=2)
    p.add_argument("--mention-probability", type=float, default=CaptionConfig.mention_probability,
                   help="chance that a caption names the stroke colour (and, separately, the background)")
    p.add_argument("--digit-drop-probability", type=float, default=CaptionConfig.digit_drop_probability)
    p.add_argument("--caption-dropout", type=float, default=CaptionConfig.caption_dropout,
                   help="chance of the empty caption (unconditional training for classifier-free guidance)")
    add_fit_arguments(p)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 256 images, tiny model, 1 epoch of 4 steps (same code path)")
    return p.parse_args(argv)


def main(args: argparse.Namespace) -> Path:
    setup_logging()
    seed_everything(args.seed)
    if args.quick:
        args.train_limit, args.widths, args.text_hidden_size, args.text_layers = 256, [16, 32], 16, 1
        args.steps_per_epoch, args.batch_size, args.warmup_steps = 4, 16, 0
    if args.epochs is None:
        args.epochs = 1 if args.quick else 10
    args.mixed_precision = default_mixed_precision(args.mixed_precision)
    images, labels = load_mnist("train", data_root(args.data_dir), check_count=args.train_limit is None)
    if args.train_limit is not None:
        images, labels = images[:args.train_limit], labels[:args.train_limit]
    tokenizer = build_tokenizer()
    captions = CaptionConfig(args.mention_probability, args.digit_drop_probability, args.caption_dropout)
    dataset = CaptionedMnist(images, labels, partial(tokenize, tokenizer), seed=args.seed, config=captions)
    text_encoder = CaptionTextEncoder(len(tokenizer), hidden_size=args.text_hidden_size,
                                      num_layers=args.text_layers, pad_token_id=tokenizer.pad_token_id)
    unet = build_text_unet(32, args.widths, args.layers_per_block, cross_attention_dim=args.text_hidden_size,
                           attention_head_dim=min(8, args.text_hidden_size))
    model = TextConditionedDenoiser(unet, text_encoder)
    noise_scheduler = build_noise_scheduler()
    parameters = {name: sum(p.numel() for p in part.parameters()) for name, part in
                  (("unet", unet), ("text_encoder", text_encoder))}
    logger.info("UNet2DConditionModel %.2fM + text encoder %.2fM parameters; %d captioned images",
                parameters["unet"] / 1e6, parameters["text_encoder"] / 1e6, len(dataset))
    config = FitConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                       warmup_steps=args.warmup_steps, ema_decay=args.ema_decay,
                       mixed_precision=args.mixed_precision, seed=args.seed,
                       max_steps_per_epoch=args.steps_per_epoch)
    started = time.perf_counter()
    result = fit(model, dataset, epsilon_prediction_loss(noise_scheduler), config, args.output_dir,
                 resume=args.resume, project_name="text_to_digit")
    model = result.model
    if result.ema is not None:
        result.ema.copy_to(model.parameters())  # the pipeline ships the EMA weights
    model = model.float().cpu().eval()
    pipeline = TextToDigitPipeline(unet=model.unet, scheduler=make_scheduler("DDIM", noise_scheduler.config),
                                   text_encoder=model.text_encoder, tokenizer=tokenizer)
    pipeline_dir = Path(args.output_dir) / "pipeline"
    pipeline.save_pretrained(pipeline_dir)
    logger.info("saved TextToDigitPipeline to %s", pipeline_dir)
    trained_images = (len(result.epoch_losses)) * args.steps_per_epoch * args.batch_size
    write_results("guidance", "training" + ("_quick" if args.quick else ""), config=args,
                  metrics={"epoch_losses": result.epoch_losses,
                           "final_epoch_loss": result.epoch_losses[-1] if result.epoch_losses else None,
                           "parameters": parameters, "training_time_s": result.wall_time_s,
                           "images_seen_this_run": trained_images,
                           "images_per_s": trained_images / max(result.wall_time_s, 1e-9)},
                  seed=args.seed, wall_time_s=time.perf_counter() - started,
                  device=describe_device(result.accelerator.device))
    return pipeline_dir


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
