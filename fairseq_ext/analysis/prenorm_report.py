"""Records, figures and summary of the pre-norm vs post-norm study (Q20-Q22).

Three entry points, all used by scripts/prenorm_study.sh:

* ``--record RUN_DIR``: after one fairseq-train run, read its folder (``meta.json`` written by the script,
  ``gradnorm.jsonl`` written by the mva_cross_entropy_gradnorm criterion, ``train.log``: fairseq's
  ``--log-format json`` output) and write

  - ``results/prenorm/series/<name>.json``: the per-update series (gradient norms per layer, bottom/top ratios,
    update sizes, Jacobian probes, train and valid losses), compact JSON, 4 significant digits;
  - ``results/prenorm/runs/<name>.json``: config, seed, git revision, wall time and final numbers of the run,
    through :func:`mvadl.results.write_results`.

* ``--main-setting NAME ...``: print ``LR WARMUP`` of the best common deep cell of the grid (the cell where the
  worse of deep post-norm and deep pre-norm, seed 1, has the lowest final valid loss).

* ``--runs NAME ...``: the figures and ``results/prenorm/summary.json`` / ``jacobian_depth.json``, from the committed
  files above only (no run folder needed). A missing or broken run file stops it with one line naming the file.

    python -m fairseq_ext.analysis.prenorm_report --runs $(ls results/prenorm/runs | sed 's/.json//') \\
        --main-lr 1e-3 --main-warmup 500
"""
from __future__ import annotations

import argparse
import ast
import json
import logging
import math
import re
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from matplotlib.ticker import MaxNLocator

from mvadl.cli import run_cli
from mvadl.data.errors import DataError
from mvadl.io import atomic_write_text
from mvadl.plotting import new_figure, save_figure
from mvadl.results import describe_device, results_dir, write_results

logger = logging.getLogger(__name__)
NORMS = ("postnorm", "prenorm")
DEPTHS = ("shallow", "deep")
NORM_COLORS = {"postnorm": "tab:red", "prenorm": "tab:blue"}
NORM_LABELS = {"postnorm": "post-norm (eq. 31)", "prenorm": "pre-norm (eq. 32)"}
WARMUP_STYLES = ("-", "--", ":", "-.")
COLLAPSED = 1e-3  # a bottom/top gradient ratio below this: the bottom of the network gets (almost) no gradient
TINY = 1e-12  # floor for log scales (a gradient norm of exactly 0 is plotted at this value)
NAME_RE = re.compile(r"^(?P<norm>postnorm|prenorm)_(?P<depth>shallow|deep)_lr(?P<lr>[^_]+)_wu(?P<warmup>\d+)"
                     r"_s(?P<seed>\d+)$")
SERIES_KEYS = ("step", "ratio_x", "ratio_param", "grad_x", "grad_param", "train", "valid")


