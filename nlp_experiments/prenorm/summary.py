"""The study's numbers from its run records: per-run entries, the grid table, the main setting and the post vs
pre contrasts there (the deep models over seeds, the shallow pair), deep against shallow at the collapse setting
(:func:`collapse_contrast`), written to ``prenorm/summary.json`` (the report prints its tables and its seed
contrast from that file).

Losses are fairseq's base-2 cross-entropy (bits/token), perplexity is ``2**loss``; the bottom/top gradient
ratio is ``||dL/dx_0|| / ||dL/dx_L||`` (residual stream at the embeddings over the top of the stack).
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mvadl.data import DataError
from nlp_experiments.prenorm.plan import GRID_SEED, NORMS
from nlp_experiments.prenorm.records import ppl

if TYPE_CHECKING:
    from mvadl.runner import Context

COLLAPSED = 1e-3  # a bottom/top gradient ratio below this: the bottom of the network gets (almost) no gradient
TINY = 1e-12  # floor for geometric means and log scales (a gradient norm of exactly 0 counts as this value)
MAIN_SETTING_RULE = "deep seed-1 cell whose worse final valid loss (post vs pre) is the lowest"
TRAINED_RULE = ("did not diverge and its final validation loss is below the validation loss of the training text's "
                "unigram model (prenorm/unigram.json; the training text's unigram entropy from dict.txt without it)")


def unigram_entropy_bits(dict_path: Path) -> float:
    """Entropy (bits/token) of the training-set unigram distribution, from fairseq's dict.txt counts.

    H = -sum_w p(w) log2 p(w) with p(w) = count(w) / sum of counts (fairseq's dictionary leaves out the end-of-line
    token): the level a run must beat to count as trained when the unigram record is missing (:data:`TRAINED_RULE`).
    """
    try:
        lines = [line for line in dict_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        counts = np.array([int(line.rsplit(" ", 2)[1]) for line in lines], dtype=np.float64)
    except FileNotFoundError:
        raise DataError(f"{dict_path}: missing (the study binarizes WikiText-2 into it; or give --data-bin)") from None
    except (OSError, ValueError, IndexError) as e:
        raise DataError(f"{dict_path}: not a fairseq dictionary ({type(e).__name__}: {e})") from None
    if counts.size == 0 or counts.sum() <= 0:
        raise DataError(f"{dict_path}: empty fairseq dictionary")
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def geometric_mean(values: Sequence[float | None]) -> float | None:
    values = [max(v, TINY) for v in values if v is not None]
    return float(np.exp(np.mean(np.log(values)))) if values else None


def summarize_run(run: dict, unigram_bits: float | None, target_ppl: float,
                  unigram_valid_bits: float | None = None) -> dict:
    """One entry of summary.json from a loaded run (:func:`nlp_experiments.prenorm.records.load_run`);
    ``norm`` is "pre" or "post"; ``grad_ratio_*`` = ||dL/dx_0|| / ||dL/dx_L||.

    ``trains`` follows :data:`TRAINED_RULE`, a criterion that does not read the gradient ratio the study measures:
    the final validation loss is below ``unigram_valid_bits`` (the training text's unigram model on the validation
    text), or below ``unigram_bits`` when that is None; ``failed_to_train`` is its negation."""
    final_valid = run["final_valid_loss"]
    level = unigram_valid_bits if unigram_valid_bits is not None else unigram_bits
    trains = bool(not run["diverged"] and final_valid is not None and (level is None or final_valid < level))
    series = run["series"]
    ratios = [v for v in series["ratio_x"] if v is not None]
    half = ratios[len(ratios) // 2:]
    steps = series["step"]
    interval = (steps[1] - steps[0]) if len(steps) > 1 else 1
    collapsed = [s for s, v in zip(steps, series["ratio_x"]) if v is not None and v < COLLAPSED]
    logged = [(v, s) for s, v in zip(steps, series["ratio_x"]) if v is not None]
    return {
        "name": run["name"], "norm": run["norm"].removesuffix("norm"), "depth": run["depth"],
        "layers": run["layers"], "warmup_updates": run["warmup_updates"], "lr": run["lr"], "seed": run["seed"],
        "updates": run["updates"], "max_update": run["max_update"], "tokens_seen": run["tokens_seen"],
        "loss_unit": "bits/token",
        "final_train_loss": run["final_train_loss"], "final_train_ppl": ppl(run["final_train_loss"]),
        "final_valid_loss": final_valid, "final_valid_ppl": ppl(final_valid),
        "train_minus_valid_loss": (run["final_train_loss"] - final_valid
                                   if run["final_train_loss"] is not None and final_valid is not None else None),
        "best_valid_loss": run["best_valid_loss"],
        "diverged": bool(run["diverged"]),
        "failed_to_train": not trains,
        "trains": trains,
        "below_target_ppl": bool(not run["diverged"] and ppl(final_valid) is not None
                                 and ppl(final_valid) < target_ppl),
        "grad_ratio_init": run["grad_ratio_init"], "grad_ratio_final": run["grad_ratio_final"],
        "grad_ratio_min": run["grad_ratio_min"], "grad_ratio_max": run["grad_ratio_max"],
        "grad_ratio_geomean_second_half": geometric_mean(half),
        "updates_grad_ratio_below_1e-3": len(collapsed) * interval,
        "first_update_grad_ratio_below_1e-3": min(collapsed, default=None),
        "last_update_grad_ratio_below_1e-3": max(collapsed, default=None),
        "update_grad_ratio_min": min(logged)[1] if logged else None,
        "param_grad_ratio_init": run["param_grad_ratio_init"], "param_grad_ratio_final": run["param_grad_ratio_final"],
        "wall_time_s": run["wall_time_s"], "device": run["device"], "exit_code": run["exit_code"],
        "git_revision": run["git_revision"],
    }


def _score(entry: dict | None) -> float:
    if entry is None or entry["diverged"] or entry["final_valid_loss"] is None:
        return math.inf
    return entry["final_valid_loss"]


def choose_main_setting(runs: Sequence[dict]) -> tuple[str, int]:
    """``(lr_text, warmup)`` of the deep seed-1 cell whose worse final valid loss (post vs pre) is the lowest
    (the first such cell in the order of ``runs`` on a tie)."""
    cells: dict[tuple[str, int], dict] = {}
    for run in runs:
        if run["depth"] == "deep" and run["seed"] == GRID_SEED:
            cells.setdefault((run["lr_text"], run["warmup_updates"]), {})[run["norm"]] = run
    if not cells:
        raise DataError("no deep seed-1 run to choose the main setting from")
    return min(cells, key=lambda c: max(_score(cells[c].get(n)) for n in NORMS))


def grid_table(entries: Sequence[dict], runs: Sequence[dict]) -> list[dict]:
    """The deep seed-1 grid: one row per (lr, warm-up) with both norms' final valid ppl and status."""
    lr_text = {r["name"]: r["lr_text"] for r in runs}
    cells: dict[tuple[float, int], dict] = {}
    for e in entries:
        if e["depth"] == "deep" and e["seed"] == GRID_SEED:
            cell = cells.setdefault((e["lr"], e["warmup_updates"]), {
                "lr": e["lr"], "lr_text": lr_text[e["name"]], "warmup_updates": e["warmup_updates"]})
            short = e["norm"]
            cell[f"{short}_valid_ppl"] = e["final_valid_ppl"]
            cell[f"{short}_valid_loss"] = e["final_valid_loss"]
            cell[f"{short}_below_target_ppl"] = e["below_target_ppl"]
            cell[f"{short}_failed_to_train"] = e["failed_to_train"]
            cell[f"{short}_grad_ratio_geomean_second_half"] = e["grad_ratio_geomean_second_half"]
            cell[f"{short}_trains"] = e["trains"]
            cell[f"{short}_updates_grad_ratio_below_1e-3"] = e["updates_grad_ratio_below_1e-3"]
    return [cells[k] for k in sorted(cells)]


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _std(values: Sequence[float]) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def direction(differences: Sequence[float]) -> str | None:
    """``"higher"`` when every per-seed difference is positive, ``"lower"`` when every one is negative,
    ``"mixed"`` otherwise (None without a difference). With few seeds this describes the runs; it is not a
    significance test."""
    if not differences:
        return None
    if all(d > 0 for d in differences):
        return "higher"
    if all(d < 0 for d in differences):
        return "lower"
    return "mixed"


