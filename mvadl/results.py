"""Where experiments' outputs go and how a record is written: ``results/<part>/<name>.json``.

Experiments write records through :meth:`mvadl.runner.Context.record` (which calls :func:`write_results`
with the revision the run started from); ``--quick`` runs' outputs go to ``runs/quick/results``
(:func:`results_dir`). Each file holds the experiment's configuration, its metrics, the seed, the git
revision of the code that produced it, the wall time and the device, so a number in the docs can be traced
to a run and re-made with the command in the README.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import math
import os
import platform
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mvadl import REPO_ROOT
from mvadl.io import atomic_write_text

#: Where the records and figures of a ``--quick`` run go, so that a smoke run never touches ``results/``.
QUICK_RESULTS_DIR = REPO_ROOT / "runs" / "quick" / "results"
#: Whether the run in progress is a ``--quick`` one (set by :func:`quick_run`, which the runner calls).
_quick_run = False


def results_dir(quick: bool | None = None) -> Path:
    """Where records and figures go: ``$RESULTS_DIR`` if set (tests use a temporary one); else
    :data:`QUICK_RESULTS_DIR` for a ``--quick`` run; else ``<repo>/results``.

    ``quick``: default, whether the run that :func:`mvadl.runner.main` is running is a quick one. This is the one
    place that keeps ``--quick`` outputs out of ``results/``: experiments neither rename their outputs nor
    redirect them, and a quick run reads back what quick runs wrote.
    """
    if os.environ.get("RESULTS_DIR"):
        return Path(os.environ["RESULTS_DIR"])
    return QUICK_RESULTS_DIR if (_quick_run if quick is None else quick) else REPO_ROOT / "results"


@contextlib.contextmanager
def quick_run(quick: bool) -> Iterator[None]:
    """While in this block, :func:`results_dir` is that of a quick run if ``quick`` (every thread sees it)."""
    global _quick_run
    previous, _quick_run = _quick_run, bool(quick)
    try:
        yield
    finally:
        _quick_run = previous


def git_revision(repo: Path = REPO_ROOT) -> str:
    """``HEAD``'s commit id, with ``-dirty`` appended when tracked files outside ``results/`` have uncommitted
    changes.

    ``$GIT_REVISION`` wins when set: a copy of the tree without ``.git`` (a remote GPU machine, say) is
    told the revision it runs.
    """
    if os.environ.get("GIT_REVISION"):
        return os.environ["GIT_REVISION"]
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                             check=True).stdout.strip()
        # results/ is output only: a record written by the same pipeline a moment ago does not make it dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)results"], cwd=repo, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")


def describe_device(device: Any = None) -> str:
    """Human-readable name of the device a run used, e.g. ``"NVIDIA H100 80GB HBM3"`` or ``"cpu (2 cores)"``."""
    import torch

    device = torch.device(device) if device is not None else (
        torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu"))
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({os.cpu_count()} cores, {platform.machine()})"


def to_jsonable(value: Any) -> Any:
    """Convert configs and metrics (Namespaces, Paths, numpy/torch scalars, tuples) to plain JSON.

    Non-finite floats become ``None`` so the file stays strict JSON.
    """
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()  # numpy / torch scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "tolist"):
        return to_jsonable(value.tolist())
    return str(value)


class UnknownRevisionError(RuntimeError):
    """A reference run would be recorded without the git revision of its code."""


def write_results(part: str, name: str, *, config: Any, metrics: Mapping[str, Any], seed: int | None,
                  wall_time_s: float, device: str | None = None, quick: bool = False,
                  root: Path | None = None, revision: str | None = None) -> Path:
    """Write ``<root>/<part>/<name>.json`` atomically and return its path (``root``: :func:`results_dir`).

    The low-level writer: experiments record through :meth:`mvadl.runner.Context.record`, which gives it the
    revision the run started from and the run's seed, device and wall time.

    ``metrics`` keys are also copied to the top level of the file, so ``json["test_elbo"]`` works as
    well as ``json["metrics"]["test_elbo"]``; the reserved keys below cannot be used as metric names.
    A reference run (not ``quick``) written into the repository's ``results/`` must know its git
    revision: outside a git checkout set ``$GIT_REVISION``, else :class:`UnknownRevisionError` is raised
    before anything is written. ``revision``: the revision of the code that ran (default: the tree's now).
    """
    root = Path(root) if root is not None else results_dir()
    revision = revision or git_revision()
    if revision == "unknown" and not quick and root.resolve() == (REPO_ROOT / "results").resolve():
        raise UnknownRevisionError(
            f"results/{part}/{name}.json: the git revision of the code is unknown (no .git here); "
            "set GIT_REVISION=<commit> for a copy of the tree without its history")
    record = {
        "part": part,
        "name": name,
        "seed": seed,
        "device": device if device is not None else describe_device(),
        "wall_time_s": round(float(wall_time_s), 3),
        "git_revision": revision,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config": to_jsonable(config),
        "metrics": to_jsonable(dict(metrics)),
    }
    clash = sorted(set(metrics) & set(record))
    if clash:
        raise ValueError(f"metric names {clash} clash with reserved result keys")
    record.update(record["metrics"])
    path = root / part / f"{name}.json"
    atomic_write_text(path, json.dumps(record, indent=2, sort_keys=False, allow_nan=False) + "\n")
    return path


def read_results(part: str, name: str) -> dict:
    """Load a results file written by :func:`write_results`."""
    return json.loads((results_dir() / part / f"{name}.json").read_text(encoding="utf-8"))
