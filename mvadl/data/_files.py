"""Opening data files with errors that name the file."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from mvadl.data.errors import DataError


def require_folder(folder: Path, what: str) -> Path:
    """Return ``folder`` if it is a directory, else raise a :class:`DataError` that says how to get it."""
    if not folder.is_dir():
        raise DataError(f"{folder}: {what} folder not found; run scripts/get_data.sh or set DATA_DIR "
                        "(or --data-dir) to a data root that contains it")
    return folder


def read_bytes(path: Path) -> bytes:
    """Read a file, transparently decompressing ``.gz``; corrupt or truncated gzip raises :class:`DataError`."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as e:
        raise DataError(f"{path}: cannot decompress ({e}); the file is truncated or corrupt") from e


def read_lines(path: Path) -> list[str]:
    """Read a UTF-8 text file (optionally ``.gz``) as lines without their line ends."""
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 at byte {e.start}") from e
    return text.splitlines()
