"""Figures and summary of the pre-norm vs post-norm study (Q22), made from the files the runs wrote.

Reads, for every run folder under ``--runs-dir``: ``meta.json`` (written by scripts/prenorm_study.sh),
``gradnorm.jsonl`` (written by the mva_cross_entropy_gradnorm criterion) and ``train.log`` (fairseq's
``--log-format json`` output: train_inner and valid lines). Writes the figures to ``--out-dir`` and
``summary.json`` / ``jacobian_depth.json`` with :func:`mvadl.results.write_results`.

    python -m fairseq_ext.analysis.prenorm_report --runs-dir runs/prenorm --dict data-bin/wikitext-2/dict.txt
"""
from __future__ import annotations

import argparse
import sys
import json
import logging
import math
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
from matplotlib.ticker import MaxNLocator

from mvadl.cli import run_cli
from mvadl.plotting import new_figure, save_figure
from mvadl.results import describe_device, write_results

logger = logging.getLogger(__name__)
NORMS = ("postnorm", "prenorm")
DEPTHS = ("shallow", "deep")
NORM_COLORS = {"postnorm": "tab:red", "prenorm": "tab:blue"}
NORM_LABELS = {"postnorm": "post-norm (eq. 31)", "prenorm": "pre-norm (eq. 32)"}
TINY = 1e-12  # floor for log scales (a gradient norm of exactly 0 is plotted at this value)


# ------------------------------------------------------------------------------------------- reading
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


def _float(value) -> Optional[float]:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def unigram_entropy_bits(dict_path: Path) -> float:
    """Entropy (bits/token) of the training-set unigram distribution, from fairseq's dict.txt counts.

    A language model whose loss stays above it has learned less than word frequencies: it failed to train.
    """
    counts = np.array([int(line.rsplit(" ", 2)[1]) for line in dict_path.read_text(encoding="utf-8").splitlines()
                       if line.strip()], dtype=np.float64)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def load_runs(runs_dir: Path) -> List[dict]:
    runs = []
    for meta_path in sorted(runs_dir.glob("*/meta.json")):
        folder = meta_path.parent
        run = json.loads(meta_path.read_text(encoding="utf-8"))
        run["records"] = read_jsonl(folder / "gradnorm.jsonl")
        run["log"] = parse_fairseq_log(folder / "train.log")
        runs.append(run)
    if not runs:
        raise FileNotFoundError(f"no */meta.json under {runs_dir}: run scripts/prenorm_study.sh first")
    return runs


def summarize_run(run: dict, unigram_bits: Optional[float], device: str) -> dict:
    """One entry of summary.json; losses in bits/token (fairseq's base-2 loss), ppl = 2**loss; ``norm`` is
    "pre" or "post"; ``grad_ratio_*`` = ||dL/dx_0|| / ||dL/dx_L|| (bottom/top of the residual stream)."""
    train, valid, records = run["log"]["train"], run["log"]["valid"], run["records"]
    final_train = train[-1]["loss"] if train else None
    final_valid = valid[-1]["valid_loss"] if valid else None
    losses = [v for v in (final_train, final_valid) if v is not None]
    diverged = run["exit_code"] != 0 or any(not math.isfinite(v) for v in losses)
    updates = int(train[-1]["num_updates"]) if train else 0
    first, last = (records[0], records[-1]) if records else ({}, {})
    return {
        "name": run["name"], "norm": run["norm"].removesuffix("norm"), "depth": run["depth"],
        "layers": len(first.get("grad_param") or []), "warmup_updates": run["warmup_updates"],
        "lr": run["lr"], "seed": run["seed"], "updates": updates, "max_update": run["max_update"],
        "loss_unit": "bits/token",
        "final_train_loss": final_train, "final_train_ppl": _ppl(final_train),
        "final_valid_loss": final_valid, "final_valid_ppl": _ppl(final_valid),
        "best_valid_loss": min((v["valid_loss"] for v in valid if v.get("valid_loss") is not None), default=None),
        "diverged": bool(diverged),
        "failed_to_train": bool(diverged or (final_valid is not None and unigram_bits is not None
                                             and final_valid >= unigram_bits)),
        "grad_ratio_init": first.get("ratio_x"), "grad_ratio_final": last.get("ratio_x"),
        "param_grad_ratio_init": first.get("ratio_param"), "param_grad_ratio_final": last.get("ratio_param"),
        "wall_time_s": run["wall_time_s"], "device": device, "exit_code": run["exit_code"],
    }


def _ppl(bits: Optional[float]) -> Optional[float]:
    return None if bits is None or not math.isfinite(bits) or bits > 1000 else 2.0 ** bits


def find(runs: List[dict], norm: str, depth: str, warmup: bool) -> Optional[dict]:
    for run in runs:
        if run["norm"] == norm and run["depth"] == depth and (run["warmup_updates"] > 0) == warmup:
            return run
    return None


