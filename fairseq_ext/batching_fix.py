"""Keep the last, smaller batch that fairseq's ``batch_by_size`` silently drops.

fairseq (0.12.x and main, the fairseq-fixed fork included) ends ``data_utils.batch_by_size`` with::

    if bsz_mult > 1 and len(b[-1]) % bsz_mult != 0:
        b = b[:-1]

With the default ``--required-batch-size-multiple 8``, every split whose last batch is not a multiple
of 8 loses those sentences: validation loss, ``fairseq-generate`` and BLEU are computed on fewer
sentences than the test set holds (fairseq issue #5036). Multi30k val (1014 lines) loses sentences
this way. We wrap the function and put the dropped tail back as a final batch; the rest of the
batching (and training batches' multiples) is unchanged.
"""
from __future__ import annotations

import functools

import numpy as np
from fairseq.data import data_utils

_original_batch_by_size = getattr(data_utils.batch_by_size, "__wrapped__", data_utils.batch_by_size)


@functools.wraps(_original_batch_by_size)
def batch_by_size_keeping_last(indices, *args, **kwargs):
    batches = _original_batch_by_size(indices, *args, **kwargs)
    if kwargs.get("fixed_shapes") is not None:
        return batches  # the fixed-shapes path never drops anything
    indices = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64)
    covered = sum(len(b) for b in batches)
    if covered < len(indices):
        batches = list(batches) + [indices[covered:]]
    return batches


def keep_last_batch() -> None:
    """Install the wrapper (idempotent)."""
    data_utils.batch_by_size = batch_by_size_keeping_last
