"""The VAE's training checkpoint: everything an exactly resumed run needs, rewritten after every epoch.

A checkpoint holds the model, optimizer and learning-rate schedule, the epoch, the history and sample grids so
far, the global torch RNG states and the run's config. The per-epoch generators are not stored: they are
derived from (seed, epoch) (:func:`mvadl.seeding.derive_seed`), so a run resumed at an epoch boundary
re-creates exactly the streams of the epochs it has left.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from mvadl.data import DataError
from mvadl.io import atomic_path
from vae_diffusion.core.artifacts import ARTIFACTS_DIR, verify_artifact
from vae_diffusion.core.identity import check_same_run
from vae_diffusion.vae.model import VAE

#: 2: epoch seeds come from derive_seed. Format 1 (no "format" key) derived them as seed * 1_000_003 + 2 * epoch,
#: so it cannot be resumed exactly; its weights still load (:func:`load_model`).
FORMAT = 2
#: Options that must match when resuming (``epochs`` may be extended; the model is compared separately).
RESUME_MUST_MATCH = ("batch_size", "lr", "lr_decay", "iw_samples", "seed", "train_subset", "test_subset")
#: The shipped Q9-Q10 VAE (``python -m vae_diffusion.ship --model vae``) and the sha256 of its weights, which
#: :func:`load_shipped_model` checks when it loads this folder.
SHIPPED_MODEL = ARTIFACTS_DIR / "vae_mnist" / "v1"
SHIPPED_MODEL_PIN = ("model.safetensors", "c82d1febee739137cfced84f4f4148aa9d62f5753120b209e9620161333a2d9d")


@dataclass
class Progress:
    """Where training stands: the last finished epoch, one record per epoch, sample grids by epoch."""

    epoch: int = 0
    history: list[dict] = field(default_factory=list)
    sample_grids: dict[int, torch.Tensor] = field(default_factory=dict)
    resumes: int = 0  # how many times the run was resumed
    identity: dict | None = None  # the run's config and start revision (vae_diffusion.core.identity)


def checkpoint_path(folder: str | Path, name: str) -> Path:
    return Path(folder) / f"{name}.pt"


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_checkpoint(path: Path, progress: Progress, model: VAE, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, config: dict, device: torch.device) -> None:
    """Write the training state after ``progress.epoch`` atomically (a crash never leaves half a file)."""
    state = {"format": FORMAT, "epoch": progress.epoch, "history": progress.history, "resumes": progress.resumes,
             "identity": progress.identity,
             "sample_grids": progress.sample_grids, "model": model.state_dict(), "model_config": model.config,
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "rng": _rng_state(device),
             "config": config}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path) -> dict:
    """The saved state; a missing file is bad input (:class:`DataError` naming it)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no checkpoint here (train without --resume first, or check --checkpoint-dir "
                        "and --name)")
    return torch.load(path, map_location="cpu", weights_only=True)


def resume(path: Path, model: VAE, optimizer: torch.optim.Optimizer,
           scheduler: torch.optim.lr_scheduler.LRScheduler, config: dict, device: torch.device,
           identity: dict | None = None) -> Progress:
    """Load the state of ``path`` into model, optimizer, schedule and the global RNGs; return the progress, with
    one more resume counted.

    Refuses (:class:`DataError`) a checkpoint of another model, of other ``RESUME_MUST_MATCH`` options, of an
    older format whose epoch seeds differ, or, given the run's ``identity``, of another config or start revision
    (:func:`vae_diffusion.core.identity.check_same_run`).
    """
    state = load_checkpoint(path)
    if state.get("format") != FORMAT:
        raise DataError(f"{path}: checkpoint format {state.get('format', 1)}, this version resumes format {FORMAT} "
                        "only (its epochs draw other random streams); train again without --resume")
    mismatched = [(k, state["config"].get(k)) for k in RESUME_MUST_MATCH if state["config"].get(k) != config[k]]
    if state["model_config"] != model.config or mismatched:
        raise DataError(f"{path}: checkpoint was made with other settings (model {state['model_config']}, "
                        f"options {mismatched})")
    if identity is not None:
        check_same_run(path, state.get("identity"), identity)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    _set_rng_state(state["rng"], device)
    return Progress(epoch=state["epoch"], history=state["history"], sample_grids=state["sample_grids"],
                    resumes=state.get("resumes", 0) + 1, identity=state.get("identity"))


def stored_mixed_precision(path: Path) -> str | None:
    """The precision the run saved in ``path`` started with (None: a checkpoint that does not say)."""
    return ((load_checkpoint(path).get("identity") or {}).get("config") or {}).get("mixed_precision")


def load_model(path: str | Path, device: torch.device | str = "cpu") -> VAE:
    """The trained model of a checkpoint (any format), in eval mode on ``device``."""
    state = load_checkpoint(path)
    model = VAE.from_config(state["model_config"]).to(device)
    model.load_state_dict(state["model"])
    return model.eval()


def load_shipped_model(folder: str | Path = SHIPPED_MODEL, device: torch.device | str = "cpu",
                       pinned: tuple[str, str] | None = None) -> VAE:
    """The VAE shipped in ``folder`` (``python -m vae_diffusion.ship --model vae``: ``model.safetensors`` and
    ``config.json``), verified against its ``SHA256SUMS`` (and ``pinned``; for :data:`SHIPPED_MODEL`,
    :data:`SHIPPED_MODEL_PIN` by default) first, in eval mode on ``device``."""
    if pinned is None and Path(folder).resolve() == SHIPPED_MODEL.resolve():
        pinned = SHIPPED_MODEL_PIN
    folder = verify_artifact(folder, pinned)
    try:
        model = VAE.from_config(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as error:
        raise DataError(f"{folder}: not a shipped VAE ({str(error).splitlines()[0]})") from None
    return model.to(device).eval()
