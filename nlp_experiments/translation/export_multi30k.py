"""Export Multi30k through the project's data layer, train ONE joint SentencePiece model, encode every split.

Reads ``$DATA_DIR/multi30k/{train,val,test_2016_flickr}.{lang}.gz`` with :func:`mvadl.data.read_parallel`
(which checks that the files exist, are aligned line by line and have no empty line), then writes under
the output folder:

* ``raw/{train,valid,test}.{lang}``: the original sentences (references for sacreBLEU);
* ``spm.model`` / ``spm.vocab``: one SentencePiece model trained on the training text of all languages,
  so every language shares one subword vocabulary (assignment section 3: one multilingual dictionary);
* ``spm/{train,valid,test}.{lang}``: every split encoded into space-separated pieces, the input of
  ``fairseq-preprocess``;
* ``langid.json``: a character n-gram language identifier fitted on the training text
  (:mod:`nlp_experiments.translation.langid`), used for the off-target rate.

fairseq's split names are used (``val`` -> ``valid``, ``test_2016_flickr`` -> ``test``). The entry point
:mod:`nlp_experiments.translation.prepare` runs this, then fairseq-preprocess.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path

from mvadl.data import DataError, read_parallel
from mvadl.data.multi30k import LANGUAGES
from mvadl.io import atomic_path, atomic_write_text

logger = logging.getLogger(__name__)

#: Multi30k split name -> fairseq split name.
FAIRSEQ_SPLITS = {"train": "train", "val": "valid", "test_2016_flickr": "test"}
#: The evaluation splits in words, as the report names them (the curves record carries them, ``data_set_names``).
DATA_SET_NAMES = {"test_2016_flickr": "Multi30k test 2016 (Flickr)", "val": "Multi30k validation"}


def parse_langs(text: str) -> list[str]:
    """``"en,de,fr"`` -> ``["en", "de", "fr"]``, checked against Multi30k's languages."""
    langs = [lang.strip() for lang in text.split(",") if lang.strip()]
    unknown = [lang for lang in langs if lang not in LANGUAGES]
    if unknown:
        raise DataError(f"unknown language(s) {', '.join(unknown)} (Multi30k has {', '.join(LANGUAGES)})")
    if len(langs) < 2 or len(set(langs)) != len(langs):
        raise DataError(f"need at least two distinct languages, got '{text}'")
    return langs


def train_sentencepiece(sentences: list[str], prefix: Path, vocab_size: int) -> Path:
    """Train a unigram SentencePiece model on ``sentences`` (all languages mixed); returns ``prefix.model``.

    ``character_coverage=1.0`` keeps every accented character of de/fr; ``hard_vocab_limit=False`` lets a
    tiny corpus (tests) use a smaller vocabulary than requested instead of failing.
    """
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
        num_threads=2, minloglevel=2,
    )
    processor = spm.SentencePieceProcessor(model_proto=model.getvalue())
    with atomic_path(prefix.with_suffix(".model")) as tmp:
        tmp.write_bytes(model.getvalue())
    vocab = "".join(f"{processor.id_to_piece(i)}\t{processor.get_score(i)}\n"
                    for i in range(processor.get_piece_size()))
    atomic_write_text(prefix.with_suffix(".vocab"), vocab)
    logger.info("SentencePiece: %d pieces -> %s", processor.get_piece_size(), prefix.with_suffix(".model"))
    return prefix.with_suffix(".model")


def encode_lines(model_path: Path, lines: list[str]) -> list[str]:
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(model_path))
    return [" ".join(pieces) for pieces in processor.encode(lines, out_type=str)]


def write_lines(path: Path, lines: list[str]) -> None:
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def export(data_dir: str | Path | None, langs: list[str], out_dir: Path, vocab_size: int,
           max_train_lines: int | None = None) -> dict[str, int]:
    """Do the whole export; returns ``{fairseq_split: number of lines}``."""
    from nlp_experiments.translation.langid import CharNgramLanguageIdentifier

    texts = {}
    for split, name in FAIRSEQ_SPLITS.items():
        texts[name] = read_parallel(split, langs, root=data_dir)
        if name == "train" and max_train_lines:
            texts[name] = {lang: lines[:max_train_lines] for lang, lines in texts[name].items()}
        logger.info("%s: %d aligned lines in %s", split, len(texts[name][langs[0]]), ",".join(langs))
    for name, by_lang in texts.items():
        for lang, lines in by_lang.items():
            write_lines(out_dir / "raw" / f"{name}.{lang}", lines)

    model = train_sentencepiece([line for lang in langs for line in texts["train"][lang]],
                                out_dir / "spm", vocab_size)
    for name, by_lang in texts.items():
        for lang, lines in by_lang.items():
            write_lines(out_dir / "spm" / f"{name}.{lang}", encode_lines(model, lines))
    CharNgramLanguageIdentifier.fit(texts["train"]).save(out_dir / "langid.json")
    return {name: len(by_lang[langs[0]]) for name, by_lang in texts.items()}