def main_contrast(entries: Sequence[dict], lr: float, warmup: int, depth: str = "deep") -> dict:
    """Post vs pre of one depth at the main setting, over seeds: mean and sample std of the final valid loss/ppl,
    and the paired per-seed difference post - pre (bits) with its :func:`direction`."""
    out: dict = {"lr": lr, "warmup_updates": warmup}
    by_norm = {}
    for short in ("post", "pre"):
        chosen = sorted((e for e in entries if e["depth"] == depth and e["norm"] == short and e["lr"] == lr
                         and e["warmup_updates"] == warmup), key=lambda e: e["seed"])
        by_norm[short] = {e["seed"]: e for e in chosen}
        losses = [e["final_valid_loss"] for e in chosen if e["final_valid_loss"] is not None]
        ppls = [e["final_valid_ppl"] for e in chosen if e["final_valid_ppl"] is not None]
        out[short] = {"seeds": [e["seed"] for e in chosen], "final_valid_loss": losses, "final_valid_ppl": ppls,
                      "valid_loss_mean": _mean(losses), "valid_loss_std": _std(losses),
                      "valid_ppl_mean": _mean(ppls), "valid_ppl_std": _std(ppls)}
    paired = sorted(set(by_norm["post"]) & set(by_norm["pre"]))
    post, pre = by_norm["post"], by_norm["pre"]
    diffs = [post[s]["final_valid_loss"] - pre[s]["final_valid_loss"] for s in paired
             if post[s]["final_valid_loss"] is not None and pre[s]["final_valid_loss"] is not None]
    out["post_minus_pre_bits"] = {"seeds": paired, "values": diffs, "mean": _mean(diffs), "std": _std(diffs),
                                  "n": len(diffs), "direction": direction(diffs)}
    return out


