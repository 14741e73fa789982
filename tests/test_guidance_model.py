"""Text-to-digit model parts: captions and rendering, tokenizer, text encoder, detector, guidance line, pipeline."""
import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler

from vae_diffusion.guidance.captions import (
    CAPTION_WORDS,
    STROKE_COLOURS,
    CaptionConfig,
    CaptionedMnist,
    caption,
    draw_attributes,
    render,
)
from vae_diffusion.guidance.detect import centroid_shift, mask_iou, read_digits
from vae_diffusion.guidance.model import TextConditionedDenoiser, build_text_unet
from vae_diffusion.guidance.pipeline import TextToDigitPipeline, classifier_free_guidance
from vae_diffusion.guidance.text_encoder import MAX_LENGTH, CaptionTextEncoder, build_tokenizer, tokenize

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def stroke_digit(size: int = 28) -> np.ndarray:
    """A crude '1': a vertical bar of full grey level."""
    grey = np.zeros((size, size), np.uint8)
    grey[6:22, 12:16] = 255
    return grey


def test_caption_template():
    assert caption(7, "red", "gray") == "a red seven on a gray background"
    assert caption(7) == "a seven"
    assert caption(None, "blue") == "a blue digit"
    assert set(caption(3, "yellow", "black").split()) <= set(CAPTION_WORDS)


def test_render_mixes_background_and_stroke_by_grey_level():
    grey = np.array([[0, 255, 128]], np.uint8)
    x = render(grey, "red", "gray")
    assert x.shape == (3, 1, 3)
    np.testing.assert_allclose(x[:, 0, 0], [0.42] * 3, atol=1e-6)  # background
    np.testing.assert_allclose(x[:, 0, 1], [0.92, 0.10, 0.10], atol=1e-6)  # stroke
    np.testing.assert_allclose(x[:, 0, 2], 0.5 * (x[:, 0, 0] + x[:, 0, 1]), atol=3e-3)


def test_attribute_priors_follow_the_caption_config():
    strokes, backgrounds = draw_attributes(20000, seed=0)
    assert abs(np.mean(strokes == "red") - CaptionConfig.red_share) < 0.02
    assert abs(np.mean(backgrounds == "gray") - CaptionConfig.gray_share) < 0.02
    assert set(strokes) == set(STROKE_COLOURS) and set(backgrounds) == {"black", "gray"}
    strokes, backgrounds = draw_attributes(20000, seed=0, config=CaptionConfig(red_share=0.2, gray_share=0.9))
    assert abs(np.mean(strokes == "red") - 0.2) < 0.02 and abs(np.mean(strokes == "white") - 0.2) < 0.02
    assert abs(np.mean(backgrounds == "gray") - 0.9) < 0.02
    with pytest.raises(ValueError, match="red_share"):
        draw_attributes(10, seed=0, config=CaptionConfig(red_share=1.5))
    from vae_diffusion.guidance.training import TrainConfig

    with pytest.raises(ValueError, match=r"^gray_share must lie in \[0, 1\], got -0.1$"):  # refused when parsed
        TrainConfig(gray_share=-0.1)


def test_dataset_items_and_caption_statistics():
    tokenizer = build_tokenizer()
    images = np.stack([stroke_digit()] * 400)
    dataset = CaptionedMnist(images, np.full(400, 7), lambda c: tokenize(tokenizer, c), seed=1,
                             config=CaptionConfig(mention_probability=0.5, digit_drop_probability=0.0,
                                                  caption_dropout=0.2))
    image, ids = dataset[0]
    assert image.shape == (3, 32, 32) and image.min() >= -1 and image.max() <= 1
    assert ids.shape == (MAX_LENGTH,) and ids.dtype == torch.long
    rng = np.random.default_rng(0)
    captions = [dataset.caption_for(i, rng) for i in range(400)]
    empty = np.mean([c == "" for c in captions])
    assert 0.12 < empty < 0.28  # caption dropout 0.2
    named = [c for c in captions if c]
    assert all("seven" in c for c in named)
    mentions_colour = np.mean([any(colour in c.split()[:2] for colour in STROKE_COLOURS) for c in named])
    assert 0.38 < mentions_colour < 0.62
    with pytest.raises(ValueError, match="cannot pad"):
        CaptionedMnist(np.zeros((2, 40, 40), np.uint8), np.zeros(2), lambda c: c)


