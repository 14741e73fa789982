"""Captioned coloured MNIST: every digit is painted with a stroke colour on a background colour, and its caption
mentions each attribute only some of the time.

Rendering (per pixel, MNIST grey level ``g`` in [0, 1] used as the stroke's coverage)::

    image = (1 - g) * background_rgb + g * stroke_rgb

Captions come from one template, ``"a [<stroke>] <digit> [on a <background> background]"``, where each bracket
is kept with probability ``mention_probability``; the digit word is replaced by ``"digit"`` with probability
``digit_drop_probability``, and the whole caption by ``""`` with probability ``caption_dropout`` (the
unconditional case that classifier-free guidance needs). When a caption leaves the colour out the model has
to fill it in from the data's prior, and that prior is deliberately skewed: half of all digits are red
(:attr:`CaptionConfig.red_share`, :func:`stroke_prior`). A prompt such as "a seven" therefore often yields red
strokes, a concept the prompt did not ask for, which a negative prompt "red" can then remove (assignment Q19;
under strong guidance the model adds white strokes more often still, the study's main concept).

Randomness: an image's colours come from the run's base stream (``seed``); the caption of image i in epoch e
is drawn from its own stream ``derive_seed(seed, "caption", e, i)``, so it depends on nothing else (not on the
order of access, not on earlier epochs) and a resumed run sees exactly the captions of the uninterrupted one.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
from torch.utils.data import Dataset

from mvadl.seeding import numpy_generator

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Stroke colours (RGB in [0, 1]); red is the default colour of a digit (:func:`stroke_prior`).
STROKE_COLOURS = {
    "red": (0.92, 0.10, 0.10),
    "green": (0.10, 0.80, 0.15),
    "blue": (0.15, 0.35, 1.00),
    "yellow": (0.95, 0.88, 0.10),
    "white": (1.00, 1.00, 1.00),
}
BACKGROUND_COLOURS = {"black": (0.0, 0.0, 0.0), "gray": (0.42, 0.42, 0.42)}
#: Every word a caption can contain (the tokenizer's vocabulary after its special tokens).
CAPTION_WORDS = ("a", "on", "background", "digit", *DIGIT_WORDS, *STROKE_COLOURS,
                 *(c for c in BACKGROUND_COLOURS if c not in STROKE_COLOURS))


@dataclass(frozen=True)
class CaptionConfig:
    mention_probability: float = 0.5  # per attribute (stroke colour, background)
    digit_drop_probability: float = 0.1
    caption_dropout: float = 0.1
    red_share: float = 0.5  # of the training digits; the other stroke colours share the rest equally
    gray_share: float = 0.3  # of the training digits on a gray background (the others: black)

    def __post_init__(self) -> None:
        for field in fields(self):  # every option is a probability
            if not 0.0 <= (value := getattr(self, field.name)) <= 1.0:
                raise ValueError(f"{field.name} must lie in [0, 1], got {value}")


def stroke_prior(red_share: float) -> dict[str, float]:
    """Each stroke colour's share of the training data: ``red_share`` for red, the rest split equally."""
    others = [c for c in STROKE_COLOURS if c != "red"]
    return {"red": red_share, **{c: (1.0 - red_share) / len(others) for c in others}}


def background_prior(gray_share: float) -> dict[str, float]:
    """Each background colour's share of the training data."""
    return {"black": 1.0 - gray_share, "gray": gray_share}


def caption(digit: int | None, stroke: str | None = None, background: str | None = None) -> str:
    """The caption template: ``caption(7, "red", "gray")`` -> "a red seven on a gray background";
    ``None`` leaves an attribute out (``digit=None`` says "digit")."""
    words = ["a"] + ([stroke] if stroke else []) + [DIGIT_WORDS[digit] if digit is not None else "digit"]
    if background:
        words += ["on", "a", background, "background"]
    return " ".join(words)


def render(grey: np.ndarray, stroke: str, background: str) -> np.ndarray:
    """``(1 - g) * background + g * stroke`` for MNIST grey levels ``grey`` ([..., H, W] uint8 or [0, 1]);
    returns float32 ``[..., 3, H, W]`` in [0, 1]."""
    g = grey.astype(np.float32) / 255.0 if grey.dtype == np.uint8 else grey.astype(np.float32)
    s = np.asarray(STROKE_COLOURS[stroke], np.float32)[:, None, None]
    b = np.asarray(BACKGROUND_COLOURS[background], np.float32)[:, None, None]
    g = g[..., None, :, :]
    return (1.0 - g) * b + g * s


def draw_attributes(n: int, seed: int, config: CaptionConfig = CaptionConfig()) -> tuple[np.ndarray, np.ndarray]:
    """Stroke and background colour names for ``n`` images, drawn from the priors of ``config`` with the base
    stream of ``seed``."""
    rng = numpy_generator(seed)
    strokes_p, backgrounds_p = stroke_prior(config.red_share), background_prior(config.gray_share)
    strokes = rng.choice(list(strokes_p), size=n, p=list(strokes_p.values()))
    backgrounds = rng.choice(list(backgrounds_p), size=n, p=list(backgrounds_p.values()))
    return strokes, backgrounds


class CaptionedMnist(Dataset):
    """``(image [3, size, size] in [-1, 1], input_ids)`` pairs.

    Each image's colours are fixed at construction (``seed``); its caption is drawn anew in every epoch
    (:meth:`set_epoch`, which the training loop calls), from the stream ``(seed, "caption", epoch, index)``, so
    over the epochs an image is seen with and without each attribute mentioned. ``tokenize`` maps a caption to
    a 1-D LongTensor of fixed length (see :func:`vae_diffusion.guidance.text_encoder.tokenize`).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, tokenize, *, size: int = 32, seed: int = 0,
                 config: CaptionConfig = CaptionConfig()) -> None:
        if images.ndim != 3 or len(images) != len(labels):
            raise ValueError(f"expected images [N, H, W] and N labels, got {images.shape} and {len(labels)}")
        pad = (size - images.shape[-1]) // 2
        if pad < 0 or size - images.shape[-1] != 2 * pad:
            raise ValueError(f"cannot pad {images.shape[-1]}-pixel images to {size}")
        self.grey = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
        self.labels = np.asarray(labels, dtype=np.int64)
        self.strokes, self.backgrounds = draw_attributes(len(images), seed, config)
        self.tokenize = tokenize
        self.config = config
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the captions of ``epoch`` from now on."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.labels)

    def caption_for(self, index: int, rng: np.random.Generator) -> str:
        c = self.config
        if rng.random() < c.caption_dropout:
            return ""
        return caption(None if rng.random() < c.digit_drop_probability else int(self.labels[index]),
                       self.strokes[index] if rng.random() < c.mention_probability else None,
                       self.backgrounds[index] if rng.random() < c.mention_probability else None)

    def __getitem__(self, index: int):
        image = torch.from_numpy(render(self.grey[index], self.strokes[index], self.backgrounds[index]))
        rng = numpy_generator(self.seed, "caption", self.epoch, int(index))
        return image * 2.0 - 1.0, self.tokenize(self.caption_for(index, rng))