# ------------------------------------------------------------------------------------------- run folders
def read_jsonl(path: Path) -> List[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def parse_fairseq_log(path: Path) -> Dict[str, List[dict]]:
    """``train_inner`` and ``valid`` records of a fairseq ``--log-format json`` log, as floats."""
    out = {"train": [], "valid": []}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        for tag, key in ((" | train_inner | ", "train"), (" | valid | ", "valid")):
            if tag in line:
                try:
                    raw = json.loads(line.split(tag, 1)[1])
                except json.JSONDecodeError:
                    continue
                out[key].append({k: _float(v) for k, v in raw.items()})
    return out


def fairseq_config(path: Path) -> dict:
    """The model / optimization / task part of the config that fairseq-train prints at start (empty if absent)."""
    if not path.exists():
        return {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if "{'_name': None, 'common':" in line:
            try:
                # bare names in the repr (relu, inf, ...) become strings
                text = re.sub(r"(?<=[:\[,] )(-?[A-Za-z_][\w.]*)(?=[,}\]])",
                              lambda m: m.group(1) if m.group(1) in ("None", "True", "False") else repr(m.group(1)),
                              line[line.index("{'_name'"):])
                cfg = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                return {}
            model = cfg.get("model") or {}
            keep = ("_name", "arch", "decoder_layers", "decoder_embed_dim", "decoder_ffn_embed_dim",
                    "decoder_attention_heads", "decoder_normalize_before", "dropout", "attention_dropout",
                    "adaptive_softmax_cutoff", "adaptive_input", "adaptive_input_cutoff", "tie_adaptive_weights",
                    "tie_adaptive_proj", "share_decoder_input_output_embed")
            return {"model": {k: model.get(k) for k in keep if k in model},
                    "task": {k: (cfg.get("task") or {}).get(k) for k in ("data", "tokens_per_sample",
                                                                         "sample_break_mode")},
                    "batch_size": (cfg.get("dataset") or {}).get("batch_size"),
                    "optimizer": cfg.get("optimizer"), "lr_scheduler": cfg.get("lr_scheduler"),
                    "max_update": (cfg.get("optimization") or {}).get("max_update"),
                    "lr": (cfg.get("optimization") or {}).get("lr")}
    return {}


def _float(value) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _sig(value, digits: int = 4):
    """Round floats (also inside lists) to ``digits`` significant digits; non-finite -> None."""
    if isinstance(value, list):
        return [_sig(v, digits) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}")
    return value


def unigram_entropy_bits(dict_path: Path) -> float:
    """Entropy (bits/token) of the training-set unigram distribution, from fairseq's dict.txt counts.

    A language model whose loss stays above it has learned less than word frequencies: it failed to train.
    """
    counts = np.array([int(line.rsplit(" ", 2)[1]) for line in dict_path.read_text(encoding="utf-8").splitlines()
                       if line.strip()], dtype=np.float64)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def build_series(records: List[dict], log: Dict[str, List[dict]]) -> dict:
    """The per-update series of one run, compact: lists indexed like ``step`` (gradient records)."""
    probes = [r for r in records if r.get("jacobian_rms")]
    train = [r for r in log["train"] if r.get("num_updates") is not None]
    valid = [r for r in log["valid"] if r.get("valid_num_updates") is not None]
    return {
        "loss_unit": "bits/token",
        "step": [r["step"] for r in records],
        "batch_loss": [_sig(r.get("loss")) for r in records],
        "ratio_x": [_sig(r.get("ratio_x")) for r in records],
        "ratio_param": [_sig(r.get("ratio_param")) for r in records],
        "update_rel_total": [_sig(r.get("update_rel_total")) for r in records],
        "grad_x": [_sig(list(r.get("grad_x") or [])) for r in records],
        "grad_param": [_sig(list(r.get("grad_param") or [])) for r in records],
        "jacobian": {"step": [r["step"] for r in probes], "rms": [_sig(list(r["jacobian_rms"])) for r in probes]},
        "train": {"update": [int(r["num_updates"]) for r in train], "loss": [_sig(r.get("loss")) for r in train],
                  "lr": [_sig(r.get("lr")) for r in train]},
        "valid": {"update": [int(r["valid_num_updates"]) for r in valid],
                  "loss": [_sig(r.get("valid_loss")) for r in valid]},
    }


def run_metrics(meta: dict, records: List[dict], log: Dict[str, List[dict]]) -> dict:
    """Final numbers of one run (losses in bits/token, fairseq's base-2 loss; ppl = 2**loss)."""
    train, valid = log["train"], log["valid"]
    final_train = train[-1]["loss"] if train else None
    final_valid = valid[-1]["valid_loss"] if valid else None
    losses = [v for v in (final_train, final_valid) if v is not None]
    updates = int(train[-1]["num_updates"]) if train else 0
    tokens, previous = 0.0, 0
    for r in train:  # words per batch x updates of each logging interval
        tokens += (r.get("wpb") or 0.0) * (int(r["num_updates"]) - previous)
        previous = int(r["num_updates"])
    ratios = [r["ratio_x"] for r in records if r.get("ratio_x") is not None]
    first, last = (records[0], records[-1]) if records else ({}, {})
    return {
        "norm": meta["norm"].removesuffix("norm"), "depth": meta["depth"], "lr": meta["lr"],
        "warmup_updates": meta["warmup_updates"], "layers": len(first.get("grad_param") or []),
        "updates": updates, "max_update": meta["max_update"], "tokens_seen": int(round(tokens)),
        "loss_unit": "bits/token", "final_train_loss": final_train, "final_valid_loss": final_valid,
        "final_valid_ppl": _ppl(final_valid),
        "best_valid_loss": min((v["valid_loss"] for v in valid if v.get("valid_loss") is not None), default=None),
        "diverged": bool(meta["exit_code"] != 0 or any(not math.isfinite(v) for v in losses) or not valid),
        "grad_ratio_init": first.get("ratio_x"), "grad_ratio_final": last.get("ratio_x"),
        "grad_ratio_min": min(ratios, default=None), "grad_ratio_max": max(ratios, default=None),
        "param_grad_ratio_init": first.get("ratio_param"), "param_grad_ratio_final": last.get("ratio_param"),
        "exit_code": meta["exit_code"],
    }


def record_run(run_dir: Path) -> Path:
    """Write ``series/<name>.json`` and ``runs/<name>.json`` under ``$RESULTS_DIR/prenorm`` for one run folder."""
    meta_path = run_dir / "meta.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path}: no meta.json (the run did not finish)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    records = read_jsonl(run_dir / "gradnorm.jsonl")
    log = parse_fairseq_log(run_dir / "train.log")
    name = meta["name"]
    series_rel = f"series/{name}.json"
    series_path = results_dir() / "prenorm" / series_rel
    atomic_write_text(series_path, json.dumps({"name": name, **build_series(records, log)},
                                              separators=(",", ":"), allow_nan=False) + "\n")
    config = {k: v for k, v in meta.items() if k not in ("exit_code", "wall_time_s", "name")}
    config["arch"] = f"mva_lm_{meta['norm']}_{meta['depth']}"
    config["fairseq"] = fairseq_config(run_dir / "train.log")
    metrics = {**run_metrics(meta, records, log), "series_file": series_rel}
    return write_results("prenorm/runs", name, config=config, metrics=metrics, seed=meta["seed"],
                         wall_time_s=meta["wall_time_s"], device=describe_device("cpu"))


# ------------------------------------------------------------------------------------------- committed results
def load_run(name: str, root: Optional[Path] = None) -> dict:
    """One run from ``runs/<name>.json`` and its series; DataError (one line naming the file) if missing/broken."""
    root = (root or results_dir()) / "prenorm"
    path = root / "runs" / f"{name}.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        run = {key: record[key] for key in ("norm", "depth", "lr", "warmup_updates", "final_valid_loss",
                                            "updates", "tokens_seen", "series_file", "seed", "wall_time_s")}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: missing or broken run file ({type(e).__name__}: {e})") from None
    series_path = root / record["series_file"]
    try:
        series = json.loads(series_path.read_text(encoding="utf-8"))
        missing = [k for k in SERIES_KEYS if k not in series]
        if missing:
            raise KeyError(f"no {missing}")
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{series_path}: missing or broken series file of run {name} "
                        f"({type(e).__name__}: {e})") from None
    match = NAME_RE.match(name)
    record.update(name=name, series=series, norm=record["norm"] + "norm" if not record["norm"].endswith("norm")
                  else record["norm"], lr_text=match.group("lr") if match else str(record["lr"]))
    return record


