"""The text-conditioned denoiser: a diffusers ``UNet2DConditionModel`` whose cross-attention layers read the
states of :class:`~vae_diffusion.guidance.text_encoder.CaptionTextEncoder`, and the module that joins the two
for training (both are optimised together, like a text-to-image model trained from scratch).

The reference model (``training.TrainConfig``'s defaults, chosen by the measured design study ``design.py``):
28x28x3 input; levels at 28, 14 and 7 pixels with (32, 64, 96) channels and one ResNet block each;
cross-attention (with self-attention) only at 7 pixels and in the middle block, where it is cheap, and the
attention-pooled text added to the timestep embedding so every ResNet block reads the caption; 64-d text states.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from diffusers import UNet2DConditionModel
from torch import nn

from vae_diffusion.core.artifacts import ARTIFACTS_DIR
from vae_diffusion.guidance.text_encoder import CaptionTextEncoder

DEFAULT_WIDTHS = (32, 64, 96)
#: Where ``python -m vae_diffusion.guidance.train`` writes by default, and the pipeline the study reads.
DEFAULT_RUN_DIR = "checkpoints/text_to_digit"
#: The shipped reference model (``python -m vae_diffusion.ship --model text_to_digit``, fp16 weights): what the
#: negative-prompt study reads by default, verified against its SHA256SUMS and the digest pinned here.
DEFAULT_PIPELINE = str(ARTIFACTS_DIR / "text_to_digit" / "v1")
DEFAULT_PIPELINE_PIN = ("unet/diffusion_pytorch_model.safetensors",
                        "73ad2d132ae9d4319522789f0b61cf76356ca705e85639ef9184056911fb6232")


def build_text_unet(sample_size: int = 32, widths: Sequence[int] = DEFAULT_WIDTHS, layers_per_block: int = 1,
                    cross_attention_dim: int = 64, attention_head_dim: int = 8, norm_num_groups: int = 8,
                    attention_levels: int | None = None, pooled_text: bool = False) -> UNet2DConditionModel:
    """A UNet predicting epsilon from ``(z_t, t, text states)``.

    Cross-attention sits in the middle block and in the ``attention_levels`` lowest-resolution levels (none: every
    level but the first). ``pooled_text`` also adds an attention-pooled summary of the text states to the
    timestep embedding (diffusers' ``addition_embed_type="text"``, as in DeepFloyd IF), so every ResNet block,
    not only the attention layers, sees the caption.
    """
    levels = len(widths)
    attention_levels = levels - 1 if attention_levels is None else attention_levels
    if not 0 <= attention_levels <= levels:
        raise ValueError(f"attention_levels {attention_levels} is not between 0 and {levels}")
    if sample_size % (2 ** (levels - 1)):
        raise ValueError(f"sample_size {sample_size} is not divisible by 2**{levels - 1}")
    plain = levels - attention_levels
    down = ("DownBlock2D",) * plain + ("CrossAttnDownBlock2D",) * attention_levels
    up = ("CrossAttnUpBlock2D",) * attention_levels + ("UpBlock2D",) * plain
    pooled = {"addition_embed_type": "text", "addition_embed_type_num_heads": max(1, cross_attention_dim // 16)} \
        if pooled_text else {}
    return UNet2DConditionModel(sample_size=sample_size, in_channels=3, out_channels=3,
                                layers_per_block=layers_per_block, block_out_channels=tuple(widths),
                                down_block_types=down, up_block_types=up, mid_block_type="UNetMidBlock2DCrossAttn",
                                cross_attention_dim=cross_attention_dim, attention_head_dim=attention_head_dim,
                                norm_num_groups=norm_num_groups, **pooled)


class TextConditionedDenoiser(nn.Module):
    """``(z_t, t, input_ids) -> UNet output`` with ``encoder_hidden_states = text_encoder(input_ids)``; the
    training loop sees one module, so the optimiser, EMA and checkpoints cover both parts."""

    def __init__(self, unet: UNet2DConditionModel, text_encoder: CaptionTextEncoder) -> None:
        super().__init__()
        if unet.config.cross_attention_dim != text_encoder.config.hidden_size:
            raise ValueError(f"UNet cross_attention_dim {unet.config.cross_attention_dim} != text encoder "
                             f"hidden_size {text_encoder.config.hidden_size}")
        self.unet = unet
        self.text_encoder = text_encoder

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, input_ids: torch.Tensor):
        return self.unet(sample, timestep, encoder_hidden_states=self.text_encoder(input_ids))
