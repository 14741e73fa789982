"""Checkpoint averaging: the parameters of the last N interval checkpoints of a fairseq-train run, averaged.

This is what fairseq's ``scripts/average_checkpoints.py --num-update-checkpoints N`` does (the script is in
fairseq's repository, not in its pip package): the checkpoints ``checkpoint_<epoch>_<updates>.pt`` that
``--save-interval-updates`` writes are sorted by updates, the last N are loaded, and every tensor of their
``model`` state is averaged; the rest of the file (config, optimizer history) is the last checkpoint's. The
checkpoints are loaded with ``torch.load(weights_only=True)``, allowing for these loads the one class fairseq
pickles besides tensors (:data:`FAIRSEQ_CHECKPOINT_GLOBALS`, the list of the plugin's ``fairseq_ext.compat``,
which this project does not import: tests/test_fairseq_plugin.py checks that both agree).
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

from mvadl.data import DataError
from mvadl.io import atomic_path

_INTERVAL_CHECKPOINT = re.compile(r"^checkpoint_\d+_(\d+)\.pt$")

#: The averaged checkpoint's file name in the run's checkpoint folder.
AVERAGED = "checkpoint_averaged.pt"
#: The classes fairseq-train's checkpoints pickle besides tensors and primitive containers.
FAIRSEQ_CHECKPOINT_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


def interval_checkpoints(save_dir: Path) -> list[tuple[int, Path]]:
    """``[(updates, path)]`` of the ``checkpoint_<epoch>_<updates>.pt`` files in ``save_dir``, by updates."""
    found = [(int(m.group(1)), path) for path in Path(save_dir).glob("checkpoint_*_*.pt")
             for m in [_INTERVAL_CHECKPOINT.match(path.name)] if m]
    return sorted(found)


def average_checkpoints(paths: Sequence[Path], output: Path) -> None:
    """Write to ``output`` the last of ``paths`` with its ``model`` tensors replaced by the mean over all."""
    import torch

    total: dict[str, torch.Tensor] = {}
    state: dict = {}
    for path in paths:
        with torch.serialization.safe_globals(list(FAIRSEQ_CHECKPOINT_GLOBALS)):
            state = torch.load(path, map_location="cpu", weights_only=True)
        model = state["model"]
        if not total:
            total = {name: tensor.double() if tensor.is_floating_point() else tensor for name, tensor in model.items()}
            continue
        if set(model) != set(total):
            raise DataError(f"{path}: its parameters differ from those of {paths[0]}")
        for name, tensor in model.items():
            if tensor.is_floating_point():
                total[name] += tensor.double()
    averaged = {name: (value / len(paths)).to(state["model"][name].dtype) if value.is_floating_point()
                else state["model"][name] for name, value in total.items()}
    state["model"] = tie_equal_tensors(averaged)  # tied weights stay one tensor, as fairseq-train saves them
    with atomic_path(output) as tmp:
        torch.save(state, tmp)


def last_checkpoints(save_dir: Path, n: int, until: int | None = None) -> list[tuple[int, Path]]:
    """``[(updates, path)]`` of the last ``n`` interval checkpoints of ``save_dir`` (the last ``n`` up to and
    including update ``until``, when given). ``n < 1``, fewer than ``n`` of them, or no checkpoint at update
    ``until`` is a :class:`DataError`."""
    if n < 1:
        raise DataError(f"{save_dir}: cannot average the last {n} checkpoints (give at least 1)")
    found = [(updates, path) for updates, path in interval_checkpoints(save_dir) if until is None or updates <= until]
    if until is not None and (not found or found[-1][0] != until):
        raise DataError(f"{save_dir}: no interval checkpoint at update {until} (checkpoint_<epoch>_{until}.pt; "
                        f"train that far with --keep-interval-updates large enough to keep it)")
    if len(found) < n:
        raise DataError(f"{save_dir}: {len(found)} interval checkpoints (checkpoint_<epoch>_<updates>.pt)"
                        f"{f' up to update {until}' if until is not None else ''}, {n} needed to average "
                        f"(train with --save-interval-updates, --keep-interval-updates >= {n})")
    return found[-n:]


def average_last(save_dir: Path, n: int, until: int | None = None, output: Path | None = None) -> list[int]:
    """Average :func:`last_checkpoints` ``(save_dir, n, until)`` into ``output`` (default
    ``save_dir/checkpoint_averaged.pt``); returns their update counts."""
    last = last_checkpoints(save_dir, n, until)
    average_checkpoints([path for _, path in last], Path(output) if output else Path(save_dir) / AVERAGED)
    return [updates for updates, _ in last]


def load_checkpoint(path: Path) -> dict:
    """A fairseq checkpoint, loaded with ``torch.load(weights_only=True)`` and :data:`FAIRSEQ_CHECKPOINT_GLOBALS`."""
    import torch

    with torch.serialization.safe_globals(list(FAIRSEQ_CHECKPOINT_GLOBALS)):
        return torch.load(path, map_location="cpu", weights_only=True)


def tie_equal_tensors(weights: dict) -> dict:
    """``weights`` with every tensor equal to an earlier one (same dtype, shape and values) replaced by that one,
    so that tied parameters (the shared embedding matrices) are stored once, as fairseq-train saves them."""
    import torch

    kept: list = []
    tied = {}
    for name, tensor in weights.items():
        same = next((t for t in kept if t.dtype == tensor.dtype and t.shape == tensor.shape
                     and torch.equal(t, tensor)), None)
        tied[name] = same if same is not None else tensor
        if same is None:
            kept.append(tensor)
    return tied