def summarize_run(run: dict, unigram_bits: Optional[float], target_ppl: float) -> dict:
    """One entry of summary.json; losses in bits/token, ppl = 2**loss; ``norm`` is "pre" or "post";
    ``grad_ratio_*`` = ||dL/dx_0|| / ||dL/dx_L|| (bottom/top of the residual stream)."""
    final_valid = run["final_valid_loss"]
    series = run["series"]
    ratios = [v for v in series["ratio_x"] if v is not None]
    half = ratios[len(ratios) // 2:]
    steps = series["step"]
    interval = (steps[1] - steps[0]) if len(steps) > 1 else 1
    collapsed = [s for s, v in zip(steps, series["ratio_x"]) if v is not None and v < COLLAPSED]
    return {
        "name": run["name"], "norm": run["norm"].removesuffix("norm"), "depth": run["depth"],
        "layers": run["layers"], "warmup_updates": run["warmup_updates"], "lr": run["lr"], "seed": run["seed"],
        "updates": run["updates"], "max_update": run["max_update"], "tokens_seen": run["tokens_seen"],
        "loss_unit": "bits/token",
        "final_train_loss": run["final_train_loss"], "final_train_ppl": _ppl(run["final_train_loss"]),
        "final_valid_loss": final_valid, "final_valid_ppl": _ppl(final_valid),
        "best_valid_loss": run["best_valid_loss"],
        "diverged": bool(run["diverged"]),
        "failed_to_train": bool(run["diverged"] or final_valid is None or (
            unigram_bits is not None and final_valid >= unigram_bits)),
        "below_target_ppl": bool(not run["diverged"] and _ppl(final_valid) is not None
                                 and _ppl(final_valid) < target_ppl),
        "grad_ratio_init": run["grad_ratio_init"], "grad_ratio_final": run["grad_ratio_final"],
        "grad_ratio_min": run["grad_ratio_min"], "grad_ratio_max": run["grad_ratio_max"],
        "grad_ratio_geomean_second_half": _geomean(half),
        "updates_grad_ratio_below_1e-3": len(collapsed) * interval,
        "last_update_grad_ratio_below_1e-3": max(collapsed, default=None),
        "param_grad_ratio_init": run["param_grad_ratio_init"], "param_grad_ratio_final": run["param_grad_ratio_final"],
        "wall_time_s": run["wall_time_s"], "device": run["device"], "exit_code": run["exit_code"],
        "git_revision": run["git_revision"],
    }


def _ppl(bits: Optional[float]) -> Optional[float]:
    return None if bits is None or not math.isfinite(bits) or bits > 1000 else 2.0 ** bits


def _geomean(values: Sequence[float]) -> Optional[float]:
    values = [max(v, TINY) for v in values if v is not None]
    return float(np.exp(np.mean(np.log(values)))) if values else None


def _score(entry: Optional[dict]) -> float:
    if entry is None or entry["diverged"] or entry["final_valid_loss"] is None:
        return math.inf
    return entry["final_valid_loss"]


def choose_main_setting(runs: List[dict]) -> tuple:
    """(lr_text, warmup) of the deep seed-1 cell whose worse final valid loss (post vs pre) is the lowest."""
    cells = {}
    for run in runs:
        if run["depth"] == "deep" and run["seed"] == 1:
            cells.setdefault((run["lr_text"], run["warmup_updates"]), {})[run["norm"]] = run
    if not cells:
        raise DataError("no deep seed-1 run to choose the main setting from")
    best = min(cells, key=lambda c: max(_score(cells[c].get(n)) for n in NORMS))
    return best


def grid_table(entries: List[dict], runs: List[dict]) -> List[dict]:
    """The deep seed-1 grid: one row per (lr, warm-up) with both norms' final valid ppl and status."""
    lr_text = {r["name"]: r["lr_text"] for r in runs}
    cells = {}
    for e in entries:
        if e["depth"] == "deep" and e["seed"] == 1:
            cell = cells.setdefault((e["lr"], e["warmup_updates"]), {
                "lr": e["lr"], "lr_text": lr_text[e["name"]], "warmup_updates": e["warmup_updates"]})
            short = e["norm"]
            cell[f"{short}_valid_ppl"] = e["final_valid_ppl"]
            cell[f"{short}_valid_loss"] = e["final_valid_loss"]
            cell[f"{short}_below_target_ppl"] = e["below_target_ppl"]
            cell[f"{short}_failed_to_train"] = e["failed_to_train"]
            cell[f"{short}_grad_ratio_geomean_second_half"] = e["grad_ratio_geomean_second_half"]
    return [cells[k] for k in sorted(cells)]


def main_contrast(entries: List[dict], lr: float, warmup: int) -> dict:
    """Deep post vs deep pre at the main setting, over seeds: mean and sample std of the final valid loss/ppl."""
    out = {"lr": lr, "warmup_updates": warmup}
    by_norm = {}
    for short in ("post", "pre"):
        chosen = sorted((e for e in entries if e["depth"] == "deep" and e["norm"] == short and e["lr"] == lr
                         and e["warmup_updates"] == warmup), key=lambda e: e["seed"])
        by_norm[short] = {e["seed"]: e for e in chosen}
        losses = [e["final_valid_loss"] for e in chosen if e["final_valid_loss"] is not None]
        ppls = [e["final_valid_ppl"] for e in chosen if e["final_valid_ppl"] is not None]
        out[short] = {"seeds": [e["seed"] for e in chosen], "final_valid_loss": losses, "final_valid_ppl": ppls,
                      "valid_loss_mean": _mean(losses), "valid_loss_std": _std(losses),
                      "valid_ppl_mean": _mean(ppls), "valid_ppl_std": _std(ppls)}
    paired = sorted(set(by_norm["post"]) & set(by_norm["pre"]))
    diffs = [by_norm["post"][s]["final_valid_loss"] - by_norm["pre"][s]["final_valid_loss"] for s in paired
             if by_norm["post"][s]["final_valid_loss"] is not None and by_norm["pre"][s]["final_valid_loss"] is not None]
    out["post_minus_pre_bits"] = {"seeds": paired, "values": diffs, "mean": _mean(diffs), "std": _std(diffs)}
    return out


def study_elapsed_s(runs: List[dict]) -> Optional[float]:
    """Wall-clock seconds from the start of the first run to the record of the last (runs overlap: $JOBS at a time)."""
    import datetime as dt

    try:
        ends = [dt.datetime.fromisoformat(r["created_utc"]).timestamp() for r in runs]
    except (KeyError, ValueError):
        return None
    starts = [end - r["wall_time_s"] for end, r in zip(ends, runs)]
    return round(max(ends) - min(starts), 1) if runs else None


def _mean(values: Sequence[float]) -> Optional[float]:
    return float(np.mean(values)) if values else None


def _std(values: Sequence[float]) -> Optional[float]:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


# ------------------------------------------------------------------------------------------- tables
DOCS_BEGIN = "<!-- prenorm-tables:begin (written by fairseq_ext/analysis/prenorm_report.py --docs; do not edit) -->"
DOCS_END = "<!-- prenorm-tables:end -->"


def _fmt(value, spec: str = ".0f") -> str:
    return "—" if value is None else format(value, spec)


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.1e}" if value < 0.01 or value >= 100 else f"{value:.2f}"


