"""The two fixes this plugin makes to fairseq and torch, applied when this module is imported.

Importing this module changes fairseq/torch state: it is the ONE import side effect of the plugin (every other
module of ``fairseq_ext`` only defines and registers). ``fairseq_ext/__init__.py`` imports it first, so the
fixes are in place in every ``fairseq-train/-generate/-interactive --user-dir fairseq_ext`` process.

Targets: fairseq-fixed 0.12.3.1 (the Python 3.11+ fork that ``scripts/install.sh`` installs, the code of
fairseq 0.12.2) with torch >= 2.6. Both functions are idempotent.

1. ``allow_fairseq_checkpoint_globals``: let fairseq checkpoints load with ``torch.load(weights_only=True)``.
   Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which unpickles only tensors, primitive
   containers and explicitly allowlisted classes. fairseq stores its configuration in the checkpoint: ``cfg``
   is converted to plain containers before saving, but the legacy ``args`` slot and parts of ``cfg`` hold an
   ``argparse.Namespace``. Without the fix, resuming training and ``fairseq-generate`` fail with "Unsupported
   global: argparse.Namespace". We allowlist exactly the classes that fairseq-train's checkpoints hold (found
   with ``torch.serialization.get_unsafe_globals_in_checkpoint``; ``tests/test_fairseq_plugin.py`` re-checks
   the list on fresh checkpoints) instead of turning ``weights_only`` off. A checkpoint from elsewhere that
   needs more names them in its error; check it with that same function before allowlisting.
   *Drop it* when fairseq saves no ``argparse.Namespace`` (or loads with ``weights_only=False`` itself, as
   fairseq main does since its torch-2.6 fix of ``checkpoint_utils.load_checkpoint_to_cpu``): then
   ``test_allowlist_is_exactly_what_checkpoints_hold`` finds nothing unsafe and this function can go.

2. ``keep_last_batch``: keep the last, smaller batch that ``data_utils.batch_by_size`` silently drops.
   fairseq (0.12.x and main, the fairseq-fixed fork included) ends ``batch_by_size`` with::

       if bsz_mult > 1 and len(b[-1]) % bsz_mult != 0:
           b = b[:-1]

   With the default ``--required-batch-size-multiple 8``, every split whose last batch is not a multiple of
   8 loses those sentences: validation loss, ``fairseq-generate`` and BLEU are computed on fewer sentences
   than the test set holds (fairseq issue #5036). Multi30k val (1014 lines) loses sentences this way. We wrap
   the function and put the dropped tail back as a final batch; the rest of the batching (and training
   batches' multiples) is unchanged.
   *Drop it* when fairseq's ``batch_by_size`` keeps the tail itself: ``test_last_partial_batch_is_kept``
   asserts the upstream bug first, so it fails (and says so) on a fairseq that no longer has it.
"""
from __future__ import annotations

import argparse
import functools

import numpy as np
import torch
from fairseq.data import data_utils

#: The classes fairseq-train's checkpoints pickle besides tensors and primitive containers.
FAIRSEQ_CHECKPOINT_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


def allow_fairseq_checkpoint_globals() -> None:
    """Add :data:`FAIRSEQ_CHECKPOINT_GLOBALS` to torch's ``weights_only`` allowlist (fix 1)."""
    torch.serialization.add_safe_globals(list(FAIRSEQ_CHECKPOINT_GLOBALS))


#: fairseq's own ``batch_by_size`` (unwrapped, should this module be reloaded).
original_batch_by_size = getattr(data_utils.batch_by_size, "__wrapped__", data_utils.batch_by_size)


@functools.wraps(original_batch_by_size)
def batch_by_size_keeping_last(indices, *args, **kwargs):
    """fairseq's ``batch_by_size``, plus the tail it dropped as a final batch (fix 2)."""
    batches = original_batch_by_size(indices, *args, **kwargs)
    if kwargs.get("fixed_shapes") is not None:
        return batches  # the fixed-shapes path never drops anything
    indices = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64)
    covered = sum(len(b) for b in batches)
    if covered < len(indices):
        batches = list(batches) + [indices[covered:]]
    return batches


def keep_last_batch() -> None:
    """Install :func:`batch_by_size_keeping_last` as ``fairseq.data.data_utils.batch_by_size`` (fix 2)."""
    data_utils.batch_by_size = batch_by_size_keeping_last


allow_fairseq_checkpoint_globals()
keep_last_batch()