def test_captions_depend_only_on_seed_epoch_and_index():
    """What makes the resume exact: an item is the same whatever was read before, and new in the next epoch."""
    tokenizer = build_tokenizer()
    images, labels = np.stack([stroke_digit()] * 40), np.arange(40) % 10

    def dataset(seed=3):
        return CaptionedMnist(images, labels, lambda c: tokenize(tokenizer, c), seed=seed)

    forward, backward = dataset(), dataset()
    ids_forward = [forward[i][1] for i in range(40)]
    ids_backward = [backward[i][1] for i in reversed(range(40))][::-1]
    assert all(torch.equal(a, b) for a, b in zip(ids_forward, ids_backward))
    assert all(torch.equal(forward[i][1], ids_forward[i]) for i in range(40))  # reading again: the same caption
    forward.set_epoch(1)
    assert sum(not torch.equal(forward[i][1], ids_forward[i]) for i in range(40)) > 10  # a new draw per epoch
    assert any(not torch.equal(dataset(seed=4)[i][1], ids_forward[i]) for i in range(40))


def test_tokenizer_round_trip_and_unknown_words(tmp_path):
    tokenizer = build_tokenizer()
    ids = tokenize(tokenizer, "A Red seven")
    assert tokenizer.convert_ids_to_tokens(ids[:5].tolist()) == ["<s>", "a", "red", "seven", "</s>"]
    assert tokenize(tokenizer, "a purple seven")[2] == tokenizer.unk_token_id
    assert tokenize(tokenizer, ["", "red"]).shape == (2, MAX_LENGTH)
    tokenizer.save_pretrained(tmp_path)
    from transformers import AutoTokenizer

    assert torch.equal(tokenize(AutoTokenizer.from_pretrained(tmp_path), "a red seven"), ids)


def test_text_encoder_ignores_padding_and_rejects_long_input():
    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    encoder = CaptionTextEncoder(len(tokenizer), hidden_size=16, num_layers=1).eval()
    ids = tokenize(tokenizer, ["a seven", "a red seven"])
    states = encoder(ids)
    assert states.shape == (2, MAX_LENGTH, 16)
    assert not torch.allclose(states[0, 1], states[1, 1])
    # the states of real tokens do not depend on how many pads follow
    short = encoder(ids[:1, :6])
    torch.testing.assert_close(short[0, :4], states[0, :4], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="at most"):
        encoder(torch.zeros(1, MAX_LENGTH + 1, dtype=torch.long))


def test_classifier_free_guidance_line():
    uncond, text = torch.tensor([1.0, -2.0]), torch.tensor([3.0, 0.0])
    torch.testing.assert_close(classifier_free_guidance(uncond, text, 1.0), text)
    torch.testing.assert_close(classifier_free_guidance(uncond, text, 0.0), uncond)
    torch.testing.assert_close(classifier_free_guidance(uncond, text, 7.5), torch.tensor([16.0, 13.0]))


def test_detector_reads_rendered_digits():
    grey = np.pad(stroke_digit(), 2)
    images = np.stack([render(grey, s, b) for s, b in [("red", "black"), ("blue", "gray"), ("white", "gray"),
                                                       ("yellow", "black"), ("green", "gray")]])
    reading = read_digits(images)
    assert reading.stroke_names == ["red", "blue", "white", "yellow", "green"]
    assert reading.background_names == ["black", "gray", "gray", "black", "gray"]
    truth = np.broadcast_to(grey > 127, reading.masks.shape)
    np.testing.assert_array_equal(reading.masks, truth)
    # channels-last input reads the same
    assert read_digits(images.transpose(0, 2, 3, 1)).stroke_names == reading.stroke_names
    with pytest.raises(ValueError, match="RGB"):
        read_digits(np.zeros((2, 32, 32)))


def test_mask_iou():
    a = np.zeros((3, 4, 4), bool)
    b = a.copy()
    a[0, :2], b[0, 1:3] = True, True  # rows 0-1 vs rows 1-2: IoU 4/12
    a[1, 0, 0] = True  # vs empty: 0
    np.testing.assert_allclose(mask_iou(a, b), [1 / 3, 0.0, 1.0])


def tiny_pipeline() -> TextToDigitPipeline:
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    encoder = CaptionTextEncoder(len(tokenizer), hidden_size=16, num_layers=1)
    unet = build_text_unet(widths=(8, 16), cross_attention_dim=16, attention_head_dim=4, norm_num_groups=4)
    return TextToDigitPipeline(unet=unet, scheduler=DDIMScheduler(clip_sample=False), text_encoder=encoder,
                               tokenizer=tokenizer)