def render_tables(metrics: dict, unigram_bits: Optional[float]) -> str:
    """Markdown tables of the grid, the main contrast and every run, from summary.json's metrics."""
    runs = metrics["runs"]
    lines = ["Deep (12-layer) models, seed 1: final validation perplexity (full valid set; "
             f"unigram level {_fmt(2 ** unigram_bits if unigram_bits else None)}) and the bottom/top gradient ratio "
             "$\|\partial e/\partial x_0\|/\|\partial e/\partial x_L\|$ (geometric mean over the second half "
             "of training).", "",
             "| peak LR | warm-up (updates) | post-norm ppl | pre-norm ppl | post-norm ratio | pre-norm ratio |",
             "|---|---|---|---|---|---|"]
    for cell in metrics["grid"]:
        lines.append(f"| {cell['lr_text']} | {cell['warmup_updates']} | {_fmt(cell.get('post_valid_ppl'))} | "
                     f"{_fmt(cell.get('pre_valid_ppl'))} | {_ratio(cell.get('post_grad_ratio_geomean_second_half'))} "
                     f"| {_ratio(cell.get('pre_grad_ratio_geomean_second_half'))} |")
    contrast = metrics["main_contrast"]
    lines += ["", f"Main contrast at peak LR {contrast.get('lr_text', contrast['lr'])}, warm-up {contrast['warmup_updates']} "
                  "(deep models, final validation loss in bits/token and perplexity, per seed):", "",
              "| seed | post-norm bits (ppl) | pre-norm bits (ppl) | post − pre (bits) |", "|---|---|---|---|"]
    diffs = dict(zip(contrast["post_minus_pre_bits"]["seeds"], contrast["post_minus_pre_bits"]["values"]))
    post = dict(zip(contrast["post"]["seeds"], zip(contrast["post"]["final_valid_loss"],
                                                   contrast["post"]["final_valid_ppl"])))
    pre = dict(zip(contrast["pre"]["seeds"], zip(contrast["pre"]["final_valid_loss"],
                                                 contrast["pre"]["final_valid_ppl"])))
    for seed in sorted(set(post) | set(pre)):
        cells = [f"{post[seed][0]:.3f} ({post[seed][1]:.0f})" if seed in post else "—",
                 f"{pre[seed][0]:.3f} ({pre[seed][1]:.0f})" if seed in pre else "—",
                 f"{diffs[seed]:+.3f}" if seed in diffs else "—"]
        lines.append(f"| {seed} | " + " | ".join(cells) + " |")
    d = contrast["post_minus_pre_bits"]

    def mean_std(block, key):
        return f"{_fmt(block[key + '_mean'], '.3f')} ± {_fmt(block[key + '_std'], '.3f')}"

    lines.append(f"| mean ± std | {mean_std(contrast['post'], 'valid_loss')} "
                 f"({_fmt(contrast['post']['valid_ppl_mean'])} ± {_fmt(contrast['post']['valid_ppl_std'])}) | "
                 f"{mean_std(contrast['pre'], 'valid_loss')} ({_fmt(contrast['pre']['valid_ppl_mean'])} ± "
                 f"{_fmt(contrast['pre']['valid_ppl_std'])}) | {_fmt(d['mean'], '+.3f')} ± {_fmt(d['std'], '.3f')} |")
    lines += ["", "Every run (`results/prenorm/runs/<name>.json`, series in `results/prenorm/series/<name>.json`):", "",
              "| run | layers | tokens seen | valid bits | valid ppl | ratio init → final (min) | "
              "updates with ratio < 1e-3 (last) | wall time (s) |",
              "|---|---|---|---|---|---|---|---|"]
    for e in runs:
        lines.append(f"| `{e['name']}` | {e['layers']} | {e['tokens_seen']:,} | {_fmt(e['final_valid_loss'], '.3f')} | "
                     f"{_fmt(e['final_valid_ppl'])} | {_ratio(e['grad_ratio_init'])} → {_ratio(e['grad_ratio_final'])} "
                     f"({_ratio(e['grad_ratio_min'])}) | {e['updates_grad_ratio_below_1e-3']} "
                     f"({_fmt(e['last_update_grad_ratio_below_1e-3'], 'd')}) | {e['wall_time_s']:.0f} |")
    return "\n".join(lines) + "\n"