def warmup_contrast(entries: Sequence[dict], norm: str = "post", depth: str = "deep") -> list[dict]:
    """Per peak LR of the grid (seed-1 runs of ``norm`` and ``depth``): the final valid loss without warm-up (the
    shortest one run) minus with the longest, in bits, and its :func:`direction` (``"higher"``: worse without
    warm-up in that run; one run each, not a test)."""
    grid = [e for e in entries if e["norm"] == norm and e["depth"] == depth and e["seed"] == GRID_SEED]
    out = []
    for lr in sorted({e["lr"] for e in grid}):
        at = {e["warmup_updates"]: e for e in grid if e["lr"] == lr}
        short, long = at[min(at)], at[max(at)]
        values = [short["final_valid_loss"] - long["final_valid_loss"]] if None not in (
            short["final_valid_loss"], long["final_valid_loss"]) and short is not long else []
        out.append({"lr": lr, "norm": norm, "warmup_without": min(at), "warmup_with": max(at),
                    "without_minus_with_bits": {"values": values, "direction": direction(values)}})
    return out


#: Per run of the collapse contrast: its summary entry's fields (see :func:`summarize_run`).
COLLAPSE_FIELDS = ("name", "grad_ratio_final", "grad_ratio_min", "first_update_grad_ratio_below_1e-3",
                   "final_valid_loss", "final_valid_ppl", "diverged")


