"""The figures of a VAE training run, drawn from what the run saved: ``<prefix>arrays.npz`` (sample grids and
reconstructions as uint8) and its results record ``<name>.json`` (the history). So every figure can be redrawn
without training (``python -m vae_diffusion.vae.figures``).
"""
from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from mvadl.data import DataError
from mvadl.io import atomic_path
from mvadl.plotting import save_figure
from mvadl.runner import Context
from vae_diffusion.vae import plots
from vae_diffusion.vae.sample_classes import sample_classes_record


def prefix(name: str) -> str:
    """Files of the main run ('metrics') have no prefix; other runs' files start with '<name>_'."""
    return "" if name == "metrics" else f"{name}_"


def save_arrays(folder: Path, name: str, sample_grids: dict[int, torch.Tensor], inputs: torch.Tensor,
                reconstructions: torch.Tensor) -> Path:
    """Store sample grids and reconstructions as uint8 (pixel means * 255) in ``<prefix>arrays.npz``."""
    to_uint8 = lambda t: (t.reshape(len(t), 28, 28).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    arrays = {f"samples_epoch_{e:03d}": to_uint8(g) for e, g in sample_grids.items()}
    arrays.update(reconstruction_inputs=to_uint8(inputs), reconstruction_means=to_uint8(reconstructions))
    path = Path(folder) / f"{prefix(name)}arrays.npz"
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return path


def read_record(path: Path, *keys: str) -> dict:
    """The JSON object at ``path`` and its value at ``keys`` (``read_record(p, "metrics", "models")``); a file
    that is not a JSON object, or lacks a key, is a DataError that names it."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not a valid JSON record ({e})") from None
    for depth, key in enumerate(keys):
        if not isinstance(value, dict) or key not in value:
            raise DataError(f"{path}: no '{'.'.join(keys[:depth + 1])}' in the record")
        value = value[key]
    return value


def load_arrays(path: Path, *names: str) -> dict[str, np.ndarray]:
    """The arrays of ``<prefix>arrays.npz`` (every one, or ``names``), read into memory and the file closed; a
    file that is not such an archive, or lacks an array, is a DataError that names it."""
    try:
        with np.load(path) as archive:
            missing = [n for n in names if n not in archive.files]
            if missing:
                raise DataError(f"{path}: no array {missing[0]!r} (it holds {', '.join(archive.files)})")
            return {n: archive[n] for n in (names or archive.files)}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npz archive ({e})") from None


def _run_files(folder: Path, name: str, arrays_path: Path | None = None) -> tuple[dict, Path]:
    """The run's record and the path of its arrays; a missing or unreadable one is a DataError that names it."""
    folder = Path(folder)
    record_path, arrays_path = folder / f"{name}.json", Path(arrays_path or folder / f"{prefix(name)}arrays.npz")
    for path in (record_path, arrays_path):
        if not path.is_file():
            raise DataError(f"{path}: not found; train the run first (python -m vae_diffusion.vae.train --name {name})")
    return read_record(record_path), arrays_path


def sample_grids(arrays: Mapping[str, np.ndarray]) -> dict[int, np.ndarray]:
    """``{epoch: [64, 28, 28] means in [0, 1]}`` from the arrays :func:`save_arrays` wrote."""
    return {int(k.rsplit("_", 1)[1]): arrays[k] / 255.0 for k in arrays if k.startswith("samples_epoch_")}


def record_sample_classes(ctx: Context, folder: Path, name: str, classifier: str | Path,
                          arrays_path: Path | None = None) -> dict[int, list[int]]:
    """Read the digit of every sample-grid cell with the MNIST classifier and record it
    (``<prefix>sample_classes.json``, :mod:`vae_diffusion.vae.sample_classes`); returns ``{epoch: digits}``."""
    _, arrays_path = _run_files(folder, name, arrays_path)
    grids = sample_grids(load_arrays(arrays_path))
    metrics, config = sample_classes_record(grids, classifier, arrays_path)
    ctx.record("vae", f"{prefix(name)}sample_classes", metrics, config=config)
    return {int(epoch): read["labels"] for epoch, read in metrics["epochs"].items()}


def make_figures(folder: Path, name: str, arrays_path: Path | None = None,
                 digits: Mapping[int, list[int]] | None = None) -> list[Path]:
    """Write the sample grids per epoch, the side-by-side figure (with ``digits``, the digit read in each cell,
    :func:`record_sample_classes`), reconstructions and training curves."""
    folder = Path(folder)
    record, arrays_path = _run_files(folder, name, arrays_path)
    arrays = load_arrays(arrays_path)
    grids = sample_grids(arrays)
    if "history" not in record:
        raise DataError(f"{folder / f'{name}.json'}: no 'history' in the record")
    for key in ("reconstruction_inputs", "reconstruction_means"):
        if key not in arrays:
            raise DataError(f"{arrays_path}: no array {key!r}")
    out = []
    for epoch, grid in sorted(grids.items()):
        when = "before training" if epoch == 0 else f"after {epoch} epochs"
        out.append(save_figure(plots.sample_grid_figure(grid, f"{when}\n(64 prior samples, Bernoulli means)"),
                               folder / f"{prefix(name)}samples_epoch_{epoch:03d}.png"))
    # The report's figures carry no title: their captions say what they show.
    out.append(save_figure(plots.samples_over_training_figure(grids, digits=digits),
                           folder / f"{prefix(name)}samples_over_training.png"))
    out.append(save_figure(plots.reconstruction_figure(arrays["reconstruction_inputs"] / 255.0,
                                                       arrays["reconstruction_means"] / 255.0),
                           folder / f"{prefix(name)}reconstructions.png"))
    out.append(save_figure(plots.training_curves_figure(record["history"]),
                           folder / f"{prefix(name)}training_curves.png"))
    return out


def recorded_digits(folder: Path, name: str) -> dict[int, list[int]]:
    """``{epoch: digits}`` of the committed record ``<prefix>sample_classes.json`` (:func:`record_sample_classes`),
    read without the classifier."""
    epochs = read_record(Path(folder) / f"{prefix(name)}sample_classes.json", "metrics", "epochs")
    return {int(epoch): read["labels"] for epoch, read in epochs.items()}


def redraw_samples_over_training(folder: Path, name: str = "metrics") -> Path:
    """Redraw ``<prefix>samples_over_training.png`` alone from the run's arrays and the digits its
    ``<prefix>sample_classes.json`` records (no classifier, no other figure written)."""
    _, arrays_path = _run_files(folder, name)
    grids = sample_grids(load_arrays(arrays_path))
    return save_figure(plots.samples_over_training_figure(grids, digits=recorded_digits(folder, name)),
                       Path(folder) / f"{prefix(name)}samples_over_training.png")


def naive_mc_figure(records: list[dict], path: Path) -> Path:
    """Q2's figure (``plots.naive_mc_figure``) of the models' records, saved at ``path``."""
    return save_figure(plots.naive_mc_figure(records), path)


def redraw_naive_mc(folder: Path, name: str = "naive_mc") -> Path | None:
    """Redraw ``<name>.png`` from the record ``<name>.json`` of :mod:`vae_diffusion.vae.naive_mc` in ``folder``
    (None: no such record)."""
    path = Path(folder) / f"{name}.json"
    if not path.is_file():
        return None
    return naive_mc_figure(read_record(path, "metrics", "models"), path.with_suffix(".png"))
