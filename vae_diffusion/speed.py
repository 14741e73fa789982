"""Time one training step of each image model in fp32, bf16 autocast and channels_last, side by side.

    python -m vae_diffusion.speed                     # 2 CPU cores: ~15 min (the curve checks take most)
    python -m vae_diffusion.speed --quick             # tiny batches, < 1 min

Prints steps per second of the VAE (Q9), the DDPM (Q18), the text-to-digit model (Q19) and the MNIST classifier
(FID/KID features) at their reference batch sizes on real MNIST, names the CPU's bf16 support, and, for each
model's fastest setting that beats fp32 by more than ``--min-gain``, checks on a short run that the setting keeps
the loss curve: its mean loss over the last steps must end closer to fp32 at the same seed than fp32 at another
seed does. Records results/speed/image_steps.json; the models' ``CPU_MIXED_PRECISION`` and
``CPU_CHANNELS_LAST`` follow its verdicts (tested).
"""
from __future__ import annotations

import logging
import platform
import sys
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import torch

from mvadl.runner import Context, main, option
from vae_diffusion.core.classifier import MnistClassifier, cross_entropy_loss
from vae_diffusion.core.images import DataOptions, mnist_split, to_model_range, to_unit_range
from vae_diffusion.core.precision import cpu_bf16_support, cpu_flags
from vae_diffusion.core.step_timing import SETTINGS, StepModel, check_curve, step_seconds
from vae_diffusion.diffusion.losses import epsilon_prediction_loss
from vae_diffusion.diffusion.train import TrainConfig as DdpmConfig
from vae_diffusion.diffusion.unet import build_noise_scheduler, build_unet
from vae_diffusion.guidance.captions import CaptionedMnist
from vae_diffusion.guidance.text_encoder import build_tokenizer, tokenize
from vae_diffusion.guidance.training import TrainConfig as TextToDigitConfig
from vae_diffusion.guidance.training import build_model as build_text_to_digit
from vae_diffusion.vae import losses as vae_losses
from vae_diffusion.vae.model import VAE
from vae_diffusion.vae.train import TrainConfig as VaeConfig

logger = logging.getLogger(__name__)
MODELS = ("vae", "ddpm", "text_to_digit", "classifier")


@dataclass
class SpeedConfig(DataOptions):
    """Time the image models' training steps (their reference batch sizes)."""

    models: list[str] = option(list(MODELS), f"models to time, among {', '.join(MODELS)}")
    steps: int = option(6, "timed steps per setting, the settings taking turns (the median is reported)")
    warmup: int = option(2, "untimed steps before them")
    curve_steps: int = option(40, "steps of each run of the loss-curve check (0: no check)")
    curve_tail: int = option(10, "the last N steps' mean loss is compared")
    min_gain: float = option(1.1, "a setting is a candidate when it is this many times faster than fp32")
    batch_scale: float = option(1.0, "multiply every reference batch size (smoke runs)")
    QUICK: ClassVar[dict] = {"steps": 1, "warmup": 1, "curve_steps": 3, "curve_tail": 2, "batch_scale": 1 / 16}

    def __post_init__(self) -> None:
        unknown = sorted(set(self.models) - set(MODELS))
        if unknown:
            raise ValueError(f"--models: unknown {unknown}; choose among {list(MODELS)}")
        if self.curve_steps and not 0 < self.curve_tail <= self.curve_steps:
            raise ValueError("--curve-tail must be between 1 and --curve-steps")


