"""Model and noise-schedule factory: a diffusers ``UNet2DModel`` for 1-channel digits and a ``DDPMScheduler``.

The defaults are the run reported in the report (Part 2 and its appendix): 32x32 (MNIST padded by 2), three resolutions
(32, 16, 8) with (32, 64, 128) channels, two ResNet blocks per level, no attention, 1000 linear-beta steps
(Ho et al. 2020: beta from 1e-4 to 0.02).
"""
from __future__ import annotations

from collections.abc import Sequence

from diffusers import DDPMScheduler, UNet2DModel

DEFAULT_WIDTHS = (32, 64, 128)
#: Where ``python -m vae_diffusion.diffusion.train`` writes by default, and the pipeline the evaluations read.
DEFAULT_RUN_DIR = "checkpoints/ddpm_mnist"
DEFAULT_PIPELINE = f"{DEFAULT_RUN_DIR}/pipeline"


def build_unet(sample_size: int = 32, widths: Sequence[int] = DEFAULT_WIDTHS, layers_per_block: int = 2,
               attention_levels: Sequence[int] = (), norm_num_groups: int = 8,
               in_channels: int = 1) -> UNet2DModel:
    """A UNet predicting the noise epsilon; ``attention_levels`` lists the resolution levels (0 = full size)
    that get self-attention. Each level halves the size, so ``sample_size`` must divide by 2**(levels-1)."""
    levels = len(widths)
    if sample_size % (2 ** (levels - 1)):
        raise ValueError(f"sample_size {sample_size} is not divisible by 2**{levels - 1}")
    down = tuple("AttnDownBlock2D" if i in attention_levels else "DownBlock2D" for i in range(levels))
    up = tuple("AttnUpBlock2D" if i in attention_levels else "UpBlock2D" for i in reversed(range(levels)))
    return UNet2DModel(sample_size=sample_size, in_channels=in_channels, out_channels=in_channels,
                       layers_per_block=layers_per_block, block_out_channels=tuple(widths),
                       down_block_types=down, up_block_types=up, norm_num_groups=norm_num_groups)


def build_noise_scheduler(num_train_timesteps: int = 1000, beta_schedule: str = "linear") -> DDPMScheduler:
    """The forward process q(z_t | z_{t-1}) of eq. 23, alpha_t = 1 - beta_t, and the DDPM sampler."""
    return DDPMScheduler(num_train_timesteps=num_train_timesteps, beta_schedule=beta_schedule)
