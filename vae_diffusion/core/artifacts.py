"""Versioned artefacts: files the experiments read that no experiment of this checkout writes.

They live under ``artifacts/<name>/v<N>/`` (committed, never overwritten: a retrained file becomes ``v<N+1>``),
and every results record of an experiment that reads one stores its sha256, so a number can be traced to the
exact bytes it was measured with. ``results/`` holds outputs only.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from mvadl import REPO_ROOT

ARTIFACTS_DIR = REPO_ROOT / "artifacts"


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


SUMS_FILE = "SHA256SUMS"


def write_sha256sums(folder: str | Path) -> dict[str, str]:
    """Hash every file under ``folder`` (relative POSIX paths, sorted) into ``folder/SHA256SUMS``, in the format
    ``sha256sum -c`` reads; returns the digests."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != SUMS_FILE)
    sums = {p.relative_to(folder).as_posix(): sha256_file(p) for p in files}
    (folder / SUMS_FILE).write_text("".join(f"{digest}  {name}\n" for name, digest in sums.items()), encoding="utf-8")
    return sums


def verify_artifact(folder: str | Path, pinned: tuple[str, str] | None = None) -> Path:
    """Check a shipped folder before use: every file ``SHA256SUMS`` lists has its digest, no file is unlisted, and
    ``pinned`` = ``(file, sha256)`` (the digest the code's default pins) matches. A mismatch is a DataError that
    names the file. Returns ``folder``."""
    from mvadl.data import DataError

    folder = Path(folder)
    sums_path = folder / SUMS_FILE
    try:
        lines = sums_path.read_text(encoding="utf-8").splitlines()
        listed = dict(reversed(line.split("  ", 1)) for line in lines if line.strip())
    except FileNotFoundError:
        raise DataError(f"{sums_path}: missing (a shipped folder lists its files' sha256 there)") from None
    except ValueError:
        raise DataError(f"{sums_path}: not in sha256sum format") from None
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != SUMS_FILE}
    if present - listed.keys():
        raise DataError(f"{folder}: files not listed in {SUMS_FILE}: {sorted(present - listed.keys())}")
    for name, digest in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path}: listed in {SUMS_FILE} but missing")
        if sha256_file(path) != digest:
            raise DataError(f"{path}: sha256 differs from {SUMS_FILE} (the file was changed or is incomplete)")
    if pinned is not None and listed.get(pinned[0]) != pinned[1]:
        raise DataError(f"{folder / pinned[0]}: sha256 {listed.get(pinned[0])} is not the pinned {pinned[1]}")
    return folder