def test_denoiser_rejects_mismatched_widths():
    unet = build_text_unet(widths=(8, 16), cross_attention_dim=16, attention_head_dim=4, norm_num_groups=4)
    with pytest.raises(ValueError, match="cross_attention_dim"):
        TextConditionedDenoiser(unet, CaptionTextEncoder(30, hidden_size=32))


def test_pipeline_negative_prompt_same_noise_and_round_trip(tmp_path):
    pipe = tiny_pipeline()

    def run(p, negative=None, scale=5.0, seed=0):
        return p(["a seven", "a two"], negative_prompt=negative, guidance_scale=scale, num_inference_steps=3,
                 generator=[torch.Generator().manual_seed(seed + i) for i in range(2)], output_type="np").images

    base = run(pipe)
    assert base.shape == (2, 32, 32, 3) and base.min() >= 0 and base.max() <= 1
    np.testing.assert_array_equal(run(pipe), base)  # same seeds -> same noise -> same images
    assert np.abs(run(pipe, "red") - base).max() > 1e-4  # the negative prompt replaces the unconditional branch
    np.testing.assert_allclose(run(pipe, "", 5.0), base, atol=1e-6)  # "" is the unconditional prompt
    # at scale 1 the guidance line is the conditional prediction alone, and the pipeline does not compute the
    # unconditional branch: the negative prompt cannot act, the images are bit-identical (the study's s = 1 row
    # counts them as identical pairs and runs no test)
    np.testing.assert_array_equal(run(pipe, "red", 1.0), run(pipe, None, 1.0))
    assert np.abs(run(pipe, seed=5) - base).max() > 1e-3

    pipe.save_pretrained(tmp_path / "pipe")
    loaded = TextToDigitPipeline.from_pretrained(tmp_path / "pipe")
    assert type(loaded.text_encoder) is CaptionTextEncoder
    np.testing.assert_allclose(run(loaded, "red"), run(pipe, "red"), atol=1e-4)
    images = loaded("a red one", num_inference_steps=2, generator=torch.Generator().manual_seed(0),
                    num_images_per_prompt=3).images
    assert len(images) == 3 and images[0].size == (32, 32)  # PIL by default
    with pytest.raises(ValueError, match="negative_prompt"):
        loaded(["a one", "a two"], negative_prompt=["red"], num_inference_steps=2)


def test_pipeline_refuses_an_unknown_output_type_before_sampling(monkeypatch):
    pipe = tiny_pipeline()
    monkeypatch.setattr(pipe.unet, "forward", lambda *args, **kwargs: pytest.fail("sampled"))
    with pytest.raises(ValueError, match="output_type must be one of 'pil', 'np', 'pt', got 'jpg'"):
        pipe("a seven", num_inference_steps=2, output_type="jpg")


def test_centroid_shift_separates_position_from_shape():
    a = np.zeros((3, 8, 8), bool)
    b = np.zeros((3, 8, 8), bool)
    a[0, 2:4, 2:4] = True
    b[0, 5:7, 2:4] = True          # same shape, moved 3 rows down: IoU 0, shift 3
    a[1, 3:5, 3:5] = True
    b[1, 2:6, 2:6] = True          # thicker around the same centre: shift 0
    a[2, 1, 1] = True              # b[2] empty: no position
    shift = centroid_shift(a, b)
    np.testing.assert_allclose(shift[:2], [3.0, 0.0])
    assert np.isnan(shift[2])
    assert mask_iou(a, b)[0] == 0.0 and mask_iou(a, b)[1] == 0.25