def _paired(first: dict[int, dict], second: dict[int, dict], value) -> dict:
    """Per seed that both have, ``value(first) - value(second)`` (seeds where either is None are left out), with
    mean, sample std, n and :func:`direction`."""
    seeds, values = [], []
    for seed in sorted(set(first) & set(second)):
        a, b = value(first[seed]), value(second[seed])
        if a is not None and b is not None:
            seeds.append(seed)
            values.append(a - b)
    return {"seeds": seeds, "values": values, "mean": _mean(values), "std": _std(values), "n": len(values),
            "direction": direction(values)}


def _log10_ratio(entry: dict) -> float | None:
    ratio = entry["grad_ratio_final"]
    return None if ratio is None or entry["diverged"] else math.log10(max(ratio, TINY))


def collapse_contrast(entries: Sequence[dict], lr: float, lr_text: str, warmup: int,
                      seeds: Sequence[int]) -> dict:
    """Deep against shallow at the collapse setting ``(lr, warmup)``, for each norm and each of ``seeds``.

    ``{depth: {norm: {"seeds", "missing_seeds", "n_trained", "runs": [...]}}}``: one item per seed whose run is in
    ``entries`` (summary entries), with its final bottom/top gradient ratio r = ||dL/dx_0|| / ||dL/dx_L||, the
    smallest r, the first update with r < :data:`COLLAPSED`, the final validation loss (bits) and perplexity, and
    ``trained``: not ``failed_to_train`` of :func:`summarize_run` (a finite final validation loss below the unigram
    level), a criterion that does not read r. ``missing_seeds``: the seeds without a run (a study from before these
    runs). ``deep_minus_shallow``, per norm, per seed that both depths have: the final validation loss deep -
    shallow (bits) and log10 of the final r deep - shallow, each with its :func:`direction` (the runs, not a test).
    """
    out: dict = {"lr": lr, "lr_text": lr_text, "warmup_updates": warmup, "seeds": list(seeds)}
    by_depth: dict[str, dict[str, dict[int, dict]]] = {}
    for depth in ("deep", "shallow"):
        out[depth] = {}
        for short in ("post", "pre"):
            found = {e["seed"]: e for e in entries if e["depth"] == depth and e["norm"] == short
                     and e["lr"] == lr and e["warmup_updates"] == warmup and e["seed"] in seeds}
            by_depth.setdefault(depth, {})[short] = found
            runs = [{"seed": seed, **{key: found[seed][key] for key in COLLAPSE_FIELDS},
                     "trained": not found[seed]["failed_to_train"]} for seed in seeds if seed in found]
            out[depth][short] = {"seeds": [run["seed"] for run in runs],
                                 "missing_seeds": [seed for seed in seeds if seed not in found],
                                 "n_trained": sum(run["trained"] for run in runs), "runs": runs}
    out["deep_minus_shallow"] = {
        short: {"valid_loss_bits": _paired(by_depth["deep"][short], by_depth["shallow"][short],
                                           lambda e: e["final_valid_loss"]),
                "log10_grad_ratio_final": _paired(by_depth["deep"][short], by_depth["shallow"][short],
                                                  _log10_ratio)}
        for short in ("post", "pre")}
    return out


#: The fields of a Jacobian-vs-depth record (``prenorm/jacobian_depth.json``) averaged over its seeds.
JACOBIAN_FIELDS = ("spectral_norm", "rms_singular_value", "min_singular_value", "distance_from_identity")