def _label(run: dict) -> str:
    warm = f"warm-up {run['warmup_updates']}" if run["warmup_updates"] else "no warm-up"
    return f"{NORM_LABELS[run['norm']].split(' (')[0]}, {warm}"


def _series(records: List[dict], key: str):
    steps = [r["step"] for r in records if r.get(key) is not None]
    values = [max(r[key], TINY) for r in records if r.get(key) is not None]
    return np.array(steps), np.array(values)


# ------------------------------------------------------------------------------------------- figures
def plot_gradnorm_heatmaps(runs: List[dict], key: str = "grad_x"):
    """log10 per-layer gradient norm (layer x step): rows = without / with warm-up, columns = norm x depth."""
    fig, axes = new_figure(2, 4, size=(16, 6.5), squeeze=False)
    matrices = {}
    for row, warmup in enumerate((False, True)):
        for col, (depth, norm) in enumerate((d, n) for d in DEPTHS for n in NORMS):
            run = find(runs, norm, depth, warmup)
            if run and run["records"]:
                recs = [r for r in run["records"] if r.get(key)]
                mat = np.array([[max(v if v is not None else TINY, TINY) for v in r[key]] for r in recs]).T
                matrices[(row, col)] = (np.log10(mat), [r["step"] for r in recs], run)
    finite = [m[np.isfinite(m)] for m, _, _ in matrices.values()]
    vmin = min((np.percentile(f, 1) for f in finite if f.size), default=-6)
    vmax = max((f.max() for f in finite if f.size), default=0)
    image = None
    for row in range(2):
        for col in range(4):
            ax = axes[row][col]
            ax.grid(False)
            if (row, col) not in matrices:
                ax.set_axis_off()
                continue
            mat, steps, run = matrices[(row, col)]
            image = ax.imshow(mat, aspect="auto", origin="lower", vmin=vmin, vmax=vmax, interpolation="nearest",
                              extent=(steps[0], steps[-1], -0.5, mat.shape[0] - 0.5))
            ax.set_title(f"{run['depth']}, {_label(run)}", fontsize=9)
            if row == 1:
                ax.set_xlabel("update")
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            if col == 0:
                ax.set_ylabel("layer l (0 = bottom)" if key == "grad_param" else "x_l (0 = embeddings)")
    if image is not None:
        what = "||dL/dx_l||" if key == "grad_x" else "||dL/dθ_l||"
        fig.colorbar(image, ax=axes, shrink=0.8, label=f"log10 {what} (per-token loss)")
    fig.suptitle("Per-layer gradient norms during training" + (" (residual stream)" if key == "grad_x"
                                                                 else " (layer parameters)"))
    return fig


def plot_ratio_vs_steps(runs: List[dict]):
    """Bottom/top gradient-norm ratios and the relative update size vs updates, all runs."""
    fig, axes = new_figure(1, 3, size=(15, 4))
    panels = (("ratio_x", "||dL/dx_0|| / ||dL/dx_L||"), ("ratio_param", "||dL/dθ_0|| / ||dL/dθ_{L-1}||"),
              ("update_rel_total", "||θ_t − θ_{t−1}|| / ||θ_{t−1}||"))
    for ax, (key, ylabel) in zip(axes, panels):
        for run in runs:
            steps, values = _series(run["records"], key)
            if len(steps):
                ax.plot(steps, values, color=NORM_COLORS[run["norm"]], alpha=0.9 if run["depth"] == "deep" else 0.5,
                        linestyle="-" if run["warmup_updates"] == 0 else "--",
                        linewidth=2.0 if run["depth"] == "deep" else 1.0, label=f"{run['depth']}, {_label(run)}")
        ax.set_yscale("log")
        ax.set_xlabel("update")
        ax.set_ylabel(ylabel)
    axes[0].set_title("bottom/top ratio, residual stream")
    axes[1].set_title("bottom/top ratio, layer parameters")
    axes[2].set_title("relative size of one update (whole model)")
    axes[2].legend(fontsize=7, loc="best")
    return fig


def plot_gradnorm_at_init(runs: List[dict]):
    """Xiong et al.'s plot: gradient norm of each layer's parameters at initialization (update 0)."""
    fig, axes = new_figure(1, 2, size=(10, 3.8))
    for ax, depth in zip(axes, DEPTHS):
        for norm in NORMS:
            run = find(runs, norm, depth, False) or find(runs, norm, depth, True)
            if run and run["records"] and run["records"][0]["step"] == 0:
                values = run["records"][0]["grad_param"]
                ax.plot(range(1, len(values) + 1), values, marker="o", color=NORM_COLORS[norm],
                        label=NORM_LABELS[norm])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("layer (1 = bottom)")
        ax.set_ylabel("||dL/dθ_l|| at init (per-token loss)")
        ax.set_title(f"{depth} model, update 0")
        ax.legend()
    return fig


