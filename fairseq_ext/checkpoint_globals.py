"""Let fairseq checkpoints load with ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which unpickles only tensors,
primitive containers and explicitly allowlisted classes. fairseq stores its configuration in the
checkpoint: ``cfg`` is converted to plain containers before saving, but the legacy ``args`` slot and
parts of ``cfg`` hold an ``argparse.Namespace``. Without it, resuming training and
``fairseq-generate`` fail with "Unsupported global: argparse.Namespace". We allowlist exactly the
classes that fairseq-train's checkpoints hold (found with
``torch.serialization.get_unsafe_globals_in_checkpoint``; ``tests/test_fairseq_plugin.py`` re-checks
the list on fresh checkpoints) instead of turning ``weights_only`` off. A checkpoint from elsewhere
that needs more names them in its error; check it with that same function before allowlisting.
"""
from __future__ import annotations

import argparse

import torch

FAIRSEQ_CHECKPOINT_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


def allow_fairseq_checkpoint_globals() -> None:
    """Add :data:`FAIRSEQ_CHECKPOINT_GLOBALS` to torch's ``weights_only`` allowlist (idempotent)."""
    torch.serialization.add_safe_globals(list(FAIRSEQ_CHECKPOINT_GLOBALS))