def step_models(config: SpeedConfig) -> dict[str, StepModel]:
    """The reference configs' models with two real batches each."""
    def size(batch_size: int) -> int:
        return max(2, round(batch_size * config.batch_scale))

    def images(n: int):
        grey, labels = mnist_split("train", config.data_dir, limit=2 * n, check_count=False)
        return grey, labels

    built = {}
    vae = VaeConfig()
    n = size(vae.batch_size)
    grey, _ = images(n)
    x = torch.bernoulli(to_unit_range(grey).reshape(len(grey), -1), generator=torch.Generator().manual_seed(0))

    def vae_loss(model, batch):
        recon, kl = model.elbo_terms(batch[0])
        return vae_losses.negative_elbo_loss(recon, kl)

    built["vae"] = StepModel("vae", partial(VAE, vae.z_dim, tuple(vae.hidden)), [(x[:n],), (x[n:],)], vae_loss,
                             convolutional=False, learning_rate=vae.lr)
    ddpm = DdpmConfig()
    n = size(ddpm.batch_size)
    grey, _ = images(n)
    clean = to_model_range(grey, ddpm.sample_size)
    built["ddpm"] = StepModel("ddpm", partial(build_unet, ddpm.sample_size, ddpm.widths, ddpm.layers_per_block,
                                              ddpm.attention_levels),
                              [(clean[:n],), (clean[n:],)],
                              epsilon_prediction_loss(build_noise_scheduler(ddpm.num_train_timesteps,
                                                                            ddpm.beta_schedule)),
                              learning_rate=ddpm.learning_rate)
    t2d = TextToDigitConfig()
    n = size(t2d.batch_size)
    grey, labels = images(n)
    tokenizer = build_tokenizer()
    captioned = CaptionedMnist(grey, labels, partial(tokenize, tokenizer), size=t2d.resolution, seed=0,
                               config=t2d.caption_config())
    pairs = [captioned[i] for i in range(len(captioned))]
    batches = [tuple(torch.stack(column) for column in zip(*pairs[k * n:(k + 1) * n])) for k in range(2)]
    built["text_to_digit"] = StepModel("text_to_digit", partial(build_text_to_digit, t2d, tokenizer), batches,
                                       epsilon_prediction_loss(build_noise_scheduler(), t2d.snr_gamma),
                                       learning_rate=t2d.learning_rate)
    n = size(128)
    grey, labels = images(n)
    unit, labels = to_unit_range(grey), torch.from_numpy(labels)
    built["classifier"] = StepModel("classifier", MnistClassifier, [(unit[:n], labels[:n]), (unit[n:], labels[n:])],
                                    cross_entropy_loss, learning_rate=3e-3)
    return {name: built[name] for name in config.models}


def run(config: SpeedConfig, ctx: Context) -> dict:
    support = cpu_bf16_support()
    flags = sorted(cpu_flags() & {"amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2"})
    logger.info("CPU: %s; bf16 instructions: %s; torch %d threads", platform.processor() or platform.machine(),
                support or "none", torch.get_num_threads())
    rows = {}
    for name, step_model in step_models(config).items():
        settings = [s for s in SETTINGS if step_model.convolutional or not SETTINGS[s][1]]
        seconds = step_seconds(step_model, settings, config.steps, config.warmup)
        fastest = min(seconds, key=seconds.get)
        row = {"batch_size": len(step_model.batches[0][0]), "seconds_per_step": seconds,
               "steps_per_s": {s: 1 / t for s, t in seconds.items()},
               "speedup_over_fp32": {s: seconds["fp32"] / t for s, t in seconds.items()}, "fastest": fastest}
        candidate = fastest if seconds["fp32"] / seconds[fastest] >= config.min_gain else None
        if candidate and config.curve_steps:
            row["curve_check"] = check_curve(step_model, candidate, config.curve_steps, config.curve_tail).as_dict()
        keeps = candidate is not None and row.get("curve_check", {}).get("within_spread", False)
        row["chosen"] = candidate if keeps else "fp32"
        rows[name] = row
        logger.info("%s: %s; chosen %s", name, ", ".join(f"{s} {1 / t:.2f} steps/s" for s, t in seconds.items()),
                    row["chosen"])
    print(speed_table(rows, support))
    ctx.record("speed", "image_steps", {"cpu_bf16": support, "cpu_flags": flags, "threads": torch.get_num_threads(),
                                        "models": rows})
    return rows


def speed_table(rows: dict, support: str | None) -> str:
    """The table the command prints: steps/s per model and setting, speed-up over fp32, the chosen setting."""
    lines = [f"CPU bf16 support: {support or 'none'}",
             f"{'model':<14}{'batch':>6}" + "".join(f"{s:>20}" for s in SETTINGS) + f"{'chosen':>20}"]
    for name, row in rows.items():
        cells = "".join(f"{row['steps_per_s'][s]:>10.3f} ({row['speedup_over_fp32'][s]:.2f}x)"
                        if s in row["steps_per_s"] else f"{'-':>20}" for s in SETTINGS)
        lines.append(f"{name:<14}{row['batch_size']:>6}{cells}{row['chosen']:>20}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main(run, SpeedConfig, prog="python -m vae_diffusion.speed", doc=__doc__))