def plot_loss_curves(runs: List[dict], unigram_bits: Optional[float]):
    fig, axes = new_figure(1, 2, size=(11, 4))
    for ax, depth in zip(axes, DEPTHS):
        for run in runs:
            if run["depth"] != depth:
                continue
            style = "-" if run["warmup_updates"] == 0 else "--"
            train = [(r["num_updates"], r["loss"]) for r in run["log"]["train"] if r.get("loss") is not None]
            valid = [(r["valid_num_updates"], r["valid_loss"]) for r in run["log"]["valid"]
                     if r.get("valid_loss") is not None and r.get("valid_num_updates") is not None]
            if train:
                ax.plot(*zip(*train), style, color=NORM_COLORS[run["norm"]], alpha=0.6, linewidth=1,
                        label=f"train, {_label(run)}")
            if valid:
                ax.plot(*zip(*valid), style, marker="o", markersize=3, color=NORM_COLORS[run["norm"]],
                        label=f"valid, {_label(run)}")
        if unigram_bits is not None:
            ax.axhline(unigram_bits, color="gray", linestyle=":", label="unigram entropy")
        ax.set_xlabel("update")
        ax.set_ylabel("loss (bits/token)")
        ax.set_title(f"{depth} model")
        ax.legend(fontsize=7)
    return fig


def plot_jacobian_vs_depth(toy: List[dict], runs: List[dict]):
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
    for run in runs:
        if run["depth"] != "deep" or run["warmup_updates"] != 0:
            continue
        probes = [r for r in run["records"] if r.get("jacobian_rms")]
        for probe, style in ((probes[0], "-"), (probes[-1], "--")) if probes else ():
            values = probe["jacobian_rms"]
            top = len(values) - 1
            ax.plot([top - l for l in range(len(values))], values, style, marker=".", color=NORM_COLORS[run["norm"]],
                    label=f"{NORM_LABELS[run['norm']]}, update {probe['step']}")
    ax.set_yscale("log")
    ax.set_xlabel("L − l (layers between x_l and the top x_L)")
    ax.set_ylabel("RMS singular value of d x_L / d x_l")
    ax.set_title("(b) deep LMs (no warm-up), random-projection probe")
    ax.legend(fontsize=7)
    return fig


# ------------------------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/prenorm"))
    parser.add_argument("--dict", type=Path, default=Path("data-bin/wikitext-2/dict.txt"),
                        help="fairseq dict.txt of the training data (for the unigram-entropy baseline)")
    parser.add_argument("--out-dir", type=Path, default=Path("results/prenorm"))
    parser.add_argument("--quick", action="store_true", help="smaller Jacobian-vs-depth analysis")
    return parser.parse_args(argv)


def main(args: argparse.Namespace) -> None:
    start = time.time()
    runs = load_runs(args.runs_dir)
    unigram = unigram_entropy_bits(args.dict) if args.dict.exists() else None
    device = describe_device("cpu")
    summary = [summarize_run(run, unigram, device) for run in runs]
    for entry in summary:
        logger.info("%s: valid %.3f bits, diverged=%s failed=%s", entry["name"],
                    entry["final_valid_loss"] or float("nan"), entry["diverged"], entry["failed_to_train"])
    write_results("prenorm", "summary", config={"runs_dir": args.runs_dir, "unigram_entropy_bits": unigram},
                  metrics={"runs": summary}, seed=summary[0]["seed"],
                  wall_time_s=sum(e["wall_time_s"] for e in summary), device=device)

    from fairseq_ext.analysis.norm_jacobians import jacobian_norms_vs_depth

    depths = [1, 3] if args.quick else [1, 2, 4, 8, 12, 16, 24]
    toy_config = {"dim": 16, "tokens": 8, "heads": 2, "seeds": [0] if args.quick else [0, 1, 2]}
    t0 = time.time()
    toy = jacobian_norms_vs_depth(depths, **toy_config)
    write_results("prenorm", "jacobian_depth", config={**toy_config, "depths": depths}, metrics={"records": toy},
                  seed=0, wall_time_s=time.time() - t0, device=device)

    args.out_dir.mkdir(parents=True, exist_ok=True)
    save_figure(plot_gradnorm_heatmaps(runs, "grad_x"), args.out_dir / "gradnorm_heatmaps.png")
    save_figure(plot_gradnorm_heatmaps(runs, "grad_param"), args.out_dir / "gradnorm_param_heatmaps.png")
    save_figure(plot_ratio_vs_steps(runs), args.out_dir / "ratio_vs_steps.png")
    save_figure(plot_gradnorm_at_init(runs), args.out_dir / "gradnorm_at_init.png")
    save_figure(plot_loss_curves(runs, unigram), args.out_dir / "loss_curves.png")
    save_figure(plot_jacobian_vs_depth(toy, runs), args.out_dir / "jacobian_vs_depth.png")
    logger.info("figures in %s (%.1f s)", args.out_dir, time.time() - start)


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
