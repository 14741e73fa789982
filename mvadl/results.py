"""Where experiments' outputs go and how a record is written: ``<results>/<part>/<name>.json``.

Experiments write records through :meth:`mvadl.runner.Context.record` (which calls :func:`write_results`
with the revision the run started from). Where a run writes is :func:`results_dir`, one rule for the whole
project, set by the runner for the run in progress:

* a reference run (``--reference``, which the reproduce scripts pass) writes the committed records, ``results/``;
* a ``--quick`` run writes ``runs/quick/results``;
* any other run, a development run, writes ``runs/results``;
* ``$RESULTS_DIR``, when set, wins over all three (tests use a temporary folder; the reproduce scripts give a
  seed other than the reference seed a results folder of its own).

Outside a run (the report, the redraw tools, a test calling a library function) :func:`results_dir` is the
committed ``results/``. What a run reads that an earlier run recorded (hypotheses, records to re-score) comes
from :func:`read_path`: the run's own folder when it holds the file, else, for a development run, the committed
record, so a development run can re-use the committed inputs without ever writing over them.

Each file holds the experiment's configuration, its metrics, the seed, the git revision of the code that produced
it, the wall time and the device, so a number in the docs can be traced to a run and re-made with the command in
the README.
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
from typing import Any, Literal

from mvadl import REPO_ROOT
from mvadl.io import atomic_write_text

#: Where the records and figures of a ``--quick`` run go, so that a smoke run never touches ``results/``.
QUICK_RESULTS_DIR = REPO_ROOT / "runs" / "quick" / "results"
#: Where the records and figures of a development run (neither ``--reference`` nor ``--quick``) go.
DEVELOPMENT_RESULTS_DIR = REPO_ROOT / "runs" / "results"

#: What a run is, for where it writes: ``reference`` (``results/``), ``development`` or ``quick``.
RunKind = Literal["reference", "development", "quick"]
#: The kind of the run in progress (set by :func:`recording_run`, which the runner calls); None outside a run.
_run_kind: RunKind | None = None


def reference_results_dir() -> Path:
    """The committed reference records: ``$RESULTS_DIR`` if set, else ``<repo>/results``. The report reads
    these; only a reference run writes them."""
    if os.environ.get("RESULTS_DIR"):
        return Path(os.environ["RESULTS_DIR"])
    return REPO_ROOT / "results"


def results_dir() -> Path:
    """Where the run in progress writes its records and figures: ``$RESULTS_DIR`` if set; else ``results/`` for a
    reference run, :data:`QUICK_RESULTS_DIR` for a ``--quick`` run, :data:`DEVELOPMENT_RESULTS_DIR` for any other
    run; outside a run, ``results/``.

    This is the one place that decides it: experiments neither rename their outputs nor redirect them.
    """
    if os.environ.get("RESULTS_DIR") or _run_kind in (None, "reference"):
        return reference_results_dir()
    return QUICK_RESULTS_DIR if _run_kind == "quick" else DEVELOPMENT_RESULTS_DIR


def read_path(*parts: str) -> Path:
    """Where a run reads a file or folder an earlier run recorded (``read_path("nmt", "hyps")``):
    ``results_dir() / parts`` when it exists; else, in a development run, the committed
    ``results/ / parts``. A ``--quick`` run reads only what quick runs wrote; a reference run, ``results/``."""
    own = results_dir().joinpath(*parts)
    if own.exists() or _run_kind != "development":
        return own
    return reference_results_dir().joinpath(*parts)


@contextlib.contextmanager
def recording_run(kind: RunKind | None) -> Iterator[Path]:
    """While in this block, :func:`results_dir` is that of a run of ``kind`` (every thread sees it); yields it."""
    global _run_kind
    previous, _run_kind = _run_kind, kind
    try:
        yield results_dir()
    finally:
        _run_kind = previous


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


def reference_refusal(revision: str, allow_dirty: bool = False) -> str | None:
    """Why a reference run may not start from the code at ``revision`` (:func:`git_revision`), or None.

    A reference record names the commit that made it, so a reference run starts from a committed tree:
    uncommitted changes to tracked files (``-dirty``) refuse it unless ``allow_dirty``; an unknown revision
    (no ``.git``, no ``$GIT_REVISION``) always does.
    """
    if revision == "unknown":
        return ("a reference run needs the git revision of its code, which is unknown here (no .git); "
                "set GIT_REVISION=<commit> for a copy of the tree without its history")
    if revision.endswith("-dirty") and not allow_dirty:
        return (f"a reference run starts from a commit, and tracked files have uncommitted changes "
                f"({revision}; see git status): commit them, or pass --allow-dirty to record the -dirty revision")
    return None


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
    """Load a results file written by :func:`write_results` (found by :func:`read_path`)."""
    return json.loads(read_path(part, f"{name}.json").read_text(encoding="utf-8"))
