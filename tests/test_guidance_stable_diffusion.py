"""The negative-prompt experiment on a Stable Diffusion pipeline, offline: a tiny randomly initialised
``StableDiffusionPipeline`` (UNet, VAE, CLIP text encoder and a CLIP tokenizer from a hand-written
vocab.json / merges.txt) is built from configs, saved, and run through the CLI like a real SD folder."""
from __future__ import annotations

import json
import re
import string
from pathlib import Path

import numpy as np
import pytest
import torch

from mvadl.data import DataError
from mvadl.runner import main
from vae_diffusion.guidance import negative_prompt
from vae_diffusion.guidance.evaluation import SD_NEGATIVE, SD_PROMPT, generate, load_guided_pipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MAX_TOKENS = 77  # CLIP's context length: the default prompt is not truncated


def write_clip_tokenizer_files(folder: Path) -> dict[str, int]:
    """A byte-level BPE vocabulary of the CLIP kind: the two special tokens, every lowercase letter inside and
    at the end of a word, and a few merges (so that 'horse' is one token)."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for letter in string.ascii_lowercase:
            vocab[letter + suffix] = len(vocab)
    merges = ["h o", "ho r", "hor s", "hors e</w>"]
    for merge in merges:
        vocab["".join(merge.split())] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return vocab


def build_tiny_stable_diffusion(folder: Path) -> Path:
    """Save a tiny random ``StableDiffusionPipeline`` (16x16 images) to ``folder``; nothing is downloaded."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = write_clip_tokenizer_files(folder / "tokenizer_files")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder / "tokenizer_files"), model_max_length=MAX_TOKENS)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(4, 8), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=2, attention_head_dim=2)
    vae = AutoencoderKL(
        block_out_channels=(4, 8), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=2,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, sample_size=16)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, vocab_size=len(vocab), max_position_embeddings=MAX_TOKENS, projection_dim=32))
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        scheduler=PNDMScheduler(skip_prk_steps=True, steps_offset=1), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    out = folder / "tiny-stable-diffusion"
    pipe.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory) -> Path:
    return build_tiny_stable_diffusion(tmp_path_factory.mktemp("sd"))


def test_quick_run_on_a_local_stable_diffusion_folder(tiny_sd, tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    assert main(negative_prompt.run, negative_prompt.NegativePromptConfig,
                ["--model", str(tiny_sd), "--quick", "--device", "cpu", "--batch-size", "3"]) == 0

    out = tmp_path / "results" / "guidance"
    json_path = out / "stable_diffusion_negative_prompt.json"
    figure = out / "stable_diffusion_negative_prompt.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads(json_path.read_text())
    config, metrics = record["config"], record["metrics"]
    assert config["prompt"] == SD_PROMPT == "a photograph of an astronaut riding a horse"
    assert config["negative_prompt"] == SD_NEGATIVE == "desert"
    assert config["pipeline"] == "StableDiffusionPipeline"
    assert config["model"] == str(tiny_sd) and config["num_inference_steps"] == 3
    assert metrics["n_samples"] == 4  # --quick: 4 figure pairs, here in batches of 3 and 1
    assert metrics["image_size"] == [16, 16]  # UNet sample size 8 x VAE scale factor 2
    assert metrics["mean_abs_change"] > 0  # the negative prompt changed the images
    assert 0 <= metrics["changed_pixel_share"] <= 1


def test_same_seed_same_negative_prompt_gives_the_same_images(tiny_sd):
    pipe = load_guided_pipeline(tiny_sd, torch.device("cpu"))
    kwargs = dict(guidance_scale=5.0, num_inference_steps=2)
    prompts = [SD_PROMPT] * 2
    first = generate(pipe, prompts, None, seeds=[3, 4], batch_size=2, **kwargs)
    second = generate(pipe, prompts, None, seeds=[3, 4], batch_size=2, **kwargs)
    assert first.shape == (2, 16, 16, 3) and first.dtype == np.float32
    assert 0 <= first.min() and first.max() <= 1
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first[0], first[1])  # different seeds, different noise
    # image i comes from seeds[i] whatever the batching
    alone = generate(pipe, prompts[:1], None, seeds=[4], batch_size=1, **kwargs)
    np.testing.assert_allclose(alone[0], first[1], atol=1e-4)
    # the negative prompt is what changes the image, not the noise
    negative = generate(pipe, prompts, "desert", seeds=[3, 4], batch_size=2, **kwargs)
    assert np.abs(negative - first).mean() > 0


def test_a_folder_without_model_index_is_refused(tmp_path):
    folder = tmp_path / "not-a-pipeline"
    folder.mkdir()
    with pytest.raises(DataError, match=re.escape(str(folder)) + ".*model_index.json"):
        load_guided_pipeline(folder, torch.device("cpu"))


def test_a_pipeline_without_negative_prompt_is_refused(tmp_path):
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    unet = UNet2DModel(sample_size=8, in_channels=3, out_channels=3, block_out_channels=(4, 8), layers_per_block=1,
                       norm_num_groups=2, down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2)
    folder = tmp_path / "ddpm"
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=10)).save_pretrained(str(folder))
    with pytest.raises(DataError, match="DDPMPipeline does not take a negative_prompt"):
        load_guided_pipeline(folder, torch.device("cpu"))
