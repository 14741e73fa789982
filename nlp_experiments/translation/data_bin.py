"""The prepared data of the translation experiment (``data-bin/multi30k``): built once by fairseq-preprocess,
checked by every command that reads it.

:func:`prepare_data_bin`: Multi30k -> SentencePiece (:mod:`.export_multi30k`) -> ONE fairseq dictionary over
every language's training pieces -> every language pair binarized with it (``--srcdict``/``--tgtdict``), so all
languages share one vocabulary. The language list is stored with the data (``languages.txt``,
:func:`~nlp_experiments.translation.artifacts.read_languages`): every later command reads it from there, since
the order of the languages sets the indices of the language tokens in the dictionary.
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

from mvadl.data import DataError
from mvadl.io import atomic_write_text
from nlp_experiments.fairseq_runs import FairseqError, fairseq_command, run_logged
from nlp_experiments.translation.artifacts import LANGUAGES_FILE, write_languages

logger = logging.getLogger(__name__)

#: Where a ``--quick`` run of a translation command reads and writes, unless told otherwise: folders of its own,
#: so that a smoke run never writes into a real run's data-bin, checkpoints or run folders (its records go to
#: runs/quick/results, mvadl.results).
QUICK_FOLDERS = {"data_bin": "runs/quick/data-bin/multi30k", "checkpoints": "runs/quick/checkpoints/nmt",
                 "runs_dir": "runs/quick/nmt"}


def prepare_data_bin(data_dir: str | Path | None, langs: Sequence[str], out_dir: Path, vocab_size: int,
                     max_train_lines: int | None = None, force: bool = False) -> bool:
    """Build ``out_dir`` (dictionary, binarized pairs, ``spm.model``, ``langid.json``, ``languages.txt``,
    ``raw/``, ``spm/``).

    Built in ``<out_dir>.tmp`` and moved into place, so an interrupted run never leaves a half-made folder.
    ``out_dir/.stamp`` records the settings; with the same settings (and not ``force``) nothing is redone
    and ``False`` is returned (a data-bin made before the language list was stored gets its ``languages.txt``).
    """
    from mvadl.data import data_root
    from nlp_experiments.translation.export_multi30k import export

    root = data_root(data_dir)
    if not (root / "multi30k").is_dir():
        raise DataError(f"{root / 'multi30k'}: missing (run scripts/get_data.sh or set DATA_DIR)")
    stamp = (f"langs={','.join(langs)} vocab={vocab_size} max_train_lines={max_train_lines or 'all'} "
             f"data={root.resolve()}")
    if not force and (out_dir / ".stamp").is_file() and (out_dir / ".stamp").read_text().strip() == stamp:
        if not (out_dir / LANGUAGES_FILE).is_file():
            write_languages(out_dir, list(langs))
        logger.info("%s is up to date (%s)", out_dir, stamp)
        return False
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        logger.info("exporting text and training SentencePiece (%s)", stamp)
        export(root, list(langs), tmp, vocab_size, max_train_lines)

        # One dictionary over the training pieces of every language.
        all_pieces = tmp / "spm" / "train.all"
        all_pieces.write_text("".join((tmp / "spm" / f"train.{lang}").read_text(encoding="utf-8") for lang in langs),
                              encoding="utf-8")
        log = tmp / "preprocess.log"
        run_logged(fairseq_command("preprocess", "--only-source", "--dict-only", "--trainpref", all_pieces,
                                   "--destdir", tmp / "dict", "--workers", 2), log)
        (tmp / "dict" / "dict.txt").rename(tmp / "dict.txt")
        shutil.rmtree(tmp / "dict")
        all_pieces.unlink()

        # Each unordered pair once; fairseq's multilingual loader reads a-b files for b-a as well.
        for i, src in enumerate(langs):
            for tgt in langs[i + 1:]:
                logger.info("binarizing %s-%s", src, tgt)
                run_logged(fairseq_command(
                    "preprocess", "--source-lang", src, "--target-lang", tgt, "--trainpref", tmp / "spm" / "train",
                    "--validpref", tmp / "spm" / "valid", "--testpref", tmp / "spm" / "test",
                    "--srcdict", tmp / "dict.txt", "--tgtdict", tmp / "dict.txt", "--destdir", tmp, "--workers", 2),
                    log, append=True)
        write_languages(tmp, list(langs))
        atomic_write_text(tmp / ".stamp", stamp + "\n")
    except FairseqError:
        raise  # keep <out_dir>.tmp: its preprocess.log, named in the error, says why (the next run starts over)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # nothing half-made stays behind
        raise
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    entries = len((out_dir / "dict.txt").read_text(encoding="utf-8").splitlines())
    logger.info("done -> %s (%d dictionary entries)", out_dir, entries)
    return True


def require_data_bin(data_bin: Path, *files: str) -> None:
    """A :class:`DataError` unless ``data_bin`` holds ``files`` (made by scripts/prepare_multi30k.sh)."""
    for name in files:
        if not (Path(data_bin) / name).is_file():
            raise DataError(f"{Path(data_bin) / name}: missing (run scripts/prepare_multi30k.sh)")

