"""How fast one training step of each image model runs on this machine, and whether a faster precision changes
its loss curve. ``python -m vae_diffusion.speed`` prints and records the table; the models' configs declare the
CPU precision it chose (``CPU_MIXED_PRECISION``, read by :mod:`vae_diffusion.core.precision`).

A step is what the training loop does: the model's loss on one batch of real MNIST at the reference batch size
(under autocast where asked: accelerate's ``mixed_precision="bf16"`` on the CPU is ``torch.autocast("cpu",
torch.bfloat16)``), backward, gradient clipping and the optimizer step. ``channels_last`` stores the
convolutional models' weights and inputs as NHWC.
"""
from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from mvadl.seeding import seed_everything
from vae_diffusion.core.fit import to_channels_last

#: The settings a model's step is timed with: (autocast dtype or None, channels_last).
SETTINGS = {"fp32": (None, False), "bf16": (torch.bfloat16, False), "channels_last": (None, True),
            "bf16+channels_last": (torch.bfloat16, True)}


@dataclass
class StepModel:
    """One image model's training step: ``build()`` returns a fresh model (from the global seed), ``batches``
    are its real-data batches (the same for every setting), ``loss_fn(model, batch)`` its training loss."""

    name: str
    build: Callable[[], nn.Module]
    batches: list[tuple]
    loss_fn: Callable[[nn.Module, tuple], torch.Tensor]
    convolutional: bool = True
    learning_rate: float = 1e-3


class StepRunner:
    """A fresh model of ``step_model`` (seed ``seed``) in ``setting`` and its optimizer; :meth:`step` trains one
    batch. The batches cycle through ``step_model.batches``; weights, timesteps and noise come from ``seed``, so
    two settings at one seed differ only by their arithmetic."""

    def __init__(self, step_model: StepModel, setting: str, seed: int = 0) -> None:
        self.step_model, self.setting = step_model, setting
        self.dtype, self.channels_last = SETTINGS[setting]
        seed_everything(seed)
        model = step_model.build()
        self.model = model.to(memory_format=torch.channels_last) if self.channels_last else model
        self.model.train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=step_model.learning_rate)
        self.rng = torch.get_rng_state()  # each runner draws its own stream, however the steps interleave
        self.steps = 0

    def step(self) -> tuple[float, float]:
        """One training step: (loss, seconds)."""
        batch = self.step_model.batches[self.steps % len(self.step_model.batches)]
        if self.channels_last:
            batch = to_channels_last(batch)
        torch.set_rng_state(self.rng)
        started = time.perf_counter()
        autocast = torch.autocast("cpu", dtype=self.dtype) if self.dtype is not None else contextlib.nullcontext()
        with autocast:
            loss = self.step_model.loss_fn(self.model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        value = loss.item()
        seconds = time.perf_counter() - started
        self.rng = torch.get_rng_state()
        self.steps += 1
        return value, seconds


def train_steps(step_model: StepModel, setting: str, steps: int, seed: int = 0) -> list[float]:
    """The losses of ``steps`` training steps of a fresh model (seed ``seed``) in ``setting``."""
    runner = StepRunner(step_model, setting, seed)
    return [runner.step()[0] for _ in range(steps)]


def step_seconds(step_model: StepModel, settings: list[str], steps: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds of a training step in each setting, after ``warmup`` untimed ones. The settings take turns
    step by step, so a load that changes while they are timed (other processes on the cores) falls on all alike."""
    runners = {setting: StepRunner(step_model, setting) for setting in settings}
    seconds = {setting: [] for setting in settings}
    for round_ in range(warmup + steps):
        for setting, runner in runners.items():
            elapsed = runner.step()[1]
            if round_ >= warmup:
                seconds[setting].append(elapsed)
    return {setting: statistics.median(values) for setting, values in seconds.items()}


@dataclass
class CurveCheck:
    """The loss curve of ``setting`` against fp32 at the same seed, and fp32 at another seed (the spread)."""

    setting: str
    steps: int
    tail: int  # the last ``tail`` steps' mean loss is compared
    fp32: float
    fp32_other_seed: float
    candidate: float

    @property
    def spread(self) -> float:
        """|fp32 at seed 0 - fp32 at seed 1|: how far two runs of the same recipe end apart."""
        return abs(self.fp32_other_seed - self.fp32)

    @property
    def difference(self) -> float:
        """|setting - fp32|, both at seed 0."""
        return abs(self.candidate - self.fp32)

    @property
    def within_spread(self) -> bool:
        return self.difference <= self.spread

    def as_dict(self) -> dict:
        return {"setting": self.setting, "steps": self.steps, "tail": self.tail, "fp32_tail_loss": self.fp32,
                "fp32_other_seed_tail_loss": self.fp32_other_seed, "tail_loss": self.candidate,
                "spread": self.spread, "difference": self.difference, "within_spread": self.within_spread}


def check_curve(step_model: StepModel, setting: str, steps: int, tail: int) -> CurveCheck:
    """Train ``steps`` steps three times (fp32 seeds 0 and 1, ``setting`` seed 0) and compare the mean loss of
    the last ``tail`` steps: the setting keeps the result when it ends closer to fp32 than a second seed does."""
    def tail_mean(setting_: str, seed: int) -> float:
        return statistics.fmean(train_steps(step_model, setting_, steps, seed)[-tail:])

    return CurveCheck(setting, steps, tail, tail_mean("fp32", 0), tail_mean("fp32", 1), tail_mean(setting, 0))