def update_docs(path: Path, tables: str) -> None:
    """Replace the text between the two marker lines of ``path`` with ``tables``."""
    text = path.read_text(encoding="utf-8")
    if DOCS_BEGIN not in text or DOCS_END not in text:
        raise DataError(f"{path}: no '{DOCS_BEGIN}' / '{DOCS_END}' markers")
    head, rest = text.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    atomic_write_text(path, head + DOCS_BEGIN + "\n" + tables + DOCS_END + tail)


# ------------------------------------------------------------------------------------------- figures
def _lr_label(run: dict) -> str:
    return f"LR {run['lr_text']}"


def _label(run: dict, with_lr: bool = False) -> str:
    warm = f"warm-up {run['warmup_updates']}" if run["warmup_updates"] else "no warm-up"
    out = f"{NORM_LABELS[run['norm']].split(' (')[0]}, {warm}"
    return f"{out}, {_lr_label(run)}" if with_lr else out


def _find(runs: List[dict], **want) -> Optional[dict]:
    for run in runs:
        if all(run.get(k) == v for k, v in want.items()):
            return run
    return None


def _grid_axes(runs: List[dict]):
    deep1 = [r for r in runs if r["depth"] == "deep" and r["seed"] == 1]
    lrs = sorted({r["lr_text"] for r in deep1}, key=float)
    warmups = sorted({r["warmup_updates"] for r in deep1})
    return lrs, warmups


def _warmup_style(warmups: List[int], warmup: int) -> str:
    return WARMUP_STYLES[warmups.index(warmup) % len(WARMUP_STYLES)] if warmup in warmups else "-"


def plot_grid(entries: List[dict], runs: List[dict], unigram_bits: Optional[float], target_ppl: float):
    """Final valid perplexity of the deep models (seed 1) vs warm-up length, one line per norm x peak LR."""
    lrs, warmups = _grid_axes(runs)
    fig, ax = new_figure(1, 1, size=(7, 4.5))
    markers = ("o", "s", "^", "D")
    for i, lr in enumerate(lrs):
        for norm in NORMS:
            points = []
            for k, warmup in enumerate(warmups):
                run = _find(runs, depth="deep", seed=1, norm=norm, lr_text=lr, warmup_updates=warmup)
                entry = next((e for e in entries if run and e["name"] == run["name"]), None)
                if entry and entry["final_valid_ppl"] is not None:
                    points.append((k, entry["final_valid_ppl"]))
            if points:
                ax.plot(*zip(*points), marker=markers[i % len(markers)], color=NORM_COLORS[norm],
                        linestyle="-" if i == 0 else "--", label=f"{NORM_LABELS[norm].split(' (')[0]}, LR {lr}")
    if unigram_bits is not None:
        ax.axhline(2 ** unigram_bits, color="gray", linestyle=":", label=f"unigram ({2 ** unigram_bits:.0f})")
    ax.axhline(target_ppl, color="black", linestyle=":", linewidth=0.8, label=f"target {target_ppl:.0f}")
    ax.set_xticks(range(len(warmups)), [str(w) for w in warmups])
    ax.set_xlabel("warm-up length (updates)")
    ax.set_yscale("log")
    ax.set_ylabel("final validation perplexity (per word)")
    ax.set_title("12-layer LMs, seed 1: validation perplexity at the last update")
    ax.legend(fontsize=8)
    return fig


def _panels(runs: List[dict], main: tuple):
    """(title, runs) of the ratio / loss figures: one panel per peak LR (deep, seed 1), one for the main setting."""
    lrs, _ = _grid_axes(runs)
    panels = [(f"deep, LR {lr}, seed 1", [r for r in runs if r["depth"] == "deep" and r["seed"] == 1
                                          and r["lr_text"] == lr]) for lr in lrs]
    main_runs = [r for r in runs if (r["lr_text"], r["warmup_updates"]) == main]
    panels.append((f"LR {main[0]}, warm-up {main[1]}: seeds, shallow", main_runs))
    return panels


def _main_style(run: dict):
    seeds_alpha = {1: 1.0, 2: 0.75, 3: 0.55}
    if run["depth"] == "shallow":
        return dict(linestyle=":", linewidth=1.5, alpha=0.9, label=f"{run['norm'][:-4]}-norm, shallow (2 layers)")
    return dict(linestyle="-", linewidth=1.2, alpha=seeds_alpha.get(run["seed"], 0.5),
                label=f"{run['norm'][:-4]}-norm, deep, seed {run['seed']}")


