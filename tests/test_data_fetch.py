import gzip
import hashlib
import shutil
import urllib.error
from pathlib import Path

import pytest

from mvadl.data import DataError
from mvadl.data.catalog import DATASETS, DataFile, Dataset
from mvadl.data.download import ensure_datasets, verify
from tests.conftest import REAL_DATA_DIR, needs_real_data


def offline_downloader(url, output_file, pooch):
    raise urllib.error.URLError("network unreachable")


def test_offline_lists_every_missing_file_and_says_how_to_fix(tmp_path):
    with pytest.raises(DataError) as info:
        ensure_datasets(tmp_path, ["wikitext-2"], downloader=offline_downloader)
    message = str(info.value)
    assert message.startswith(f"3 data file(s) missing under {tmp_path}")
    for split in ("train", "valid", "test"):
        assert f"wikitext-2/{split}.txt (download failed:" in message
    assert "set DATA_DIR (or --data-dir)" in message
    assert not (tmp_path / "wikitext-2").exists() or not any((tmp_path / "wikitext-2").iterdir())


def test_download_is_verified_and_bad_download_leaves_nothing(tmp_path, monkeypatch):
    good = b"hello\n"
    spec = DataFile("x/file.txt", ("http://a/file.txt", "http://b/file.txt"), sha256=hashlib.sha256(good).hexdigest())
    monkeypatch.setitem(DATASETS, "toy", Dataset("toy", (spec,)))
    served = {"http://a/file.txt": b"corrupted", "http://b/file.txt": good}
    asked = []

    def fake(url, output_file, pooch):  # a pooch downloader
        asked.append(url)
        Path(output_file).write_bytes(served[url])

    assert ensure_datasets(tmp_path, ["toy"], downloader=fake) == [tmp_path / "x/file.txt"]
    assert (tmp_path / "x/file.txt").read_bytes() == good  # first mirror failed its checksum, second served
    assert asked == ["http://a/file.txt", "http://b/file.txt"]
    assert ensure_datasets(tmp_path, ["toy"], downloader=fake) == [tmp_path / "x/file.txt"]
    assert len(asked) == 2  # a file already there is verified, not downloaded again

    (tmp_path / "x/file.txt").unlink()
    served["http://b/file.txt"] = b"also bad"
    with pytest.raises(DataError, match=r"x/file.txt \(download failed: .*checksum mismatch"):
        ensure_datasets(tmp_path, ["toy"], downloader=fake)
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == []  # no partial or temp file left


def test_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match=r"unknown dataset 'cifar10'"):
        ensure_datasets(tmp_path, ["cifar10"])


def test_content_md5_accepts_regzipped_copy(tmp_path):
    """A .gz whose bytes differ (header name/mtime) but whose content is the original passes."""
    content = b"IDX content"
    path = tmp_path / "f.gz"
    with gzip.GzipFile(path, "wb", mtime=123) as f:
        f.write(content)
    spec = DataFile("f.gz", (), sha256="0" * 64, md5="0" * 32, content_md5=hashlib.md5(content).hexdigest())
    verify(path, spec)
    with pytest.raises(DataError, match=r"f.gz: checksum mismatch"):
        verify(path, DataFile("f.gz", (), sha256="0" * 64, content_md5="1" * 32))


@needs_real_data
def test_real_data_verifies_offline():
    paths = ensure_datasets(REAL_DATA_DIR, list(DATASETS), offline=True)
    assert len(paths) == 4 + 12 + 3


@needs_real_data
def test_corrupted_real_copy_is_rejected(tmp_path):
    shutil.copytree(REAL_DATA_DIR / "wikitext-2", tmp_path / "wikitext-2")
    (tmp_path / "wikitext-2" / "valid.txt").chmod(0o644)
    with open(tmp_path / "wikitext-2" / "valid.txt", "ab") as f:
        f.write(b"extra\n")
    with pytest.raises(DataError, match=r"wikitext-2/valid.txt: checksum mismatch"):
        ensure_datasets(tmp_path, ["wikitext-2"], offline=True)


def test_get_data_script_offline_message(tmp_path):
    """The README's entry point: one message naming what is missing and how to set DATA_DIR; exit 1."""
    import os
    import subprocess
    import sys

    from mvadl import REPO_ROOT

    env = {**os.environ, "DATA_DIR": str(tmp_path / "empty"), "PY": sys.executable}
    proc = subprocess.run(["bash", str(REPO_ROOT / "scripts/get_data.sh"), "--datasets", "mnist", "--offline"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: 4 data file(s) missing under {tmp_path / 'empty'}")
    assert "set DATA_DIR (or --data-dir)" in proc.stderr
    assert not (tmp_path / "empty").exists()
