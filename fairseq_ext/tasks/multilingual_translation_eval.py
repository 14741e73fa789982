"""fairseq's ``translation_multi_simple_epoch`` plus per-language-pair validation (assignment section 3).

``--task mva_multilingual_translation`` trains exactly as ``translation_multi_simple_epoch`` does (one model,
one shared dictionary, several pairs sampled into one iterator, target-language tokens from
``--encoder-langtok`` / ``--decoder-langtok``). What it adds is on the validation side:

* each validation batch is split by language pair, and the criterion runs on each part, so besides the
  usual ``loss`` (all pairs pooled) it logs ``loss_<src>-<tgt>`` for every pair and ``loss_mean``, the
  unweighted mean over pairs (base 2, like fairseq's ``loss``);
* with ``--eval-pair-bleu`` it also translates each validation sentence into its requested language
  (greedy by default; ``--eval-pair-generation-args``), removes the language token and SentencePiece,
  and logs sacreBLEU ``bleu_<pair>`` / ``chrf_<pair>`` (corpus scores of the whole validation split, by
  sacreBLEU's public ``corpus_score`` of the translations of all its batches, which the task collects from the
  validation logging outputs: :meth:`MultilingualTranslationPairEvalTask.reduce_metrics`)
  and ``off_target_<pair>``, the share of outputs that a character n-gram language identifier
  (``langid.json``, fitted by ``scripts/prepare_multi30k.sh``, applied by
  :class:`fairseq_ext.tasks.pair_scores.LanguageProfile`) puts in another language than the requested one,
  with the means over pairs ``bleu_mean``, ``chrf_mean``, ``off_target_mean``.

All of these go through fairseq's metrics, so they reach the console, the json log and TensorBoard, and
``--best-checkpoint-metric loss_mean`` (or ``bleu_mean --maximize-best-checkpoint-metric``) selects the
checkpoint on the mean over pairs.
"""
from __future__ import annotations

import json
import logging
import math
import os
from argparse import Namespace
from bisect import bisect_right
from collections import OrderedDict

import torch
from fairseq import utils
from fairseq.data import ConcatDataset
from fairseq.logging import metrics
from fairseq.tasks import register_task
from fairseq.tasks.translation_multi_simple_epoch import TranslationMultiSimpleEpochTask

from fairseq_ext.tasks.pair_scores import METRIC_NAMES, LanguageProfile, corpus_score

logger = logging.getLogger(__name__)


class LanguagePairTaggedDataset(ConcatDataset):
    """The language-pair datasets of one split, concatenated, with each batch tagged by pair and split.

    ``sample["split"]`` is the split's name, ``sample["id"]`` the index in the concatenation (unique across pairs)
    and ``sample["lang_pair"]``
    lists, in the batch's order, the pair (``"de-fr"``) of each sentence.
    """

    def __init__(self, keyed_datasets, split: str):
        super().__init__([dataset for _, dataset in keyed_datasets])
        self.split = split
        # fairseq's keys are "<data category>:<src>-<tgt>", e.g. "main:de-fr".
        self.lang_pairs = [key.split(":", 1)[-1] for key, _ in keyed_datasets]

    def __getitem__(self, idx):
        item = dict(super().__getitem__(idx))
        item["id"] = idx
        return item

    def lang_pair_of(self, idx: int) -> str:
        return self.lang_pairs[bisect_right(self.cumulative_sizes, idx)]

    def collater(self, samples, **extra_args):
        batch = super().collater(samples, **extra_args)
        if batch and "id" in batch:
            batch["lang_pair"] = [self.lang_pair_of(i) for i in batch["id"].tolist()]
            batch["split"] = self.split
        return batch


def select_sentences(sample: dict, index: torch.Tensor, pad: int) -> dict:
    """The sub-batch of ``sample`` holding the sentences at ``index`` (batch positions)."""
    batch_size = sample["target"].size(0)

    def pick(value):
        if torch.is_tensor(value) and value.dim() > 0 and value.size(0) == batch_size:
            return value.index_select(0, index)
        return value

    sub = {key: pick(value) for key, value in sample.items() if key not in ("net_input", "lang_pair")}
    sub["net_input"] = {key: pick(value) for key, value in sample["net_input"].items()}
    sub["ntokens"] = int(sub["target"].ne(pad).sum())
    sub["nsentences"] = int(index.numel())
    return sub


