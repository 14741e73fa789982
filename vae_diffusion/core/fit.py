"""The one training loop of the image models, generic over the model and its loss.

``fit(model, dataset, loss_fn, config, output_dir)`` trains any ``nn.Module`` whose loss on a batch
``loss_fn(model, batch)`` returns a scalar: the DDPM (epsilon-prediction loss, with EMA weights), the
text-to-digit model (the same loss on ``(image, caption ids)`` batches) and the MNIST classifier
(cross-entropy). It follows diffusers' ``examples/unconditional_image_generation/train_unconditional.py``:
accelerate places the model and chooses mixed precision, saves/restores the full state (model, optimizer,
learning-rate schedule, EMA, global RNGs) for resuming, and logs to TensorBoard.

Exact resume: besides what accelerate saves, every stream that feeds data is a function of ``(seed, epoch)``
(:func:`mvadl.seeding.derive_seed`): the shuffling of epoch e is seeded with ``derive_seed(seed, "shuffle", e)``,
and a dataset with ``set_epoch`` (the captioned MNIST) is told the epoch, so a run resumed after epoch k
repeats epochs k+1.. of the uninterrupted run exactly. (accelerate's ``DataLoaderConfiguration(
use_seedable_sampler=True)`` would seed epoch e with ``seed + e``: streams that overlap across seeds, as epoch 1
of seed 0 is epoch 0 of seed 1, and another order than the reference runs were trained with.)

Checkpoints: ``epoch-N`` after every epoch (``checkpoints_to_keep`` of them kept), and, with
``checkpoint_minutes``, ``epoch-N-step-S`` (N epochs done, S steps into the next) whenever that many minutes of
an epoch have passed since the last save, so that a long epoch (the DDPM's half hour on a CPU) loses at most a
few minutes when the run is killed. Only the newest such mid-epoch checkpoint is kept, until its epoch ends. A run
resumed from one skips the epoch's first S batches without loading them (accelerate's ``skip_first_batches``:
the order of the epoch is re-drawn from its seed) and continues the epoch's loss sum, so it repeats the
uninterrupted run exactly too.

One run, one record: each checkpoint folder also holds ``fit_history.json`` (every epoch's mean loss so far,
the training seconds so far, how many times the run was resumed, and the run's identity: its config and the
revision it started from). A resumed call starts from it, so its :class:`FitResult` covers the whole run, as if
it had never been interrupted (the seconds add up), and it refuses, in one line, a checkpoint whose config or
start revision differs from its own (:func:`check_same_run`): a run resumes only with the code and settings it
started with, so a long run is best started from a ``git worktree`` checked out at one commit (README).
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import ClassVar, Literal

import torch
from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed
from diffusers.optimization import get_cosine_schedule_with_warmup
from diffusers.training_utils import EMAModel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from mvadl.data import DataError
from mvadl.io import atomic_write_text
from mvadl.runner import option
from mvadl.seeding import derive_seed
from vae_diffusion.core.identity import check_same_run
from vae_diffusion.core.images import DataOptions
from vae_diffusion.core.precision import choose_mixed_precision

logger = logging.getLogger(__name__)
CHECKPOINT_PATTERN = re.compile(r"^epoch-(\d+)$")
MID_EPOCH_PATTERN = re.compile(r"^epoch-(\d+)-step-(\d+)$")  # N epochs done, S steps into epoch N + 1
HISTORY = "fit_history.json"
EMA_STATE = "custom_checkpoint_0.pkl"  # what accelerate's save_state writes for the EMA registered with it


@dataclass
class FitConfig:
    epochs: int = 1
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 0
    ema_decay: float | None = None  # None: no EMA weights
    mixed_precision: str = "no"  # "no", "fp16" or "bf16" (accelerate)
    channels_last: bool = False  # model and image batches in channels_last memory format
    checkpoint_every: int = 1  # epochs
    checkpoint_minutes: float | None = None  # also save within an epoch after this many minutes (None: never)
    checkpoints_to_keep: int = 2
    log_every: int = 50  # optimizer steps
    max_grad_norm: float | None = 1.0
    max_steps_per_epoch: int | None = None  # cut epochs short (smoke runs, or "epochs" of a fixed number of steps)
    seed: int = 0

    @classmethod
    def from_options(cls, options, **overrides) -> FitConfig:
        """The fields of ``options`` (an entry point's config) that ``FitConfig`` has, by name, then ``overrides``
        (values the entry point resolves or fixes itself, e.g. the mixed precision chosen for the device)."""
        values = {f.name: getattr(options, f.name) for f in fields(cls) if hasattr(options, f.name)}
        return cls(**{**values, **overrides})


@dataclass
class FitResult:
    model: torch.nn.Module  # unwrapped, trained weights (not the EMA ones)
    ema: EMAModel | None
    accelerator: Accelerator
    epoch_losses: list[float] = field(default_factory=list)  # every epoch of the run, across resumes
    wall_time_s: float = 0.0  # training seconds of the whole run, across resumes
    resumes: int = 0  # how many times the run was resumed


@dataclass
class PrecisionOptions(DataOptions):
    """``--mixed-precision``, for every entry point that trains through :func:`fit`."""

    mixed_precision: Literal["no", "fp16", "bf16"] | None = option(None, "autocast precision (None: bf16 on a GPU; "
                                                                         "on the CPU the model's measured choice "
                                                                         "where the CPU has bf16 instructions; a "
                                                                         "resumed run keeps its own)")
    channels_last: bool | None = option(None, "channels_last memory format (None: the model's measured choice on "
                                              "the CPU, off on a GPU; a resumed run keeps its own)")
    #: The CPU precision ``python -m vae_diffusion.speed`` measured as fastest without changing the loss curve.
    CPU_MIXED_PRECISION: ClassVar[str] = "no"
    #: Whether that measured fastest CPU setting also stores the model and images channels_last.
    CPU_CHANNELS_LAST: ClassVar[bool] = False


@dataclass
class FitOptions(PrecisionOptions):
    """The options of every entry point built on :func:`fit` that can resume (its config subclasses this one)."""

    train_limit: int | None = option(None, "use only the first N training images")
    resume: str | None = option(None, "checkpoint folder epoch-N (or epoch-N-step-S, within epoch N + 1), or "
                                      "'latest' in OUTPUT_DIR/checkpoints")
    checkpoint_minutes: float | None = option(10.0, "also checkpoint within an epoch when this many minutes have "
                                                    "passed since the last save (None: only after epochs)")


def _stored_setting(options: PrecisionOptions, checkpoint_dir: str | Path, key: str):
    """The value of ``key`` in the config stored with the checkpoint ``options`` resumes from (None: a new run)."""
    if not getattr(options, "resume", None):
        return None
    identity = read_history(resolve_checkpoint(options.resume, Path(checkpoint_dir))).get("identity") or {}
    return identity.get("config", {}).get(key)


def run_precision(options: PrecisionOptions, device, checkpoint_dir: str | Path) -> str:
    """The mixed precision of the run ``options`` starts or resumes (:func:`~vae_diffusion.core.precision.
    choose_mixed_precision` with the model's ``CPU_MIXED_PRECISION``): a resumed run keeps the precision stored
    with its checkpoint."""
    stored = _stored_setting(options, checkpoint_dir, "mixed_precision")
    return choose_mixed_precision(options.mixed_precision, device, options.CPU_MIXED_PRECISION, stored=stored)


def run_channels_last(options: PrecisionOptions, device, checkpoint_dir: str | Path) -> bool:
    """Whether the run ``options`` starts or resumes stores its model and images channels_last: the command's
    ``--channels-last``, else the resumed run's own, else the model's measured CPU choice (off on a GPU)."""
    if options.channels_last is not None:
        return options.channels_last
    stored = _stored_setting(options, checkpoint_dir, "channels_last")
    if stored is not None:
        return bool(stored)
    return options.CPU_CHANNELS_LAST and torch.device(device).type == "cpu"


def list_checkpoints(checkpoint_dir: Path) -> list[tuple[int, Path]]:
    """``(N, folder)`` of every ``epoch-N`` folder, by N."""
    return sorted((int(m.group(1)), p) for p in Path(checkpoint_dir).glob("epoch-*")
                  if (m := CHECKPOINT_PATTERN.match(p.name)) and p.is_dir())


def _mid_epoch_checkpoints(checkpoint_dir: Path) -> list[tuple[tuple[int, int], Path]]:
    """``((N, S), folder)`` of every ``epoch-N-step-S`` folder, by (N, S)."""
    return sorted(((int(m.group(1)), int(m.group(2))), p) for p in Path(checkpoint_dir).glob("epoch-*-step-*")
                  if (m := MID_EPOCH_PATTERN.match(p.name)) and p.is_dir())


def _position(folder: Path) -> tuple[int, int] | None:
    """``(epochs done, steps into the next)`` of a checkpoint folder's name, or None for another name."""
    if m := CHECKPOINT_PATTERN.match(folder.name):
        return int(m.group(1)), 0
    if m := MID_EPOCH_PATTERN.match(folder.name):
        return int(m.group(1)), int(m.group(2))
    return None


def latest_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The checkpoint furthest into the run (``epoch-N``, or ``epoch-N-step-S`` within epoch N + 1), or None."""
    found = [((n, 0), p) for n, p in list_checkpoints(checkpoint_dir)] + _mid_epoch_checkpoints(checkpoint_dir)
    return max(found)[1] if found else None


def load_ema_weights(checkpoint: Path) -> list[torch.Tensor]:
    """The EMA weights saved in ``checkpoint`` (in the order of the model's ``parameters()``), loaded with
    ``weights_only=True``; a checkpoint without them is a DataError."""
    path = Path(checkpoint) / EMA_STATE
    try:
        return list(torch.load(path, map_location="cpu", weights_only=True)["shadow_params"])
    except FileNotFoundError:
        raise DataError(f"{path}: missing (the run kept no EMA weights)") from None
    except (KeyError, TypeError, RuntimeError) as error:
        raise DataError(f"{path}: not an EMA state ({error})") from None


def resolve_checkpoint(resume: str, checkpoint_dir: Path) -> Path:
    """The folder ``resume`` names (``"latest"``: the newest in ``checkpoint_dir``); a missing one is a DataError."""
    path = latest_checkpoint(checkpoint_dir) if resume == "latest" else Path(resume)
    if path is None:
        raise DataError(f"{checkpoint_dir}: no epoch-N checkpoint to resume from (--resume latest)")
    if not path.is_dir() or _position(path) is None:
        raise DataError(f"{path}: not a checkpoint folder epoch-N or epoch-N-step-S to resume from")
    return path


def fit(model: torch.nn.Module, dataset: Dataset, loss_fn: Callable[[torch.nn.Module, tuple], torch.Tensor],
        config: FitConfig, output_dir: str | Path, *, resume: str | None = None, project_name: str = "train",
        device=None, identity: dict | None = None) -> FitResult:
    """Train ``model`` on ``dataset`` by minimising ``loss_fn(model, batch)`` with AdamW + cosine schedule.

    ``output_dir`` receives ``logs/`` (TensorBoard) and ``checkpoints/epoch-N/`` (accelerate state);
    ``resume`` is a checkpoint folder or ``"latest"``, and training continues at the epoch after it.
    ``device``: a CPU device keeps accelerate on the CPU; otherwise accelerate uses the GPU(s) it sees.
    ``identity`` (:func:`run_identity`) is saved with every checkpoint; a resume must present the same one.
    """
    output_dir = Path(output_dir)
    checkpoint_dir = output_dir / "checkpoints"
    resume_from = resolve_checkpoint(resume, checkpoint_dir) if resume else None
    if resume_from is not None and identity is not None:
        check_same_run(resume_from, read_history(resume_from).get("identity"), identity)
    accelerator = Accelerator(mixed_precision=config.mixed_precision, log_with="tensorboard",
                              cpu=device is not None and torch.device(device).type == "cpu",
                              project_config=ProjectConfiguration(project_dir=str(output_dir),
                                                                  logging_dir=str(output_dir / "logs")))
    set_seed(config.seed)
    shuffle = torch.Generator()  # re-seeded at every epoch: the order of epoch e depends on (seed, e) only
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=True, drop_last=False, generator=shuffle)
    steps_per_epoch = len(loader) if config.max_steps_per_epoch is None else min(len(loader),
                                                                                config.max_steps_per_epoch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    lr_schedule = get_cosine_schedule_with_warmup(optimizer, config.warmup_steps,
                                                  max(1, steps_per_epoch * config.epochs))
    ema = None
    if config.ema_decay is not None:
        # EMA warm-up (decay grows as 1 - (1 + step)^-3/4) so short runs are not dominated by the initial weights.
        ema = EMAModel(model.parameters(), decay=config.ema_decay, use_ema_warmup=True, power=3 / 4)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model, optimizer, loader, lr_schedule = accelerator.prepare(model, optimizer, loader, lr_schedule)
    if ema is not None:
        ema.to(accelerator.device)
        accelerator.register_for_checkpointing(ema)

    start_epoch, history = 0, {"epoch_losses": [], "seconds": 0.0, "resumes": 0, "identity": identity,
                               "partial": None}
    if resume_from is not None:
        history = read_history(resume_from)
        accelerator.load_state(str(resume_from))
        start_epoch = _position(resume_from)[0]
        history["resumes"] += 1
        logger.info("resumed from %s at epoch %d", resume_from, start_epoch)
    partial = history["partial"] or {"steps": 0, "total": 0.0, "count": 0}  # the epoch the checkpoint was within

    if accelerator.is_main_process:
        tracked = {k: v for k, v in asdict(config).items() if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers(project_name, config=tracked)
    result = FitResult(model=model, ema=ema, accelerator=accelerator, epoch_losses=list(history["epoch_losses"]),
                       resumes=history["resumes"])
    started = last_save = time.perf_counter()
    global_step = start_epoch * steps_per_epoch + partial["steps"]
    for epoch in range(start_epoch, config.epochs):
        shuffle.manual_seed(derive_seed(config.seed, "shuffle", epoch))
        loader.set_epoch(epoch)  # passed on to a dataset with set_epoch (per-epoch captions)
        model.train()
        skip, total, count = partial["steps"], partial["total"], partial["count"]
        partial = {"steps": 0, "total": 0.0, "count": 0}
        batches = accelerator.skip_first_batches(loader, skip) if skip else loader
        bar = tqdm(batches, total=steps_per_epoch, initial=skip, desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=not accelerator.is_local_main_process, leave=False)
        for step, batch in enumerate(bar, start=skip):
            if step >= steps_per_epoch:
                break
            if config.channels_last:
                batch = to_channels_last(batch)
            with accelerator.autocast():
                loss = loss_fn(model, batch)
            accelerator.backward(loss)
            if config.max_grad_norm is not None:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            lr_schedule.step()
            optimizer.zero_grad(set_to_none=True)
            if ema is not None:
                ema.step(model.parameters())
            global_step += 1
            loss_value = loss.item()  # one device sync per step
            total, count = total + loss_value, count + 1
            bar.set_postfix(loss=f"{loss_value:.4f}")
            if global_step % config.log_every == 0:
                logs = {"train/loss": loss_value, "train/lr": lr_schedule.get_last_lr()[0]}
                if ema is not None:
                    logs["train/ema_decay"] = ema.cur_decay_value
                accelerator.log(logs, step=global_step)
            if (config.checkpoint_minutes is not None and step + 1 < steps_per_epoch
                    and time.perf_counter() - last_save >= 60 * config.checkpoint_minutes):
                _save_mid_epoch_checkpoint(accelerator, checkpoint_dir, epoch, step + 1, {
                    "epoch_losses": result.epoch_losses, "resumes": result.resumes, "identity": history["identity"],
                    "seconds": history["seconds"] + time.perf_counter() - started,
                    "partial": {"steps": step + 1, "total": total, "count": count}})
                last_save = time.perf_counter()
        mean = total / max(count, 1)
        result.epoch_losses.append(mean)
        accelerator.log({"train/epoch_loss": mean}, step=global_step)
        logger.info("epoch %d/%d: mean loss %.5f", epoch + 1, config.epochs, mean)
        result.wall_time_s = history["seconds"] + time.perf_counter() - started
        if (epoch + 1) % config.checkpoint_every == 0 or epoch + 1 == config.epochs:
            _save_checkpoint(accelerator, checkpoint_dir, epoch + 1, config.checkpoints_to_keep,
                             {"epoch_losses": result.epoch_losses, "seconds": result.wall_time_s,
                              "resumes": result.resumes, "identity": history["identity"]})
            last_save = time.perf_counter()
    accelerator.end_training()
    result.model = accelerator.unwrap_model(model)
    result.wall_time_s = history["seconds"] + time.perf_counter() - started
    return result


def to_channels_last(batch) -> tuple:
    """``batch`` with its image tensors (4-d) in channels_last memory format, the other tensors as they are."""
    return tuple(t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t for t in batch)


def read_history(checkpoint: Path) -> dict:
    """The run history saved with ``checkpoint`` (``partial``: within an epoch, its steps done and their loss sum
    and count; None after a whole epoch); a checkpoint without one (or a malformed one) is a DataError."""
    path = checkpoint / HISTORY
    try:
        history = json.loads(path.read_text(encoding="utf-8"))
        epochs, steps = _position(checkpoint) or (None, 0)
        if len(history["epoch_losses"]) != epochs:
            raise ValueError(f"{len(history['epoch_losses'])} epoch losses for epoch {epochs}")
        partial = history.get("partial")
        if steps and (partial is None or partial["steps"] != steps):
            raise ValueError(f"no partial epoch of {steps} steps")
        if partial is not None:
            partial = {"steps": int(partial["steps"]), "total": float(partial["total"]),
                       "count": int(partial["count"])}
        return {"epoch_losses": [float(v) for v in history["epoch_losses"]], "seconds": float(history["seconds"]),
                "resumes": int(history["resumes"]), "identity": history.get("identity"), "partial": partial}
    except FileNotFoundError:
        raise DataError(f"{path}: missing (the checkpoint has no run history to continue the record)") from None
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: not a run history ({error})") from None


def _write_state(accelerator: Accelerator, folder: Path, history: dict) -> bool:
    """accelerate's state and the run history into ``folder``; False on a process other than the main one."""
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return False
    accelerator.save_state(str(folder))
    atomic_write_text(folder / HISTORY, json.dumps(history) + "\n")
    return True


def _save_checkpoint(accelerator: Accelerator, checkpoint_dir: Path, epoch: int, keep: int, history: dict) -> None:
    if not _write_state(accelerator, checkpoint_dir / f"epoch-{epoch:04d}", history):
        return
    # Rotation is ours, not accelerate's ProjectConfiguration(total_limit=...): that one only works with its own
    # folder names checkpoint_<number of saves> (which do not say the epoch, and whose counter load_state does not
    # restore, so a resumed run would collide with checkpoint_0), and it deletes every entry of the folder.
    old = [path for _, path in list_checkpoints(checkpoint_dir)]
    for path in old[:-keep] if keep > 0 else []:
        shutil.rmtree(path)  # a checkpoint that cannot be deleted is an error, not a silently growing disk
    for _, path in _mid_epoch_checkpoints(checkpoint_dir):
        shutil.rmtree(path)  # the epoch they were within is saved whole now


def _save_mid_epoch_checkpoint(accelerator: Accelerator, checkpoint_dir: Path, epochs_done: int, steps: int,
                               history: dict) -> None:
    """``epoch-N-step-S``: the state S steps into epoch N + 1; it replaces the previous mid-epoch checkpoint."""
    folder = checkpoint_dir / f"epoch-{epochs_done:04d}-step-{steps:06d}"
    if not _write_state(accelerator, folder, history):
        return
    for _, path in _mid_epoch_checkpoints(checkpoint_dir):
        if path != folder:
            shutil.rmtree(path)
