"""Shared fixtures: tiny generated datasets in the on-disk layouts of the real ones."""
from __future__ import annotations

import contextlib
import gzip
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: Real data root for the few tests that check the actual files (``DATA_DIR``, as CI sets it).
REAL_DATA_DIR = Path(os.environ["DATA_DIR"]) if os.environ.get("DATA_DIR") else None
needs_real_data = pytest.mark.skipif(
    REAL_DATA_DIR is None or not REAL_DATA_DIR.is_dir(), reason="set DATA_DIR to the real data root")


def usage_error(capsys: pytest.CaptureFixture, parse: Callable[[], object]) -> str:
    """The message of a command line that ``parse`` must refuse as a usage error (``SystemExit(2)``), as one line:
    tyro draws it in a box, wrapped to the terminal's width."""
    with pytest.raises(SystemExit) as exit_info:
        parse()
    assert exit_info.value.code == 2
    lines = (re.sub(r"^[\s│|]+|[\s│|]+$", "", line) for line in capsys.readouterr().err.splitlines())
    return " ".join(" ".join(lines).split())


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    """Write ``array`` (uint8) as a gzipped IDX file; ``magic`` overrides the computed magic number."""
    magic = magic if magic is not None else 0x0800 + array.ndim
    header = magic.to_bytes(4, "big") + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    return path


def write_tiny_mnist(root: Path) -> Path:
    """Make ``root`` a data root whose mnist/ holds 12 train and 5 test random images in real IDX format."""
    rng = np.random.default_rng(0)
    folder = root / "mnist"
    for prefix, n in (("train", 12), ("t10k", 5)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    return root


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """accelerate keeps one process-wide state whose mixed precision cannot change once set; every training
    of a run is one process, but the tests train many (accelerate's own test case resets it the same way)."""
    yield
    from accelerate.state import AcceleratorState, GradientState
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    """A data root with the tiny MNIST of :func:`write_tiny_mnist`."""
    return write_tiny_mnist(tmp_path)


def write_lines_gz(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    return path


@pytest.fixture
def tiny_multi30k(tmp_path: Path) -> Path:
    """A data root whose multi30k/ holds 3 aligned captions per split in en, de, fr."""
    captions = {
        "en": ["a dog runs .", "two men talk .", "a red car ."],
        "de": ["ein hund rennt .", "zwei männer reden .", "ein rotes auto ."],
        "fr": ["un chien court .", "deux hommes parlent .", "une voiture rouge ."],
    }
    for split in ("train", "val", "test_2016_flickr"):
        for lang, lines in captions.items():
            write_lines_gz(tmp_path / "multi30k" / f"{split}.{lang}.gz", lines)
    return tmp_path


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch threads; the previous number is restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def sampling_cache_dir(tmp_path_factory):
    """Sampling runs keep their finished batches in a folder of the test session, never under runs/."""
    with pytest.MonkeyPatch.context() as patch:
        folder = tmp_path_factory.mktemp("sampling_cache")
        patch.setenv("SAMPLING_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest (and steadily on a shared machine) on one thread; restored afterwards."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def module_results(tmp_path_factory):
    """For the runs a module's fixtures share: ``RESULTS_DIR`` in a fresh folder (returned) and one torch thread,
    both for the whole module."""
    results = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as patch, torch_threads(1):
        patch.setenv("RESULTS_DIR", str(results))
        yield results