def check_language_pairs(args) -> None:
    """Fail early, with one clear message, on a malformed or unavailable language pair."""
    pairs = args.lang_pairs.split(",") if isinstance(args.lang_pairs, str) else list(args.lang_pairs or [])
    if not pairs:
        raise ValueError("--lang-pairs is required (e.g. en-de,de-en,en-fr,fr-en)")
    data_path = utils.split_paths(args.data)[0]
    langs = args.langs.split(",") if isinstance(args.langs, str) else args.langs
    training = args.source_lang is None and args.target_lang is None
    requested = pairs if training else [f"{args.source_lang}-{args.target_lang}"]
    for pair in requested:
        parts = pair.split("-")
        if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
            raise ValueError(f"malformed language pair '{pair}': expected <src>-<tgt> with two different languages")
        for lang in parts:
            if langs and lang not in langs:
                raise ValueError(f"language pair '{pair}': '{lang}' is not in --langs {','.join(langs)}")
            if not os.path.exists(os.path.join(data_path, f"dict.{lang}.txt")):
                raise ValueError(f"language pair '{pair}': no dictionary {data_path}/dict.{lang}.txt "
                                 f"(was '{lang}' prepared by scripts/prepare_multi30k.sh --langs?)")
    if training:
        split = getattr(args, "train_subset", "train")
        for pair in pairs:
            src, tgt = pair.split("-")
            candidates = [os.path.join(data_path, f"{split}.{a}-{b}.{src}.idx") for a, b in ((src, tgt), (tgt, src))]
            if not any(os.path.exists(path) for path in candidates):
                raise ValueError(f"language pair '{pair}': no binarized {split} data in {data_path} "
                                 f"(looked for {' or '.join(os.path.basename(p) for p in candidates)})")


