"""Helpers of the in-process entry-point tests: run a CLI through the runner, interrupt a fit, compare weights."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import torch
from safetensors.torch import load_file

from mvadl.runner import main
from vae_diffusion.core import fit as fit_module


def cli(module, config_cls, *argv) -> int:
    """``python -m <module> ARGV --device cpu`` in this process; returns the exit status."""
    return main(module.run, config_cls, [*map(str, argv), "--device", "cpu"])


def read(path):
    return json.loads(path.read_text())


class Interrupted(Exception):
    """Stands for a run killed right after a checkpoint."""


def interrupt_after_first_checkpoint(monkeypatch):
    """Make :func:`vae_diffusion.core.fit.fit` stop (raise) right after saving epoch 1, as a killed run would."""
    save = fit_module._save_checkpoint

    def save_then_stop(accelerator, checkpoint_dir, epoch, keep, history):
        save(accelerator, checkpoint_dir, epoch, keep, history)
        if epoch == 1:
            raise Interrupted

    monkeypatch.setattr(fit_module, "_save_checkpoint", save_then_stop)


def interrupt_after_first_mid_epoch_checkpoint(monkeypatch):
    """Make :func:`vae_diffusion.core.fit.fit` stop right after its first mid-epoch checkpoint (``epoch-N-step-S``),
    as a run killed within an epoch would."""
    save = fit_module._save_mid_epoch_checkpoint

    def save_then_stop(accelerator, checkpoint_dir, epochs_done, steps, history):
        save(accelerator, checkpoint_dir, epochs_done, steps, history)
        raise Interrupted

    monkeypatch.setattr(fit_module, "_save_mid_epoch_checkpoint", save_then_stop)


def same_weights(a, b) -> bool:
    first, second = load_file(str(a)), load_file(str(b))
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def png_size(path) -> tuple[int, int]:
    """``(width, height)`` of the PNG at ``path``, after checking that it is a whole, readable PNG."""
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG", path
        image.verify()
        return image.size


def is_share_of(value: float, n: int) -> bool:
    """``value`` is k / n for a whole k in 0..n (a rate over n samples)."""
    return 0 <= value <= 1 and math.isclose(value * n, round(value * n), abs_tol=1e-6)  # float32 means


def train_whole_and_resumed(module, config_cls, argv: list, root, record,
                            interrupt=interrupt_after_first_checkpoint) -> SimpleNamespace:
    """The training CLI ``module`` run twice with ``argv``: uninterrupted into ``root/whole``, and into ``root/run``
    killed by ``interrupt`` (by default after epoch 1) then resumed from the latest checkpoint.
    ``record`` is the results file the runs write; returns statuses, records and what the killed run left."""
    import pytest

    runs = SimpleNamespace(whole=root / "whole", run=root / "run")
    runs.whole_status = cli(module, config_cls, *argv, "--output-dir", runs.whole)
    runs.uninterrupted = read(record)
    with pytest.MonkeyPatch.context() as patch:
        interrupt(patch)
        try:
            cli(module, config_cls, *argv, "--output-dir", runs.run)
        except Interrupted:
            runs.interrupted = True
        else:
            runs.interrupted = False
    runs.after_interruption = sorted(p.relative_to(runs.run).as_posix() for p in runs.run.glob("*/*"))
    runs.has_event_file = any((runs.run / "logs").rglob("events.out.tfevents.*"))
    runs.resumed_status = cli(module, config_cls, *argv, "--resume", "latest", "--output-dir", runs.run)
    runs.resumed = read(record)
    return runs
