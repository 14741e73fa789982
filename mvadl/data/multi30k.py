"""Multi30k task 1: multi-parallel image captions, one sentence a line, line i of every language
file of a split being translations of the same caption."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mvadl.data._files import read_lines, require_folder
from mvadl.data.errors import DataError
from mvadl.data.root import data_root

LANGUAGES = ("en", "de", "fr", "cs")
SPLITS = ("train", "val", "test_2016_flickr")


def multi30k_path(split: str, lang: str, root: str | Path | None = None) -> Path:
    """Path of one split/language file, after checking both names and the folder."""
    if split not in SPLITS:
        raise DataError(f"unknown Multi30k split '{split}' (known: {', '.join(SPLITS)})")
    if lang not in LANGUAGES:
        raise DataError(f"unknown Multi30k language '{lang}' (known: {', '.join(LANGUAGES)})")
    folder = require_folder(data_root(root) / "multi30k", "Multi30k")
    return folder / f"{split}.{lang}.gz"


def read_parallel(split: str, langs: Sequence[str], root: str | Path | None = None) -> dict[str, list[str]]:
    """Read one split in several languages as ``{lang: [sentence, ...]}``, aligned line by line.

    Raises :class:`DataError` if a file is missing or corrupt, if the files' line counts differ
    (misaligned), or if any line is empty (an empty line would silently shift or pollute a pair).
    """
    if not langs:
        raise DataError("read_parallel needs at least one language")
    sentences: dict[str, list[str]] = {}
    for lang in langs:
        path = multi30k_path(split, lang, root)
        lines = read_lines(path)
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                raise DataError(f"{path}: line {number} is empty")
        sentences[lang] = lines
    counts = {lang: len(lines) for lang, lines in sentences.items()}
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{multi30k_path(split, lang, root)}: {n} lines" for lang, n in counts.items())
        raise DataError(f"misaligned Multi30k files ({detail})")
    return sentences