@register_task("mva_multilingual_translation")
class MultilingualTranslationPairEvalTask(TranslationMultiSimpleEpochTask):
    """``translation_multi_simple_epoch`` with per-pair validation loss, BLEU, chrF and off-target rate."""

    @staticmethod
    def add_args(parser):
        TranslationMultiSimpleEpochTask.add_args(parser)
        parser.add_argument("--eval-pair-bleu", action="store_true",
                            help="during validation, translate every pair and log sacreBLEU BLEU/chrF and the "
                                 "off-target rate per pair (slow on CPU)")
        parser.add_argument("--eval-pair-generation-args", default='{"beam": 1, "max_len_a": 1.2, "max_len_b": 10}',
                            help="generation arguments for --eval-pair-bleu, as JSON (default: greedy)")
        parser.add_argument("--eval-pair-post-process", default="sentencepiece",
                            help="subword removal before scoring: 'sentencepiece' (default) or 'none'")
        parser.add_argument("--langid-profile", default=None,
                            help="language identifier profiles for the off-target rate "
                                 "(default: langid.json in the data folder; skipped if absent)")
        parser.add_argument("--eval-pair-print-samples", action="store_true",
                            help="log one hypothesis/reference per pair and validation batch")

    @classmethod
    def setup_task(cls, args, **kwargs):
        check_language_pairs(args)
        return super().setup_task(args, **kwargs)

    def __init__(self, args, langs, dicts, training):
        super().__init__(args, langs, dicts, training)
        self.sequence_generator = None
        self._language_identifier = None
        #: ``{pair: [(hypothesis, reference), ...]}`` of the split being validated (``--eval-pair-bleu``)
        self.validation_translations: dict[str, list[tuple[str, str]]] = {}
        self._validation_split = None

    def begin_valid_epoch(self, epoch, model):
        """A new validation: forget the previous one's translations."""
        super().begin_valid_epoch(epoch, model)
        self.validation_translations, self._validation_split = {}, None

    # ----------------------------------------------------------------------------------------- data
    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        """Training data as fairseq builds it; every other split as a :class:`LanguagePairTaggedDataset`."""
        is_train = self.training and split == getattr(self.args, "train_subset", "train")
        if is_train or self.args.lang_tok_replacing_bos_eos:
            return super().load_dataset(split, epoch=epoch, combine=combine, **kwargs)
        shard_epoch = self.data_manager.estimate_global_pass_epoch(epoch)
        datasets, _ = self.data_manager.load_split_datasets(
            split, self.training, epoch=epoch, combine=combine, shard_epoch=shard_epoch, **kwargs)
        self.datasets[split] = LanguagePairTaggedDataset(datasets, split)
        logger.info("%s: %s", split, ", ".join(f"{pair} ({len(d)})" for pair, d in
                                             zip(self.datasets[split].lang_pairs, self.datasets[split].datasets)))

    # ----------------------------------------------------------------------------------- generation
    def language_token_indices(self) -> set[int]:
        """Dictionary indices of every language token (``__en__`` ...), stripped from outputs."""
        dictionary = self.target_dictionary
        return {i for i, symbol in enumerate(dictionary.symbols) if symbol in {f"__{lang}__" for lang in self.langs}}

    def build_model(self, args, from_checkpoint=False):
        model = super().build_model(args, from_checkpoint)
        if getattr(args, "eval_pair_bleu", False):
            generation_args = Namespace(**json.loads(args.eval_pair_generation_args))
            # FairseqTask's generator: the parent's one needs a fixed --target-lang, which training has not.
            self.sequence_generator = super(TranslationMultiSimpleEpochTask, self).build_generator(
                [model], generation_args)
        return model

    @property
    def language_identifier(self):
        if self._language_identifier is None:
            path = self.args.langid_profile or os.path.join(utils.split_paths(self.args.data)[0], "langid.json")
            if os.path.exists(path):
                self._language_identifier = LanguageProfile(path)
            elif self.args.langid_profile:
                raise FileNotFoundError(f"--langid-profile {path} does not exist")
            else:
                logger.warning("no %s: the off-target rate is not reported", path)
                self._language_identifier = False
        return self._language_identifier

    def _decode(self, tokens, unk_string):
        post_process = None if self.args.eval_pair_post_process == "none" else self.args.eval_pair_post_process
        text = self.target_dictionary.string(tokens.int().cpu(), bpe_symbol=post_process, unk_string=unk_string,
                                             extra_symbols_to_ignore=self.language_token_indices())
        return text

    def translate_sub_batch(self, sample, model, tgt_lang):
        """Greedy/beam translations and references (plain text) of a sub-batch whose target is ``tgt_lang``."""
        _, tgt_langtok_spec = self.args.langtoks["main"]
        prefix_tokens = None
        if tgt_langtok_spec:
            langtok = self.data_manager.get_decoder_langtok(tgt_lang, tgt_langtok_spec)
            prefix_tokens = torch.full((sample["target"].size(0), 1), langtok).to(sample["target"])
        outputs = self.sequence_generator.generate([model], sample, prefix_tokens=prefix_tokens)
        pad = self.target_dictionary.pad()
        hypotheses = [self._decode(out[0]["tokens"], "UNKNOWNTOKENINHYP") for out in outputs]
        references = [self._decode(utils.strip_pad(t, pad), "UNKNOWNTOKENINREF") for t in sample["target"]]
        return hypotheses, references

    # ----------------------------------------------------------------------------------- validation
    def valid_step(self, sample, model, criterion):
        """Criterion on each language pair's part of the batch; the pooled keys are their sums."""
        lang_pairs = sample.get("lang_pair") if isinstance(sample, dict) else None
        if not lang_pairs:
            return super().valid_step(sample, model, criterion)
        model.eval()
        pad = self.target_dictionary.pad()
        total_loss, total_size, logging_output = 0.0, 0, {}
        with torch.no_grad():
            for pair in OrderedDict.fromkeys(lang_pairs):
                index = torch.tensor([i for i, p in enumerate(lang_pairs) if p == pair],
                                     device=sample["target"].device)
                sub = select_sentences(sample, index, pad)
                loss, sample_size, pair_log = criterion(model, sub)
                total_loss, total_size = total_loss + loss, total_size + sample_size
                for key, value in pair_log.items():
                    logging_output[key] = logging_output.get(key, 0) + value
                logging_output[f"pair_loss:{pair}"] = float(pair_log["loss"])
                logging_output[f"pair_sample_size:{pair}"] = float(sample_size)
                if self.sequence_generator is not None:
                    logging_output.update(self._generation_log(pair, sub, model))
        if self.sequence_generator is not None:
            logging_output["valid_split"] = sample.get("split")
        return total_loss, total_size, logging_output

    def _generation_log(self, pair, sample, model) -> dict:
        tgt_lang = pair.split("-")[1]
        hypotheses, references = self.translate_sub_batch(sample, model, tgt_lang)
        if self.args.eval_pair_print_samples:
            logger.info("[%s] hypothesis: %s | reference: %s", pair, hypotheses[0], references[0])
        log = {f"pair_hypotheses:{pair}": float(len(hypotheses)),
               f"pair_translations:{pair}": list(zip(hypotheses, references))}
        identifier = self.language_identifier
        if identifier:
            predicted = identifier.predict_many(hypotheses)
            log[f"pair_off_target:{pair}"] = float(sum(lang != tgt_lang for lang in predicted))
        return log

    @staticmethod
    def logging_outputs_can_be_summed(criterion) -> bool:
        """No: validation logging outputs may hold translations (text), which only fairseq's all_gather_list
        moves between workers (with several workers and long validation batches raise --all-gather-list-size)."""
        return False

    def reduce_metrics(self, logging_outputs, criterion):
        """Per-pair sums as hidden meters (``_pair_...``), per-pair and mean scores as derived metrics.

        BLEU and chrF are corpus scores, which sums of batch scores cannot give: the (hypothesis, reference)
        pairs of the validation logging outputs (gathered from every worker) are collected in
        :attr:`validation_translations`, reset when a validation (:meth:`begin_valid_epoch`) or a split begins,
        and the derived metrics score all of them with sacreBLEU's ``corpus_score``.
        """
        super().reduce_metrics(logging_outputs, criterion)
        sums = {}
        for log in logging_outputs:
            split = log.get("valid_split")
            if split is not None and split != self._validation_split:
                self.validation_translations, self._validation_split = {}, split
            for key, value in log.items():
                if key.startswith("pair_translations:"):
                    self.validation_translations.setdefault(key.split(":", 1)[1], []).extend(value)
                elif key.startswith("pair_"):
                    sums[key] = sums.get(key, 0.0) + float(utils.item(value))
        if not sums:
            return
        for key, value in sums.items():
            metrics.log_scalar_sum("_" + key, value)
        pairs = sorted({key.split(":", 1)[1] for key in sums if key.startswith("pair_sample_size:")})
        scored = [pair for pair in pairs if f"pair_hypotheses:{pair}" in sums]
        for pair in pairs:
            metrics.log_derived(f"loss_{pair}", lambda m, p=pair: pair_loss(m, p))
            if pair in scored:
                for name in METRIC_NAMES:
                    metrics.log_derived(f"{name}_{pair}", lambda m, p=pair, n=name: self.pair_score(p, n))
            if f"pair_off_target:{pair}" in sums:
                metrics.log_derived(f"off_target_{pair}", lambda m, p=pair: pair_off_target(m, p))
        metrics.log_derived("loss_mean", lambda m: mean_over_pairs(m, pair_loss, "_pair_sample_size:"))
        if scored:
            for name in METRIC_NAMES:
                metrics.log_derived(f"{name}_mean", lambda m, n=name: mean_over_pairs(
                    m, lambda mm, p: self.pair_score(p, n), "_pair_hypotheses:"))
        if any(key.startswith("pair_off_target:") for key in sums):
            metrics.log_derived("off_target_mean",
                                lambda m: mean_over_pairs(m, pair_off_target, "_pair_off_target:"))

    def pair_score(self, pair: str, name: str) -> float:
        """sacreBLEU corpus ``name`` score of every translation of ``pair`` in the split being validated."""
        translations = self.validation_translations.get(pair, [])
        return round(corpus_score(name, [h for h, _ in translations], [r for _, r in translations]), 2)


def pair_loss(meters, pair: str) -> float:
    """Loss of one pair in bits per token: summed loss / summed sample size / ln 2 (fairseq's convention)."""
    size = meters[f"_pair_sample_size:{pair}"].sum
    return round(meters[f"_pair_loss:{pair}"].sum / size / math.log(2), 3) if size else float("nan")


def pair_off_target(meters, pair: str) -> float:
    n = meters[f"_pair_hypotheses:{pair}"].sum
    return round(meters[f"_pair_off_target:{pair}"].sum / n, 4) if n else float("nan")


def mean_over_pairs(meters, fn, marker: str) -> float:
    """Unweighted mean of ``fn(meters, pair)`` over the pairs whose ``marker`` meter exists."""
    pairs = [key[len(marker):] for key in meters.keys() if key.startswith(marker)]
    values = [fn(meters, pair) for pair in pairs]
    return round(sum(values) / len(values), 4) if values else float("nan")
