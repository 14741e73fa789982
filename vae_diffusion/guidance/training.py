"""Training the text-to-digit model: its options (:class:`TrainConfig`) and :func:`train`, which builds the
captioned data, the UNet and the text encoder, runs the shared loop ``core/fit.py`` and saves the
``TextToDigitPipeline``. The command line is ``python -m vae_diffusion.guidance.train``; the design study
(``design.py``) calls :func:`train` for each variant.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import ClassVar

from mvadl.runner import option
from vae_diffusion.core.fit import FitConfig, FitOptions, fit, run_channels_last, run_precision
from vae_diffusion.core.identity import run_identity
from vae_diffusion.core.images import check_unet_image_size, mnist_split
from vae_diffusion.core.pipelines import write_training_record
from vae_diffusion.diffusion.losses import epsilon_prediction_loss
from vae_diffusion.diffusion.sampling import make_scheduler
from vae_diffusion.diffusion.unet import build_noise_scheduler
from vae_diffusion.guidance.captions import CaptionConfig, CaptionedMnist
from vae_diffusion.guidance.model import DEFAULT_RUN_DIR, DEFAULT_WIDTHS, TextConditionedDenoiser, build_text_unet
from vae_diffusion.guidance.pipeline import TextToDigitPipeline
from vae_diffusion.guidance.text_encoder import CaptionTextEncoder, build_tokenizer, tokenize

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig(FitOptions):
    """Train the text-to-digit model (the reference run's settings)."""

    output_dir: str = option(DEFAULT_RUN_DIR, "receives pipeline/ (the TextToDigitPipeline), checkpoints/ and "
                                              "logs/ (TensorBoard)")
    epochs: int = option(20, "number of --steps-per-epoch chunks (a resumed run continues up to this total)")
    steps_per_epoch: int = option(500, "optimizer steps per epoch")
    batch_size: int = option(64, "captioned images per optimizer step")
    learning_rate: float = option(1e-3, "AdamW peak learning rate (cosine decay)")
    warmup_steps: int = option(200, "linear learning-rate warm-up steps")
    ema_decay: float = option(0.999, "decay of the EMA weights the pipeline ships")
    checkpoints_to_keep: int = option(2, "epoch checkpoints kept (0: all, which guidance.progress scores)")
    resolution: int = option(28, "image side in pixels: 32 pads MNIST by 2 pixels, 28 keeps it as it is")
    widths: list[int] = option(list(DEFAULT_WIDTHS), "UNet channels per level")
    layers_per_block: int = option(1, "ResNet blocks per UNet level")
    attention_levels: int = option(1, "UNet levels with cross-attention, counted from the lowest resolution (the "
                                      "middle block always has it)")
    pooled_text: bool = option(True, "also add the attention-pooled text states to the timestep embedding")
    snr_gamma: float | None = option(5.0, "min-SNR loss weighting min(SNR, gamma) / SNR (None: uniform)")
    text_hidden_size: int = option(64, "text states = UNet cross-attention width")
    text_layers: int = option(2, "transformer layers of the text encoder")
    mention_probability: float = option(CaptionConfig.mention_probability,
                                        "chance that a caption names the stroke colour (and, separately, the "
                                        "background)")
    digit_drop_probability: float = option(CaptionConfig.digit_drop_probability,
                                           "chance that the digit word becomes 'digit'")
    caption_dropout: float = option(CaptionConfig.caption_dropout,
                                    "chance of the empty caption (unconditional training for classifier-free "
                                    "guidance)")
    red_share: float = option(CaptionConfig.red_share, "share of training digits with red strokes (the other four "
                                                       "stroke colours share the rest equally)")
    gray_share: float = option(CaptionConfig.gray_share, "share of training digits on a gray background")
    record_name: str = option("training", "file stem of the run's record under results/guidance")
    #: The CPU precision ``python -m vae_diffusion.speed`` measured as fastest without changing the loss curve.
    CPU_MIXED_PRECISION: ClassVar[str] = "bf16"
    QUICK: ClassVar[dict] = {"epochs": 1, "train_limit": 256, "widths": [16, 32], "text_hidden_size": 16,
                             "text_layers": 1, "steps_per_epoch": 4, "batch_size": 16, "warmup_steps": 0,
                             "output_dir": "runs/quick/text_to_digit"}

    def __post_init__(self) -> None:
        self.caption_config()  # a probability outside [0, 1] is refused when the options are parsed
        check_unet_image_size(self.resolution, len(self.widths), "--resolution")

    def caption_config(self) -> CaptionConfig:
        return CaptionConfig(self.mention_probability, self.digit_drop_probability, self.caption_dropout,
                             self.red_share, self.gray_share)


@dataclass
class TrainedModel:
    pipeline_dir: Path
    metrics: dict  # what the run's record holds: losses, parameters, seconds, resumes, images seen and per second
    config: dict  # the options as run (mixed precision resolved)


def build_model(config: TrainConfig, tokenizer) -> TextConditionedDenoiser:
    """The untrained UNet + text encoder of ``config`` (random weights from the global torch seed)."""
    text_encoder = CaptionTextEncoder(len(tokenizer), hidden_size=config.text_hidden_size,
                                      num_layers=config.text_layers, pad_token_id=tokenizer.pad_token_id)
    unet = build_text_unet(config.resolution, config.widths, config.layers_per_block,
                           cross_attention_dim=config.text_hidden_size,
                           attention_head_dim=min(8, config.text_hidden_size),
                           attention_levels=config.attention_levels, pooled_text=config.pooled_text)
    return TextConditionedDenoiser(unet, text_encoder)


def captioned_mnist(config: TrainConfig, tokenizer) -> CaptionedMnist:
    """The captioned training set of ``config``."""
    images, labels = mnist_split("train", config.data_dir, limit=config.train_limit,
                                 check_count=config.train_limit is None)
    return CaptionedMnist(images, labels, partial(tokenize, tokenizer), size=config.resolution, seed=config.seed,
                          config=config.caption_config())


def train(config: TrainConfig, device, revision: str = "unknown") -> TrainedModel:
    """Train (or resume) the model of ``config`` and save its pipeline; records nothing (see :func:`run`).
    ``revision``: the code's revision when the run started (a resume must run the same one)."""
    mixed_precision = run_precision(config, device, Path(config.output_dir) / "checkpoints")
    channels_last = run_channels_last(config, device, Path(config.output_dir) / "checkpoints")
    tokenizer = build_tokenizer()
    dataset = captioned_mnist(config, tokenizer)
    model = build_model(config, tokenizer)
    unet, text_encoder = model.unet, model.text_encoder
    noise_scheduler = build_noise_scheduler()
    parameters = {name: sum(p.numel() for p in part.parameters()) for name, part in
                  (("unet", unet), ("text_encoder", text_encoder))}
    logger.info("UNet2DConditionModel %.2fM + text encoder %.2fM parameters; %d captioned images",
                parameters["unet"] / 1e6, parameters["text_encoder"] / 1e6, len(dataset))
    fit_config = FitConfig.from_options(config, mixed_precision=mixed_precision, channels_last=channels_last,
                                        max_steps_per_epoch=config.steps_per_epoch)
    recorded_config = {**config.as_dict(), "mixed_precision": mixed_precision, "channels_last": channels_last}
    result = fit(model, dataset, epsilon_prediction_loss(noise_scheduler, config.snr_gamma), fit_config,
                 config.output_dir, resume=config.resume, project_name="text_to_digit", device=device,
                 identity=run_identity(recorded_config, revision))
    model = result.model
    if result.ema is not None:
        result.ema.copy_to(model.parameters())  # the pipeline ships the EMA weights
    model = model.float().cpu().eval()
    pipeline = TextToDigitPipeline(unet=model.unet, scheduler=make_scheduler("DDIM", noise_scheduler.config),
                                   text_encoder=model.text_encoder, tokenizer=tokenizer)
    pipeline_dir = Path(config.output_dir) / "pipeline"
    pipeline.save_pretrained(pipeline_dir)
    logger.info("saved TextToDigitPipeline to %s", pipeline_dir)
    images_seen = len(result.epoch_losses) * config.steps_per_epoch * config.batch_size  # the whole run
    write_training_record(pipeline_dir, {"config": recorded_config, "training_time_s": result.wall_time_s,
                                         "images_seen": images_seen})
    metrics = {"epoch_losses": result.epoch_losses,
               "final_epoch_loss": result.epoch_losses[-1] if result.epoch_losses else None,
               "parameters": parameters, "training_time_s": result.wall_time_s, "resumes": result.resumes,
               "images_seen": images_seen, "images_per_s": images_seen / max(result.wall_time_s, 1e-9)}
    return TrainedModel(pipeline_dir, metrics, recorded_config)
