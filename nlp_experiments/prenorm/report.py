"""The study's outputs from its records: ``prenorm/summary.json``, ``prenorm/jacobian_depth.json`` and the figures.

Everything here reads the committed files under the results root (run records, series, the Jacobian records)
and the dictionary of the binarized data (for the unigram baseline); no run folder is needed, so the
figures and the summary can be redrawn without re-training (``python -m nlp_experiments.prenorm.redraw``).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mvadl.data import DataError
from nlp_experiments.prenorm.figures import save_study_figures
from nlp_experiments.prenorm.records import load_run, read_json
from nlp_experiments.prenorm.summary import unigram_entropy_bits, write_summary

if TYPE_CHECKING:
    from mvadl.runner import Context

logger = logging.getLogger(__name__)

#: The random attention stacks of the Jacobian-vs-depth analysis (panel (a) of jacobian_vs_depth.png).
JACOBIAN_SHAPE = {"dim": 16, "tokens": 8, "heads": 2}


def jacobian_depth_path(root: Path) -> Path:
    return root / "prenorm" / "jacobian_depth.json"


def write_jacobian_depth(ctx: Context, root: Path, depths: Sequence[int], seeds: Sequence[int],
                         base_seed: int) -> Path:
    """``prenorm/jacobian_depth.json`` under ``root`` (the results root ``ctx.record`` writes to): ||d x_L / d x_0||
    of random stacks of L blocks (:func:`nlp_experiments.prenorm.jacobians.jacobian_norms_vs_depth`), unless the
    file holds this very analysis already (same shape, depths, seeds and base seed), as the runs are skipped once
    recorded."""
    from mvadl.results import describe_device
    from nlp_experiments.prenorm.jacobians import jacobian_norms_vs_depth

    path = jacobian_depth_path(root)
    config = {**JACOBIAN_SHAPE, "seeds": list(seeds), "depths": list(depths)}
    if path.is_file():
        done = read_json(path, "Jacobian-vs-depth record")
        if isinstance(done, dict) and done.get("config") == config and done.get("seed") == base_seed:
            logger.info("%s: done before, skipped (delete it to redo it)", path)
            return path
    started = time.perf_counter()
    toy = jacobian_norms_vs_depth(depths, **JACOBIAN_SHAPE, seeds=seeds, base_seed=base_seed)
    return ctx.record("prenorm", "jacobian_depth", {"records": toy}, config=config, seed=base_seed,
                      wall_time_s=time.perf_counter() - started, device=describe_device("cpu"))


def load_jacobian_records(root: Path) -> list[dict]:
    """The records of ``prenorm/jacobian_depth.json``; a :class:`DataError` naming it if missing or broken."""
    path = jacobian_depth_path(root)
    record = read_json(path, "Jacobian-vs-depth record (the study writes it)")
    records = record.get("metrics", {}).get("records") if isinstance(record, dict) else None
    if not records or not all(isinstance(r, dict) and {"norm", "depth", "spectral_norm",
                                                       "rms_singular_value"} <= r.keys() for r in records):
        raise DataError(f"{path}: broken Jacobian-vs-depth record (no metrics.records with norm, depth, "
                        f"spectral_norm, rms_singular_value)")
    return records


def unigram_level_bits(root: Path) -> float | None:
    """Validation loss (bits/token) of the training text's unigram model, from ``prenorm/unigram.json``
    (:mod:`nlp_experiments.prenorm.unigram`) under ``root``: the one reference level of the figures (None: no
    such record)."""
    path = root / "prenorm" / "unigram.json"
    if not path.is_file():
        return None
    record = read_json(path, "unigram record")
    bits = record.get("metrics", {}).get("valid_cross_entropy_bits") if isinstance(record, dict) else None
    if not isinstance(bits, (int, float)):
        raise DataError(f"{path}: broken unigram record (no metrics.valid_cross_entropy_bits)")
    return float(bits)


def redraw_figures(names: Sequence[str], main: tuple[str, int], root: Path,
                   collapse: tuple[str, int] | None = None) -> list[Path]:
    """Every figure under ``root/prenorm`` from the records of the runs ``names``, the committed summary.json (its
    entries) and the Jacobian records, without writing any record; ``collapse``: the collapse setting. Returns the
    figures' paths."""
    summary = read_json(root / "prenorm" / "summary.json", "study summary (the study writes it)")
    entries = {entry.get("name"): entry for entry in summary.get("runs", [])} if isinstance(summary, dict) else {}
    missing = [name for name in names if name not in entries]
    if missing:
        raise DataError(f"{root / 'prenorm' / 'summary.json'}: no entry for the runs {missing}")
    runs = [load_run(name, root) for name in names]
    return save_study_figures(runs, [entries[name] for name in names], load_jacobian_records(root), main,
                              unigram_level_bits(root), root / "prenorm", collapse)


def write_outputs(ctx: Context, names: Sequence[str], main: tuple[str, int], root: Path, dict_path: Path,
                  target_ppl: float, figures: bool = True, collapse: tuple[str, int] | None = None,
                  seeds: Sequence[int] = ()) -> Path:
    """summary.json (through ``ctx``) and, with ``figures``, every figure under ``root/prenorm`` (the results root)
    from the records of the runs ``names`` (in that order), the main setting ``(lr_text, warmup)`` and the
    collapse setting ``(lr_text, warmup)`` with the study's ``seeds`` (None: none). Returns the summary's path."""
    started = time.perf_counter()
    runs = [load_run(name, root) for name in names]
    unigram = unigram_entropy_bits(dict_path)
    toy = load_jacobian_records(root)
    summary_path, entries = write_summary(ctx, runs, main, unigram, target_ppl, toy, collapse, seeds,
                                          unigram_valid_bits=unigram_level_bits(root))
    for entry in entries:
        logger.info("%s: valid %.3f bits (ppl %.0f), diverged=%s failed=%s", entry["name"],
                    entry["final_valid_loss"] or float("nan"), entry["final_valid_ppl"] or float("nan"),
                    entry["diverged"], entry["failed_to_train"])
    out_dir = root / "prenorm"
    if not figures:
        logger.info("%s (%.1f s)", summary_path, time.perf_counter() - started)
        return summary_path
    save_study_figures(runs, entries, toy, main, unigram_level_bits(root), out_dir, collapse)
    logger.info("%s and the figures in %s (%.1f s)", summary_path, out_dir, time.perf_counter() - started)
    return summary_path