def plot_ratio_vs_steps(runs: List[dict], main: tuple):
    """Bottom/top gradient-norm ratios vs updates: rows = residual stream / layer parameters."""
    _, warmups = _grid_axes(runs)
    panels = _panels(runs, main)
    fig, axes = new_figure(2, len(panels), size=(5.2 * len(panels), 8.5), squeeze=False, constrained_layout=True)
    for col, (title, chosen) in enumerate(panels):
        for row, (key, ylabel) in enumerate((("ratio_x", "||dL/dx_0|| / ||dL/dx_L||"),
                                             ("ratio_param", "||dL/dθ_1|| / ||dL/dθ_L||"))):
            ax = axes[row][col]
            for run in chosen:
                steps = [s for s, v in zip(run["series"]["step"], run["series"][key]) if v is not None]
                values = [max(v, TINY) for v in run["series"][key] if v is not None]
                if col < len(panels) - 1:
                    style = dict(linestyle=_warmup_style(warmups, run["warmup_updates"]), linewidth=1.2,
                                 label=_label(run))
                else:
                    style = _main_style(run)
                ax.plot(steps, values, color=NORM_COLORS[run["norm"]], **style)
            ax.set_yscale("log")
            ax.set_xlabel("update")
            ax.set_ylabel(ylabel)
            ax.set_title(("residual stream, " if row == 0 else "layer parameters, ") + title, fontsize=9)
            if row == 0:
                ax.legend(fontsize=7, loc="best")
    fig.suptitle("Bottom/top gradient-norm ratio during training (1 = flat; ≪ 1 = vanishing toward the bottom)")
    return fig


def plot_heatmaps(grid: List[List[Optional[dict]]], row_labels: List[str], key: str, title: str):
    """log10 per-layer gradient norm (layer x update) of each run of ``grid`` (rows x columns, None = empty)."""
    nrows, ncols = len(grid), max(len(row) for row in grid)
    fig, axes = new_figure(nrows, ncols, size=(3.6 * ncols + 1.5, 2.5 * nrows + 0.8), squeeze=False,
                           constrained_layout=True)
    matrices = {}
    for i, row in enumerate(grid):
        for j, run in enumerate(row):
            if run is None:
                continue
            pairs = [(s, v) for s, v in zip(run["series"]["step"], run["series"][key]) if v]
            if not pairs:
                continue
            mat = np.array([[max(x if x is not None else TINY, TINY) for x in v] for _, v in pairs]).T
            matrices[(i, j)] = (np.log10(mat), [s for s, _ in pairs], run)
    finite = [m[np.isfinite(m)] for m, _, _ in matrices.values()]
    vmin = min((np.percentile(f, 1) for f in finite if f.size), default=-6)
    vmax = max((f.max() for f in finite if f.size), default=0)
    image = None
    for i in range(nrows):
        for j in range(ncols):
            ax = axes[i][j]
            ax.grid(False)
            if (i, j) not in matrices:
                ax.set_axis_off()
                continue
            mat, steps, run = matrices[(i, j)]
            image = ax.imshow(mat, aspect="auto", origin="lower", vmin=vmin, vmax=vmax, interpolation="nearest",
                              extent=(steps[0], steps[-1], -0.5, mat.shape[0] - 0.5))
            warm = f"warm-up {run['warmup_updates']}" if run["warmup_updates"] else "no warm-up"
            ax.set_title(f"{row_labels[i]}: {warm}" + (f", seed {run['seed']}" if run["seed"] != 1 else "")
                         + (" (2 layers)" if run["depth"] == "shallow" else ""), fontsize=8)
            if i == nrows - 1:
                ax.set_xlabel("update")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            if j == 0:
                ax.set_ylabel("layer l (0 = bottom)" if key == "grad_param" else "x_l (0 = embeddings)", fontsize=8)
    if image is not None:
        what = "||dL/dx_l||" if key == "grad_x" else "||dL/dθ_l||"
        fig.colorbar(image, ax=axes, shrink=0.8, label=f"log10 {what} (per-token loss, nats)")
    fig.suptitle(title)
    return fig


def heatmap_grids(runs: List[dict], main: tuple):
    """(grid, row labels) of the deep seed-1 grid, and of the main setting (seeds 1-3, shallow)."""
    lrs, warmups = _grid_axes(runs)
    grid, labels = [], []
    for lr in lrs:
        for norm in NORMS:
            grid.append([_find(runs, depth="deep", seed=1, norm=norm, lr_text=lr, warmup_updates=w) for w in warmups])
            labels.append(f"{norm[:-4]}, LR {lr}")
    seeds = sorted({r["seed"] for r in runs if r["depth"] == "deep"})
    main_grid, main_labels = [], []
    for norm in NORMS:
        row = [_find(runs, depth="deep", seed=s, norm=norm, lr_text=main[0], warmup_updates=main[1]) for s in seeds]
        row.append(_find(runs, depth="shallow", norm=norm, lr_text=main[0], warmup_updates=main[1]))
        main_grid.append(row)
        main_labels.append(f"{norm[:-4]}, LR {main[0]}")
    return (grid, labels), (main_grid, main_labels)