def jacobian_means(records: Sequence[dict]) -> dict[str, dict[str, dict]]:
    """``{norm: {depth: {field: mean over seeds, "seeds": [...]}}}`` of the Jacobian-vs-depth records (depth as a
    string, as JSON keys are), for each field of :data:`JACOBIAN_FIELDS` that the records hold; and, per norm,
    ``max_min_singular_value``, the largest smallest singular value of any of its stacks."""
    out: dict = {}
    for r in records:
        out.setdefault(r["norm"], {}).setdefault(str(r["depth"]), []).append(r)
    return {norm: {**{depth: {"seeds": [r["seed"] for r in group],
                              **{key: _mean([r[key] for r in group]) for key in JACOBIAN_FIELDS if key in group[0]}}
                      for depth, group in by_depth.items()},
                   "max_min_singular_value": max((r["min_singular_value"] for group in by_depth.values()
                                                  for r in group if "min_singular_value" in r), default=None)}
            for norm, by_depth in out.items()}


def study_elapsed_s(runs: Sequence[dict]) -> float | None:
    """Wall-clock seconds from the start of the first run to the record of the last (runs overlap: JOBS at a
    time); None when a record does not say when it was written."""
    try:
        ends = [dt.datetime.fromisoformat(r["created_utc"]).timestamp() for r in runs]
    except (KeyError, ValueError):
        return None
    starts = [end - r["wall_time_s"] for end, r in zip(ends, runs)]
    return round(max(ends) - min(starts), 1) if runs else None


def write_summary(ctx: Context, runs: Sequence[dict], main: tuple[str, int], unigram_bits: float,
                  target_ppl: float, jacobian_records: Sequence[dict] = (),
                  collapse: tuple[str, int] | None = None, seeds: Sequence[int] = (), *,
                  unigram_valid_bits: float | None = None) -> tuple[Path, list[dict]]:
    """``prenorm/summary.json`` (through ``ctx.record``) from the loaded ``runs``, the main setting ``(lr_text,
    warmup)``, the Jacobian-vs-depth records (their means over seeds, :func:`jacobian_means`) and the collapse
    setting ``(lr_text, warmup)`` with the study's ``seeds`` (:func:`collapse_contrast`; None: no collapse setting,
    and ``collapse_contrast`` is None); ``trains`` of each run compares its final validation loss with
    ``unigram_valid_bits`` (:func:`summarize_run`). Returns its path and its per-run entries."""
    summary = [summarize_run(run, unigram_bits, target_ppl, unigram_valid_bits) for run in runs]
    main_lr = next((r["lr"] for r in runs if r["lr_text"] == main[0]), None)
    if main_lr is None:
        raise DataError(f"no run at the main setting's LR {main[0]}")
    contrast_at_collapse = None
    if collapse is not None:
        collapse_lr = next((r["lr"] for r in runs if r["lr_text"] == collapse[0]), float(collapse[0]))
        contrast_at_collapse = collapse_contrast(summary, collapse_lr, collapse[0], collapse[1], seeds)
    path = ctx.record(
        "prenorm", "summary",
        config={"runs_dir": "results/prenorm/runs", "series_dir": "results/prenorm/series",
                "unigram_entropy_bits": unigram_bits, "unigram_ppl": 2 ** unigram_bits if unigram_bits else None,
                "unigram_valid_bits": unigram_valid_bits, "trained_rule": TRAINED_RULE,
                "target_ppl": target_ppl, "main_setting_rule": MAIN_SETTING_RULE},
        metrics={"runs": summary, "grid": grid_table(summary, runs),
                 "main_setting": {"lr": main_lr, "warmup_updates": main[1]},
                 "main_contrast": {"lr_text": main[0], **main_contrast(summary, main_lr, main[1])},
                 "shallow_contrast": {"lr_text": main[0], **main_contrast(summary, main_lr, main[1], "shallow")},
                 "warmup_contrast": warmup_contrast(summary),
                 "collapse_contrast": contrast_at_collapse,
                 "jacobian_depth_means": jacobian_means(jacobian_records),
                 "runs_wall_time_sum_s": sum(e["wall_time_s"] for e in summary),
                 "study_elapsed_s": study_elapsed_s(runs)},
        seed=summary[0]["seed"], wall_time_s=sum(e["wall_time_s"] for e in summary), device=summary[0]["device"])
    return path, summary
