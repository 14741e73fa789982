"""WikiText-2 (Merity et al. 2016), the tokenized files of pytorch/examples (``<unk>`` kept)."""
from __future__ import annotations

from pathlib import Path

from mvadl.data._files import require_folder
from mvadl.data.errors import DataError
from mvadl.data.root import data_root

SPLITS = ("train", "valid", "test")


def wikitext2_path(split: str, root: str | Path | None = None) -> Path:
    """Path of ``wikitext-2/{split}.txt``, checked to exist and be non-empty."""
    if split not in SPLITS:
        raise DataError(f"unknown WikiText-2 split '{split}' (known: {', '.join(SPLITS)})")
    path = require_folder(data_root(root) / "wikitext-2", "WikiText-2") / f"{split}.txt"
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    return path
