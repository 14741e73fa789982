"""Finished sampling batches kept on disk, so that a sampling run of hours on a CPU resumes where it stopped.

A run that samples in batches (:func:`~vae_diffusion.diffusion.sampling.sample_in_batches`) stores each finished
batch in ``$SAMPLING_CACHE_DIR`` (default ``runs/sampling_cache``) under ``<name>-<run key>/``, as a safetensors
file: its images, the model evaluations and seconds it took, and the run that sampled it. The run key is a digest of
what every batch shares and no batch names: the code's git revision, the model's weights (:func:`module_digest`)
and how they were run (precision, memory layout). A batch is known by a digest of its own key (scheduler, config,
steps, seed, index, a digest of its initial noise). A run started with ``resume=True`` reads a batch of the same key
back instead of sampling it, so one long evaluation is one run across working stretches: its sampling seconds are
the sum of every batch's own, and :meth:`SamplingCache.summary` says how many batches were read back and from how
many earlier runs.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from mvadl import REPO_ROOT
from mvadl.io import atomic_path, atomic_write_text
from mvadl.results import git_revision, to_jsonable

logger = logging.getLogger(__name__)

#: Where the batches go unless ``$SAMPLING_CACHE_DIR`` or the run says otherwise.
DEFAULT_ROOT = REPO_ROOT / "runs" / "sampling_cache"


def cache_root() -> Path:
    return Path(os.environ.get("SAMPLING_CACHE_DIR") or DEFAULT_ROOT)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(to_jsonable(value), sort_keys=True).encode()).hexdigest()


def tensor_digest(tensor: torch.Tensor) -> str:
    """sha256 of a tensor's dtype, shape and bytes."""
    h = hashlib.sha256(f"{tensor.dtype} {tuple(tensor.shape)}".encode())
    h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def module_digest(module: torch.nn.Module) -> str:
    """sha256 over a module's state dict (names, dtypes, shapes and values): the weights a run sampled with, as
    loaded (fp16-stored weights loaded into fp32 have the digest of those fp32 values)."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor_digest(tensor).encode())
    return h.hexdigest()


@dataclass
class StoredBatch:
    images: torch.Tensor
    info: dict  # model_evaluations, seconds, run


@dataclass
class SamplingCache:
    """The finished batches of one run (see the module docstring); ``resume``: read back those already there."""

    folder: Path
    resume: bool = False
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    reused: int = 0
    reused_seconds: float = 0.0  # sampling seconds of the batches read back (spent by earlier runs)
    sampled: int = 0
    earlier_runs: set = field(default_factory=set)

    @classmethod
    def for_run(cls, name: str, key: Mapping[str, Any], *, resume: bool = False,
                root: str | os.PathLike | None = None) -> SamplingCache:
        """The cache of the run ``name`` whose shared settings are ``key`` (the revision is added here)."""
        full_key = {"name": name, "git_revision": git_revision(), **key}
        folder = Path(root if root is not None else cache_root()) / f"{name}-{_digest(full_key)[:16]}"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "key.json").is_file():
            atomic_write_text(folder / "key.json", json.dumps(to_jsonable(full_key), indent=2) + "\n")
        cache = cls(folder, resume)
        logger.info("sampling batches kept in %s%s", folder,
                    f" ({len(list(folder.glob('batch-*.safetensors')))} there to resume from)" if resume else "")
        return cache

    def _path(self, key: Mapping[str, Any]) -> Path:
        return self.folder / f"batch-{_digest(key)[:24]}.safetensors"

    def load(self, key: Mapping[str, Any]) -> StoredBatch | None:
        """The batch ``key`` an earlier run finished, when resuming and it is there; else None."""
        path = self._path(key)
        if not (self.resume and path.is_file()):
            return None
        try:
            with safe_open(str(path), "pt") as handle:
                info = json.loads(handle.metadata()["info"])
            images = load_file(str(path))["images"]
        except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as error:
            logger.warning("%s: unreadable (%s); sampling the batch again", path, error)
            return None
        if info.get("key") != _digest(key):
            return None
        self.reused += 1
        self.reused_seconds += float(info.get("seconds", 0.0))
        self.earlier_runs.add(info["run"])
        return StoredBatch(images, info)

    def store(self, key: Mapping[str, Any], images: torch.Tensor, **info: Any) -> None:
        """Keep a finished batch (atomically: a run stopped while writing leaves no half file)."""
        self.sampled += 1
        metadata = {"info": json.dumps({"key": _digest(key), "run": self.run, **to_jsonable(info)})}
        with atomic_path(self._path(key)) as tmp:
            save_file({"images": images.contiguous()}, str(tmp), metadata=metadata)

    def summary(self) -> dict:
        """Batches sampled by this run and read back from earlier ones, and how many earlier runs those were
        (the run's resumes)."""
        return {"batches_sampled": self.sampled, "batches_resumed": self.reused,
                "resumes": len(self.earlier_runs - {self.run}),
                "resumed_seconds": self.reused_seconds, "folder": _shown(self.folder)}


def _shown(folder: Path) -> str:
    """``folder`` relative to the checkout when inside it (a record names no machine's paths)."""
    try:
        return folder.resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    except ValueError:
        return str(folder)