def plot_gradnorm_at_init(runs: List[dict], main: tuple):
    """Xiong et al.'s plot: gradient norm of each layer's parameters at initialization (update 0)."""
    fig, axes = new_figure(1, 2, size=(10, 3.8))
    for ax, depth in zip(axes, DEPTHS):
        for norm in NORMS:
            run = _find(runs, norm=norm, depth=depth, seed=1, lr_text=main[0], warmup_updates=main[1])
            if run and run["series"]["step"] and run["series"]["step"][0] == 0:
                values = run["series"]["grad_param"][0]
                ax.plot(range(1, len(values) + 1), values, marker="o", color=NORM_COLORS[norm],
                        label=NORM_LABELS[norm])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (1 = bottom)")
        ax.set_ylabel("||dL/dθ_l|| at init (per-token loss, nats)")
        ax.set_title(f"{depth} model, update 0")
        ax.legend()
    return fig


def _smooth(values: Sequence[float], width: int = 5) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if len(values) < width:
        return values
    kernel = np.ones(width) / width
    padded = np.concatenate([np.full(width - 1, values[0]), values])
    return np.convolve(padded, kernel, mode="valid")


def plot_loss_curves(runs: List[dict], main: tuple, unigram_bits: Optional[float], target_ppl: float):
    """Train loss (running mean of 5 logging intervals, thin) and valid loss (markers) vs updates."""
    _, warmups = _grid_axes(runs)
    panels = _panels(runs, main)
    fig, axes = new_figure(1, len(panels), size=(5.2 * len(panels), 4.5), squeeze=False)
    for col, (title, chosen) in enumerate(panels):
        ax = axes[0][col]
        for run in chosen:
            train, valid = run["series"]["train"], run["series"]["valid"]
            if col < len(panels) - 1:
                style = dict(linestyle=_warmup_style(warmups, run["warmup_updates"]), label=_label(run))
            else:
                style = _main_style(run)
            pairs = [(u, v) for u, v in zip(train["update"], train["loss"]) if v is not None]
            if pairs:
                ax.plot([u for u, _ in pairs], _smooth([v for _, v in pairs]), color=NORM_COLORS[run["norm"]],
                        **{**style, "linewidth": 1.0})
            vpairs = [(u, v) for u, v in zip(valid["update"], valid["loss"]) if v is not None]
            if vpairs:
                marker = "o" if run["depth"] == "shallow" or col == len(panels) - 1 else \
                    "os^D"[warmups.index(run["warmup_updates"]) % 4]
                ax.plot(*zip(*vpairs), marker=marker, markersize=4, linestyle="none", color=NORM_COLORS[run["norm"]],
                        alpha=style.get("alpha", 1.0))
        if unigram_bits is not None:
            ax.axhline(unigram_bits, color="gray", linestyle=":", label="unigram entropy")
        ax.axhline(math.log2(target_ppl), color="black", linestyle=":", linewidth=0.8,
                   label=f"ppl {target_ppl:.0f}")
        ax.set_ylim(top=(unigram_bits + 1.5) if unigram_bits else None)
        ax.set_xlabel("update")
        ax.set_ylabel("loss (bits/token)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("Training loss (lines, running mean of 5 logged batches) and validation loss (markers; "
                 "o/s/^ = warm-up lengths in order)")
    return fig


def plot_jacobian_vs_depth(toy: List[dict], runs: List[dict], main: tuple):
    """(a) ||d x_L/d x_0|| of L random eq.-31/32 blocks; (b) probe of d x_L/d x_l in the deep LMs."""
    fig, axes = new_figure(1, 2, size=(11, 4))
    ax = axes[0]
    for norm in NORMS:
        for key, marker, what in (("spectral_norm", "o", "spectral norm"), ("rms_singular_value", "s", "RMS sing. value")):
            depths = sorted({r["depth"] for r in toy if r["norm"] == norm})
            means = [np.mean([r[key] for r in toy if r["norm"] == norm and r["depth"] == d]) for d in depths]
            ax.plot(depths, means, marker=marker, color=NORM_COLORS[norm], linestyle="-" if key == "spectral_norm"
                    else "--", label=f"{NORM_LABELS[norm]}, {what}")
    ax.set_yscale("log")
    ax.set_xlabel("number of blocks L")
    ax.set_ylabel("||d x_L / d x_0||")
    ax.set_title("(a) random blocks at init, no FFN")
    ax.legend(fontsize=7)
    ax = axes[1]
    for norm in NORMS:
        run = _find(runs, norm=norm, depth="deep", seed=1, lr_text=main[0], warmup_updates=main[1])
        if run is None:
            continue
        jac = run["series"]["jacobian"]
        picks = [(0, "-"), (len(jac["step"]) - 1, "--")] if jac["step"] else []
        for index, style in picks:
            values = [max(v, TINY) for v in jac["rms"][index]]
            top = len(values) - 1
            ax.plot([top - l for l in range(len(values))], values, style, marker=".", color=NORM_COLORS[norm],
                    label=f"{NORM_LABELS[norm]}, update {jac['step'][index]}")
    ax.set_yscale("log")
    ax.set_xlabel("L − l (layers between x_l and the top x_L)")
    ax.set_ylabel("RMS singular value of d x_L / d x_l")
    ax.set_title(f"(b) deep LMs, LR {main[0]}, warm-up {main[1]}: random-projection probe", fontsize=9)
    ax.legend(fontsize=7)
    return fig


# ------------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--record", type=Path, metavar="RUN_DIR", help="write the record and series of one run")
    mode.add_argument("--main-setting", nargs="+", metavar="NAME", help="print 'LR WARMUP' of the best common cell")
    mode.add_argument("--runs", nargs="+", metavar="NAME", help="figures and summary.json from these runs")
    parser.add_argument("--main-lr", help="peak LR of the main contrast (as in the run names; default: chosen)")
    parser.add_argument("--main-warmup", type=int, help="warm-up of the main contrast (default: chosen)")
    parser.add_argument("--dict", type=Path, default=Path("data-bin/wikitext-2/dict.txt"),
                        help="fairseq dict.txt of the training data (for the unigram-entropy baseline)")
    parser.add_argument("--out-dir", type=Path, default=Path("results/prenorm"))
    parser.add_argument("--target-ppl", type=float, default=300.0, help="validation perplexity a trained model reaches")
    parser.add_argument("--quick", action="store_true", help="smaller Jacobian-vs-depth analysis")
    parser.add_argument("--docs", type=Path, help="also write the result tables into this Markdown file "
                        "(between its prenorm-tables markers)")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> None:
    if args.record:
        path = record_run(args.record)
        logger.info("recorded %s", path)
        return
    if args.main_setting:
        lr, warmup = choose_main_setting([load_run(name) for name in args.main_setting])
        print(lr, warmup)
        return
    start = time.time()
    runs = [load_run(name) for name in args.runs]
    main_cell = choose_main_setting(runs)
    if args.main_lr is not None and args.main_warmup is not None:
        main_cell = (args.main_lr, args.main_warmup)
    unigram = unigram_entropy_bits(args.dict) if args.dict.exists() else None
    summary = [summarize_run(run, unigram, args.target_ppl) for run in runs]
    for entry in summary:
        logger.info("%s: valid %.3f bits (ppl %.0f), diverged=%s failed=%s", entry["name"],
                    entry["final_valid_loss"] or float("nan"), entry["final_valid_ppl"] or float("nan"),
                    entry["diverged"], entry["failed_to_train"])
    main_lr = next(r["lr"] for r in runs if r["lr_text"] == main_cell[0])
    device = summary[0]["device"]
    summary_path = write_results("prenorm", "summary",
                  config={"runs_dir": "results/prenorm/runs", "series_dir": "results/prenorm/series",
                          "unigram_entropy_bits": unigram, "unigram_ppl": 2 ** unigram if unigram else None,
                          "target_ppl": args.target_ppl, "main_setting_rule":
                              "deep seed-1 cell whose worse final valid loss (post vs pre) is the lowest"},
                  metrics={"runs": summary, "grid": grid_table(summary, runs),
                           "main_setting": {"lr": main_lr, "warmup_updates": main_cell[1]},
                           "main_contrast": {"lr_text": main_cell[0],
                                             **main_contrast(summary, main_lr, main_cell[1])},
                           "runs_wall_time_sum_s": sum(e["wall_time_s"] for e in summary),
                           "study_elapsed_s": study_elapsed_s(runs)},
                  seed=summary[0]["seed"], wall_time_s=sum(e["wall_time_s"] for e in summary), device=device)
    tables = render_tables(json.loads(summary_path.read_text(encoding="utf-8"))["metrics"], unigram)
    atomic_write_text(args.out_dir / "tables.md", tables)
    if args.docs:
        update_docs(args.docs, tables)

    from fairseq_ext.analysis.norm_jacobians import jacobian_norms_vs_depth

    depths = [1, 3] if args.quick else [1, 2, 4, 8, 12, 16, 24]
    toy_config = {"dim": 16, "tokens": 8, "heads": 2, "seeds": [0] if args.quick else [0, 1, 2]}
    t0 = time.time()
    toy = jacobian_norms_vs_depth(depths, **toy_config)
    write_results("prenorm", "jacobian_depth", config={**toy_config, "depths": depths}, metrics={"records": toy},
                  seed=0, wall_time_s=time.time() - t0, device=describe_device("cpu"))

    args.out_dir.mkdir(parents=True, exist_ok=True)
    (grid, labels), (main_grid, main_labels) = heatmap_grids(runs, main_cell)
    save_figure(plot_grid(summary, runs, unigram, args.target_ppl), args.out_dir / "grid_valid_ppl.png")
    for key, stem, what in (("grad_x", "gradnorm_heatmaps", "residual stream ||dL/dx_l||"),
                            ("grad_param", "gradnorm_param_heatmaps", "layer parameters ||dL/dθ_l||")):
        save_figure(plot_heatmaps(grid, labels, key, f"Per-layer gradient norms, 12-layer LMs, seed 1 ({what})"),
                    args.out_dir / f"{stem}.png")
        save_figure(plot_heatmaps(main_grid, main_labels, key,
                                  f"Per-layer gradient norms at LR {main_cell[0]}, warm-up {main_cell[1]}: "
                                  f"deep seeds and shallow ({what})"), args.out_dir / f"{stem}_main.png")
    save_figure(plot_ratio_vs_steps(runs, main_cell), args.out_dir / "ratio_vs_steps.png")
    save_figure(plot_gradnorm_at_init(runs, main_cell), args.out_dir / "gradnorm_at_init.png")
    save_figure(plot_loss_curves(runs, main_cell, unigram, args.target_ppl), args.out_dir / "loss_curves.png")
    save_figure(plot_jacobian_vs_depth(toy, runs, main_cell), args.out_dir / "jacobian_vs_depth.png")
    logger.info("figures in %s (%.1f s)", args.out_dir, time.time() - start)


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
