"""``TextToDigitPipeline``: text-to-image sampling with classifier-free guidance and negative prompts.

The sampling loop is the deconstructed one of diffusers' "write your own pipeline" / "deconstruct the Stable
Diffusion pipeline" tutorial (:func:`vae_diffusion.diffusion.sampling.sample`); at every step the UNet runs on
the batch twice, once with the prompt's text states and once with the negative prompt's, and the two noise
predictions are combined by :func:`classifier_free_guidance`. With no negative prompt the second branch is the
empty prompt "" (the unconditional model learnt through caption dropout); a negative prompt takes its place.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from diffusers import DiffusionPipeline, UNet2DConditionModel
from diffusers.pipelines.pipeline_utils import ImagePipelineOutput
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor
from transformers import PreTrainedTokenizerFast

from vae_diffusion.diffusion.sampling import sample
from vae_diffusion.guidance.text_encoder import CaptionTextEncoder, tokenize

logger = logging.getLogger(__name__)

#: The ``output_type`` values of a pipeline call: PIL images, a float array ``[B, H, W, 3]`` in [0, 1], or a
#: tensor ``[B, 3, H, W]`` in [0, 1].
OUTPUT_TYPES = ("pil", "np", "pt")


def classifier_free_guidance(noise_pred_uncond: torch.Tensor, noise_pred_text: torch.Tensor,
                             guidance_scale: float) -> torch.Tensor:
    """The guidance line of Q19 (Ho & Salimans 2022)::

        noise_pred = noise_pred_uncond + guidance_scale * (noise_pred_text - noise_pred_uncond)

    ``noise_pred_uncond`` is the prediction for the negative prompt when there is one. Since epsilon is
    proportional to a score, ``-sigma_t * grad log p(z_t | c)``, this steps along
    ``grad log p(z_t | neg) + s * (grad log p(z_t | text) - grad log p(z_t | neg))``: for s > 1 towards the
    prompt AND away from the negative prompt. ``guidance_scale = 1`` is the plain conditional model.
    """
    return noise_pred_uncond + guidance_scale * (noise_pred_text - noise_pred_uncond)


class TextToDigitPipeline(DiffusionPipeline):
    """Generate coloured digits from captions such as "a seven" or "a red two on a gray background".

    ``pipe(prompt, negative_prompt=None, guidance_scale=5.0, num_inference_steps=25, generator=None)``
    returns an ``ImagePipelineOutput``; the same ``generator`` seed gives the same initial noise z_T, whatever
    the negative prompt, so two calls differ only by guidance.
    """

    model_cpu_offload_seq = "text_encoder->unet"

    def __init__(self, unet: UNet2DConditionModel, scheduler: SchedulerMixin, text_encoder: CaptionTextEncoder,
                 tokenizer: PreTrainedTokenizerFast) -> None:
        super().__init__()
        self.register_modules(unet=unet, scheduler=scheduler, text_encoder=text_encoder, tokenizer=tokenizer)

    @torch.no_grad()
    def encode_prompt(self, prompts: Sequence[str]) -> torch.Tensor:
        """Text states ``[B, max_length, hidden]`` of the prompts; unknown words are reported once."""
        ids = tokenize(self.tokenizer, prompts)
        unknown = sorted({w for p in prompts for w in p.lower().split()
                          if self.tokenizer.convert_tokens_to_ids(w) == self.tokenizer.unk_token_id})
        if unknown:
            logger.warning("words outside the caption vocabulary are read as <unk>: %s", ", ".join(unknown))
        return self.text_encoder(ids.to(self.device))

    @torch.no_grad()
    def __call__(self, prompt: str | Sequence[str], negative_prompt: str | Sequence[str] | None = None,
                 guidance_scale: float = 5.0, num_inference_steps: int = 25, generator: torch.Generator | None = None,
                 num_images_per_prompt: int = 1, latents: torch.Tensor | None = None, output_type: str = "pil",
                 return_dict: bool = True):
        if output_type not in OUTPUT_TYPES:  # refused before any sampling
            raise ValueError(f"output_type must be one of {', '.join(map(repr, OUTPUT_TYPES))}, got {output_type!r}")
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        negatives = [negative_prompt or ""] * len(prompts) \
            if negative_prompt is None or isinstance(negative_prompt, str) else list(negative_prompt)
        if len(negatives) != len(prompts):
            raise ValueError(f"negative_prompt: {len(negatives)} prompts for {len(prompts)} prompts")
        prompts = [p for p in prompts for _ in range(num_images_per_prompt)]
        negatives = [n for n in negatives for _ in range(num_images_per_prompt)]
        batch = len(prompts)
        text_states = self.encode_prompt(prompts)
        guided = guidance_scale != 1.0
        if guided:
            # one UNet call per step on [negative; text], as Stable Diffusion does
            text_states = torch.cat([self.encode_prompt(negatives), text_states])
        size = self.unet.config.sample_size
        shape = (batch, self.unet.config.in_channels, size, size)
        if latents is None:
            latents = randn_tensor(shape, generator=generator, device=self.device, dtype=self.unet.dtype)
        elif latents.shape != shape:
            raise ValueError(f"latents of shape {tuple(latents.shape)}, expected {shape}")

        def denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if not guided:
                return self.unet(x, t, encoder_hidden_states=text_states).sample
            noise_pred = self.unet(torch.cat([x, x]), torch.cat([t, t]), encoder_hidden_states=text_states).sample
            noise_pred_uncond, noise_pred_text = noise_pred.chunk(2)
            return classifier_free_guidance(noise_pred_uncond, noise_pred_text, guidance_scale)

        images = sample(denoiser, self.scheduler, latents.to(self.device), num_inference_steps, generator).images
        images = (images / 2 + 0.5).clamp(0, 1)
        if output_type == "pt":
            out = images
        else:
            out = images.permute(0, 2, 3, 1).numpy().astype(np.float32)
            if output_type == "pil":
                out = self.numpy_to_pil(out)
        return ImagePipelineOutput(images=out) if return_dict else (out,)
