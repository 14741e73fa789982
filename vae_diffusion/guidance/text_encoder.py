"""The text side of the text-to-digit model: a word-level tokenizer over the caption vocabulary and a small
transformer text encoder trained jointly with the UNet.

The tokenizer is a Hugging Face ``PreTrainedTokenizerFast`` around a ``tokenizers`` WordLevel model, so a
``DiffusionPipeline`` saves and loads it like the CLIP tokenizer of Stable Diffusion. Every prompt becomes
``<s> w_1 ... w_n </s> <pad> ...`` of fixed length; words outside the vocabulary map to ``<unk>``.

The encoder (a diffusers ``ModelMixin``/``ConfigMixin``, so ``save_pretrained``/``from_pretrained`` work)
returns one state per token, ``h = TransformerEncoder(E[ids] + P[positions])`` of shape
``[batch, max_length, hidden_size]``: the ``encoder_hidden_states`` the UNet's cross-attention reads
(Stable Diffusion uses CLIP's last hidden states the same way).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.normalizers import Lowercase
from tokenizers.pre_tokenizers import Whitespace
from tokenizers.processors import TemplateProcessing
from torch import nn
from transformers import PreTrainedTokenizerFast

from vae_diffusion.guidance.captions import CAPTION_WORDS

SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>")
MAX_LENGTH = 12  # longest caption "a red seven on a gray background" is 7 words + <s> </s>


def build_tokenizer(words: Sequence[str] = CAPTION_WORDS, max_length: int = MAX_LENGTH) -> PreTrainedTokenizerFast:
    """A lower-casing, whitespace-splitting word-level tokenizer: ids 0-3 are the special tokens."""
    vocab = {token: i for i, token in enumerate((*SPECIAL_TOKENS, *dict.fromkeys(w.lower() for w in words)))}
    core = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    core.normalizer = Lowercase()  # saved with the tokenizer, so a reloaded one lower-cases too
    core.pre_tokenizer = Whitespace()
    core.post_processor = TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]),
                                                                                   ("</s>", vocab["</s>"])])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", model_max_length=max_length)


def tokenize(tokenizer: PreTrainedTokenizerFast, prompts: str | Sequence[str]) -> torch.Tensor:
    """Token ids ``[batch, model_max_length]`` (a 1-D tensor for one string), padded and truncated."""
    single = isinstance(prompts, str)
    batch = [prompts] if single else list(prompts)
    ids = tokenizer(batch, padding="max_length", truncation=True,
                    max_length=tokenizer.model_max_length, return_tensors="pt").input_ids
    return ids[0] if single else ids


class CaptionTextEncoder(ModelMixin, ConfigMixin):
    """Token embeddings + learned positions + a pre-norm transformer encoder; output ``[B, L, hidden_size]``."""

    @register_to_config
    def __init__(self, vocab_size: int, hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4,
                 max_length: int = MAX_LENGTH, pad_token_id: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, hidden_size, padding_idx=pad_token_id)
        self.position_embedding = nn.Parameter(torch.zeros(max_length, hidden_size))
        nn.init.normal_(self.position_embedding, std=0.02)
        layer = nn.TransformerEncoderLayer(hidden_size, num_heads, dim_feedforward=4 * hidden_size,
                                           dropout=dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.final_norm = nn.LayerNorm(hidden_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[-1] > self.config.max_length:
            raise ValueError(f"{input_ids.shape[-1]} tokens, the encoder takes at most {self.config.max_length}")
        padding = input_ids.eq(self.config.pad_token_id)
        h = self.token_embedding(input_ids) + self.position_embedding[: input_ids.shape[-1]]
        return self.final_norm(self.encoder(h, src_key_padding_mask=padding))
