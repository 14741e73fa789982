"""Download (when online) and verify datasets: the library behind ``python -m mvadl.data.fetch``.

Files already present are verified, never re-downloaded. Missing files are downloaded from their
canonical public locations into a temporary file, verified, then renamed into place, so an
interrupted or failed download leaves nothing behind. If some files cannot be obtained (no network),
one error lists all of them and says how to point ``DATA_DIR`` at a folder that holds them.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

from mvadl.data.catalog import DATASETS, DataFile, Dataset
from mvadl.data.errors import DataError
from mvadl.io import atomic_path

log = logging.getLogger(__name__)

#: ``downloader(url, destination)``; raises ``OSError`` (``URLError`` included) or an HTTP error when it
#: cannot fetch.
Downloader = Callable[[str, Path], None]


def _digest(path: Path, algorithm: str, *, decompress: bool = False) -> str:
    h = hashlib.new(algorithm)
    opener = gzip.open if decompress else open
    try:
        with opener(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except (EOFError, OSError) as e:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot decompress ({e}); the file is truncated or corrupt") from e
    return h.hexdigest()


def verify(path: Path, spec: DataFile) -> None:
    """Raise :class:`DataError` unless ``path`` matches one of the checksums of ``spec``."""
    sha256 = _digest(path, "sha256")
    if spec.sha256 == sha256:
        return
    if spec.md5 and spec.md5 == _digest(path, "md5"):
        return
    if spec.content_md5 and spec.content_md5 == _digest(path, "md5", decompress=True):
        return
    expected = ", ".join(f"{k} {v}" for k, v in
                         (("sha256", spec.sha256), ("md5", spec.md5), ("content md5", spec.content_md5)) if v)
    raise DataError(f"{path}: checksum mismatch (sha256 {sha256}; expected {expected}); "
                    "delete the file to download it again")


def urllib_download(url: str, destination: Path, timeout: float = 30.0) -> None:
    """Stream ``url`` into ``destination`` with a progress bar."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(destination, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name, leave=False) as bar:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _download(spec: DataFile, path: Path, downloader: Downloader) -> list[str]:
    """Try each URL of ``spec``; return the failure reasons (empty list on success)."""
    failures = []
    for url in spec.urls:
        try:
            with atomic_path(path) as tmp:
                downloader(url, tmp)
                verify(tmp, spec)
            log.info("downloaded %s", path)
            return []
        except (OSError, http.client.HTTPException, DataError) as e:
            failures.append(f"{url}: {e}")
    return failures


def ensure_datasets(root: Path, names: Iterable[str], *, offline: bool = False,
                    downloader: Downloader = urllib_download) -> list[Path]:
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