def test_prompt_following_counts_obeyed_colours_and_images_without_a_digit():
    from vae_diffusion.guidance.captions import STROKE_COLOURS
    from vae_diffusion.guidance.evaluation import colour_prompts, concept_kind, prompt_following

    digits, colours = colour_prompts(100)
    assert list(digits[:12]) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1] and colours[:11] == ["red"] * 10 + ["green"]
    assert {(d, c) for d, c in zip(digits, colours)} == {(d, c) for d in range(10) for c in STROKE_COLOURS}
    assert (concept_kind("red"), concept_kind("gray")) == ("stroke", "background")

    grey = np.pad(stroke_digit(), 2)
    images = np.stack([render(grey, "red", "black"), render(grey, "blue", "gray"), render(grey, "green", "black"),
                       render(np.zeros_like(grey), "red", "black")])  # the last one: no stroke at all
    probabilities = np.full((4, 10), 0.01)
    probabilities[[0, 1, 2, 3], [7, 7, 3, 7]] = [0.91, 0.45, 0.91, 0.91]  # image 1: too unsure to be a digit
    result = prompt_following(read_digits(images), probabilities, np.array([7, 7, 7, 7]),
                              ["red", "blue", "blue", "red"])
    assert result["colour_obeyed_rate"] == 0.5  # image 2 is green, asked blue; image 3 has no strokes
    assert result["digit_rate"] == 0.75 and result["no_digit_count"] == 2  # image 1 (unsure), image 3 (empty)


def test_unet_attention_levels_and_pooled_text():
    kwargs = dict(widths=(8, 16, 16), cross_attention_dim=16, attention_head_dim=4, norm_num_groups=4)
    unet = build_text_unet(28, attention_levels=1, **kwargs)
    assert unet.config.down_block_types == ("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D")
    assert unet.config.up_block_types == ("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D")
    assert build_text_unet(28, **kwargs).config.down_block_types[1:] == ("CrossAttnDownBlock2D",) * 2  # default
    with pytest.raises(ValueError, match="attention_levels 4"):
        build_text_unet(28, attention_levels=4, **kwargs)
    with pytest.raises(ValueError, match="sample_size 30"):
        build_text_unet(30, **kwargs)
    torch.manual_seed(0)
    pooled = build_text_unet(28, attention_levels=0, pooled_text=True, **kwargs)
    assert pooled.config.addition_embed_type == "text"
    x, t = torch.randn(1, 3, 28, 28), torch.tensor([500])
    text_a, text_b = torch.randn(1, 5, 16), torch.randn(1, 5, 16)
    with torch.no_grad():
        # without cross-attention outside the middle block, the pooled text still reaches every ResNet block:
        # zeroing the middle block's attention output leaves a prediction that depends on the text
        for block in pooled.mid_block.attentions:
            block.proj_out.weight.zero_()
            block.proj_out.bias.zero_()
        a = pooled(x, t, encoder_hidden_states=text_a).sample
        b = pooled(x, t, encoder_hidden_states=text_b).sample
    assert a.shape == (1, 3, 28, 28) and (a - b).abs().max() > 1e-4


def test_min_snr_weighting_lowers_the_weight_of_clean_timesteps():
    from diffusers import DDPMScheduler

    from vae_diffusion.diffusion.losses import epsilon_prediction_loss

    scheduler = DDPMScheduler(num_train_timesteps=1000)

    class ConstantError(torch.nn.Module):  # clean images are 0, so noisy = sqrt(1 - abar_t) eps: error 1 everywhere
        def forward(self, noisy, timesteps):
            noise = noisy / (1 - scheduler.alphas_cumprod[timesteps]).sqrt()[:, None, None, None]
            return type("Output", (), {"sample": noise + 1})

    def loss(snr_gamma):
        torch.manual_seed(0)
        return epsilon_prediction_loss(scheduler, snr_gamma)(ConstantError(), (torch.zeros(4096, 1, 2, 2),)).item()

    assert loss(None) == pytest.approx(1.0, rel=1e-4) and loss(1e9) == pytest.approx(1.0, rel=1e-4)
    snr = scheduler.alphas_cumprod / (1 - scheduler.alphas_cumprod)
    expected = (snr.clamp(max=5.0) / snr).mean().item()  # the weight averaged over uniform timesteps
    assert expected < 0.95 and loss(5.0) == pytest.approx(expected, abs=0.01)


def test_the_concept_is_the_one_palette_colour_the_negative_prompt_names():
    from mvadl.data import DataError
    from vae_diffusion.guidance.evaluation import digit_concept

    assert digit_concept("m", "red", None) == "red"
    assert digit_concept("m", "Gray background", None) == "gray"
    assert digit_concept("m", "desert", "yellow") == "yellow"  # an explicit concept wins
    for negative in ("desert", "red on a gray background"):
        with pytest.raises(DataError, match=r"^m: the text-to-digit study counts .*exactly one is needed"):
            digit_concept("m", negative, None)
    with pytest.raises(DataError, match="--concept is 'purple'"):
        digit_concept("m", "red", "purple")
