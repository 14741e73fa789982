"""Download (when online) and verify datasets: the library behind ``python -m mvadl.data.fetch``.

Files already present are verified, never re-downloaded. Missing files are downloaded from their
canonical public locations by pooch (``pooch.retrieve``: into a temporary file, checked against the
file's sha256, then renamed into place), so an interrupted or failed download leaves nothing behind. If
some files cannot be obtained (no network), one error lists all of them and says how to point ``DATA_DIR``
at a folder that holds them.
"""
from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import pooch
import requests

from mvadl.data.catalog import DATASETS, DataFile, Dataset
from mvadl.data.errors import DataError

log = logging.getLogger(__name__)

#: A pooch downloader, ``downloader(url, output_file, pooch)``; None: pooch's own (HTTP with a progress bar).
Downloader = Callable[[str, str, object], None]


def _content_md5(path: Path) -> str:
    """md5 of the decompressed content of a ``.gz`` file (pooch hashes files as stored)."""
    h = hashlib.md5()
    try:
        with gzip.open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except (EOFError, OSError) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot decompress ({e}); the file is truncated or corrupt") from e
    return h.hexdigest()


def verify(path: Path, spec: DataFile) -> None:
    """Raise :class:`DataError` unless ``path`` matches one of the checksums of ``spec``."""
    sha256 = pooch.file_hash(str(path), alg="sha256")
    if spec.sha256 == sha256:
        return
    if spec.md5 and spec.md5 == pooch.file_hash(str(path), alg="md5"):
        return
    if spec.content_md5 and spec.content_md5 == _content_md5(path):
        return
    expected = ", ".join(f"{k} {v}" for k, v in
                         (("sha256", spec.sha256), ("md5", spec.md5), ("content md5", spec.content_md5)) if v)
    raise DataError(f"{path}: checksum mismatch (sha256 {sha256}; expected {expected}); "
                    "delete the file to download it again")


def _download(spec: DataFile, path: Path, downloader: Downloader | None) -> list[str]:
    """Try each URL of ``spec``; return the failure reasons (empty list on success)."""
    failures = []
    for url in spec.urls:
        try:
            pooch.retrieve(url, known_hash=f"sha256:{spec.sha256}", fname=path.name, path=path.parent,
                           downloader=downloader, progressbar=downloader is None)
            log.info("downloaded %s", path)
            return []
        except ValueError as e:  # pooch: the downloaded file's hash is not the known one
            failures.append(f"{url}: checksum mismatch ({e})")
        except (OSError, requests.exceptions.RequestException) as e:
            failures.append(f"{url}: {e}")
    return failures


def ensure_datasets(root: Path, names: Iterable[str], *, offline: bool = False,
                    downloader: Downloader | None = None) -> list[Path]:
    """Make sure every file of the named datasets is present under ``root`` and verified.

    Returns the verified paths. Raises :class:`DataError` naming every file that is missing and could
    not be downloaded (or is corrupt), with the way to point ``DATA_DIR`` at an existing copy.
    """
    datasets: list[Dataset] = []
    for name in names:
        if name not in DATASETS:
            raise DataError(f"unknown dataset '{name}' (known: {', '.join(DATASETS)})")
        datasets.append(DATASETS[name])

    verified, missing = [], []
    for dataset in datasets:
        for spec in dataset.files:
            path = root / spec.relpath
            if path.exists():
                verify(path, spec)
                verified.append(path)
                continue
            if offline:
                missing.append(f"{path} (offline mode)")
                continue
            failures = _download(spec, path, downloader)
            if failures:
                missing.append(f"{path} (download failed: {failures[-1]})")
            else:
                verified.append(path)
    if missing:
        raise DataError(
            f"{len(missing)} data file(s) missing under {root}:\n  " + "\n  ".join(missing) +
            "\nConnect to the internet and re-run scripts/get_data.sh, or set DATA_DIR (or --data-dir) "
            "to a folder that already holds mnist/, multi30k/ and wikitext-2/, e.g. DATA_DIR=../shared/data")
    return verified
