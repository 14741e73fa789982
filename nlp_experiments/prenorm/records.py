"""A finished run folder -> its record and its compact series; committed records read back.

A run folder (``RUNS_DIR/<name>/``, see :mod:`nlp_experiments.prenorm.training`) holds

* ``meta.json``: what the study launched (norm, depth, LR, warm-up, seed, sizes) and how it ended (exit status,
  wall time);
* ``gradnorm.jsonl``: one line per logged update, written by the ``mva_cross_entropy_gradnorm`` criterion
  (per-layer gradient norms, bottom/top ratios, update sizes, Jacobian probes);
* ``train.log``: fairseq-train's output with ``--log-format json``.

:func:`record_run` writes, under the results root (:func:`mvadl.results.results_dir`),

* ``prenorm/series/<name>.json``: the per-update series, compact JSON, 4 significant digits;
* ``prenorm/runs/<name>.json``: config, seed, git revision, wall time and final numbers, through the run's
  :meth:`mvadl.runner.Context.record`.

A run is data only when it finished or diverged (:func:`diverged`): a non-finite loss in its log, or fairseq-train
stopping it for non-finite gradients or an exhausted loss scale. Any other failure (out of memory, a bug, a wrong
option) is a :class:`FailedRun` that stops the study with the log's tail, and nothing is recorded.

:func:`load_run` reads both back for the summary and the figures. A missing or broken file is a
:class:`~mvadl.data.DataError` naming it: nothing is skipped.
"""
from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvadl.data import DataError
from mvadl.io import atomic_write_text
from mvadl.results import results_dir
from nlp_experiments.fairseq_runs import FairseqError, log_tail
from nlp_experiments.prenorm.plan import NAME_RE

if TYPE_CHECKING:
    from mvadl.runner import Context

#: The series keys the figures need; a series file without one of them is broken.
SERIES_KEYS = ("step", "ratio_x", "ratio_param", "grad_x", "grad_param", "train", "valid")
META = "meta.json"
GRADNORM = "gradnorm.jsonl"
TRAIN_LOG = "train.log"


#: How fairseq-train (0.12) stops a run whose numbers stopped being finite, as its log's traceback ends:
#: ``trainer.train_step`` raises ``FloatingPointError("gradients are Nan/Inf")`` on non-finite gradients (fp32);
#: the fp16 / AMP loss scalers raise ``FloatingPointError("[AMP: ]Minimum loss scale reached ...")`` when the
#: loss keeps overflowing. (fairseq's other FloatingPointError, gradients inconsistent between workers, is a
#: failure, not a divergence.)
DIVERGENCE_STOPS = ("FloatingPointError: gradients are Nan/Inf", "Minimum loss scale reached")


class FailedRun(FairseqError):
    """fairseq-train failed for another reason than the divergence the study measures; quotes the log's tail."""


# ------------------------------------------------------------------------------------------- run folders
def read_json(path: Path, what: str) -> Any:
    """``path`` parsed; a :class:`DataError` naming it (and saying it is ``what``) if missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: missing ({what})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: broken {what} ({type(e).__name__}: {e})") from None


def read_meta(run_dir: Path) -> dict:
    """``meta.json`` of a run folder (written by the study when its fairseq-train ended)."""
    meta = read_json(run_dir / META, "no meta.json: the run did not finish")
    missing = [k for k in ("name", "norm", "depth", "lr", "warmup_updates", "seed", "max_update", "exit_code",
                           "wall_time_s") if k not in meta]
    if missing:
        raise DataError(f"{run_dir / META}: broken run metadata (no {missing})")
    return meta


def read_gradnorm_records(path: Path) -> list[dict]:
    """The criterion's JSON lines, in order; a :class:`DataError` naming the file (and line) if missing/broken."""
    if not path.is_file():
        raise DataError(f"{path}: missing (the criterion writes it from the first update on: the run never "
                        f"trained; see train.log beside it)")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            record["step"]  # noqa: B018  (every record has its update number)
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DataError(f"{path}:{number}: broken gradient-norm record ({type(e).__name__}: {e})") from None
        records.append(record)
    return records


def parse_fairseq_log(path: Path) -> dict[str, list[dict]]:
    """``train_inner`` and ``valid`` records of a fairseq ``--log-format json`` log, values as floats."""
    if not path.is_file():
        raise DataError(f"{path}: missing (fairseq-train's log)")
    out: dict[str, list[dict]] = {"train": [], "valid": []}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        for tag, key in ((" | train_inner | ", "train"), (" | valid | ", "valid")):
            if tag in line:
                try:
                    raw = json.loads(line.split(tag, 1)[1])
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{number}: broken {key} record ({e})") from None
                out[key].append({k: _float(v) for k, v in raw.items()})
    return out


_MODEL_KEYS = ("_name", "arch", "decoder_layers", "decoder_embed_dim", "decoder_ffn_embed_dim",
               "decoder_attention_heads", "decoder_normalize_before", "dropout", "attention_dropout",
               "adaptive_softmax_cutoff", "adaptive_input", "adaptive_input_cutoff", "tie_adaptive_weights",
               "tie_adaptive_proj", "share_decoder_input_output_embed")


def fairseq_config(path: Path) -> dict:
    """The model / optimization / task part of the config that fairseq-train prints when it starts."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if "{'_name': None, 'common':" in line:
            # bare names in the repr (relu, inf, ...) become strings
            text = re.sub(r"(?<=[:\[,] )(-?[A-Za-z_][\w.]*)(?=[,}\]])",
                          lambda m: m.group(1) if m.group(1) in ("None", "True", "False") else repr(m.group(1)),
                          line[line.index("{'_name'"):])
            try:
                cfg = ast.literal_eval(text)
            except (ValueError, SyntaxError) as e:
                raise DataError(f"{path}: fairseq-train's config line does not parse ({type(e).__name__})") from None
            model = cfg.get("model") or {}
            return {"model": {k: model.get(k) for k in _MODEL_KEYS if k in model},
                    "task": {k: (cfg.get("task") or {}).get(k) for k in ("data", "tokens_per_sample",
                                                                         "sample_break_mode")},
                    "batch_size": (cfg.get("dataset") or {}).get("batch_size"),
                    "optimizer": cfg.get("optimizer"), "lr_scheduler": cfg.get("lr_scheduler"),
                    "max_update": (cfg.get("optimization") or {}).get("max_update"),
                    "lr": (cfg.get("optimization") or {}).get("lr")}
    raise DataError(f"{path}: no config line (fairseq-train prints it when it starts)")


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def significant(value, digits: int = 4):
    """Round floats (also inside lists) to ``digits`` significant digits; non-finite -> None."""
    if isinstance(value, list):
        return [significant(v, digits) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}")
    return value


def ppl(bits: float | None) -> float | None:
    """Perplexity ``2**bits`` of a loss in bits/token (fairseq's base-2 loss); None if unknown or diverged."""
    return None if bits is None or not math.isfinite(bits) or bits > 1000 else 2.0 ** bits


def build_series(records: list[dict], log: dict[str, list[dict]]) -> dict:
    """The per-update series of one run, compact: lists indexed like ``step`` (gradient records)."""
    sig = significant
    probes = [r for r in records if r.get("jacobian_rms")]
    train = [r for r in log["train"] if r.get("num_updates") is not None]
    valid = [r for r in log["valid"] if r.get("valid_num_updates") is not None]
    return {
        "loss_unit": "bits/token",
        "step": [r["step"] for r in records],
        "batch_loss": [sig(r.get("loss")) for r in records],
        "ratio_x": [sig(r.get("ratio_x")) for r in records],
        "ratio_param": [sig(r.get("ratio_param")) for r in records],
        "update_rel_total": [sig(r.get("update_rel_total")) for r in records],
        "grad_x": [sig(list(r.get("grad_x") or [])) for r in records],
        "grad_param": [sig(list(r.get("grad_param") or [])) for r in records],
        "jacobian": {"step": [r["step"] for r in probes], "rms": [sig(list(r["jacobian_rms"])) for r in probes]},
        "train": {"update": [int(r["num_updates"]) for r in train], "loss": [sig(r.get("loss")) for r in train],
                  "lr": [sig(r.get("lr")) for r in train]},
        "valid": {"update": [int(r["valid_num_updates"]) for r in valid],
                  "loss": [sig(r.get("valid_loss")) for r in valid]},
    }


def diverged(meta: dict, log_path: Path, log: dict[str, list[dict]]) -> bool:
    """Whether a finished run diverged: a non-finite training or validation loss in its log, or fairseq-train
    stopped it for non-finite gradients or an exhausted loss scale (:data:`DIVERGENCE_STOPS`).

    A run that failed otherwise (non-zero exit without such a stop: out of memory, a bug, a bad option), or that
    ended without validating, is no result: :class:`FailedRun` quoting the last lines of its log.
    """
    losses = [r.get("loss") for r in log["train"]] + [r.get("valid_loss") for r in log["valid"]]
    if any(v is not None and not math.isfinite(v) for v in losses):
        return True
    if meta["exit_code"] != 0:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if any(stop in text for stop in DIVERGENCE_STOPS):
            return True
        raise FailedRun(f"{log_path}: fairseq-train failed (exit {meta['exit_code']}) without diverging; "
                        f"nothing recorded. Its last lines:\n{log_tail(log_path)}")
    if not log["valid"]:
        raise FailedRun(f"{log_path}: fairseq-train ended without validating; nothing recorded. Its last "
                        f"lines:\n{log_tail(log_path)}")
    return False


def run_metrics(meta: dict, records: list[dict], log: dict[str, list[dict]], diverged: bool) -> dict:
    """Final numbers of one run (losses in bits/token, fairseq's base-2 loss; ppl = 2**loss); ``diverged``: see
    :func:`diverged`."""
    train, valid = log["train"], log["valid"]
    final_train = train[-1]["loss"] if train else None
    final_valid = valid[-1]["valid_loss"] if valid else None
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
        "final_valid_ppl": ppl(final_valid),
        "best_valid_loss": min((v["valid_loss"] for v in valid if v.get("valid_loss") is not None), default=None),
        "diverged": diverged,
        "grad_ratio_init": first.get("ratio_x"), "grad_ratio_final": last.get("ratio_x"),
        "grad_ratio_min": min(ratios, default=None), "grad_ratio_max": max(ratios, default=None),
        "param_grad_ratio_init": first.get("ratio_param"), "param_grad_ratio_final": last.get("ratio_param"),
        "exit_code": meta["exit_code"],
    }


def record_run(run_dir: Path, ctx: Context) -> Path:
    """Write ``prenorm/series/<name>.json`` and, through ``ctx`` (the study's run), ``prenorm/runs/<name>.json``
    under the results root for one run folder; returns the record's path.

    A diverged run is recorded as such; a failed one raises :class:`FailedRun` (see :func:`diverged`); a folder
    without its metadata, gradient records or log is a :class:`DataError` naming the missing file.
    """
    meta = read_meta(run_dir)
    log = parse_fairseq_log(run_dir / TRAIN_LOG)
    run_diverged = diverged(meta, run_dir / TRAIN_LOG, log)
    records = read_gradnorm_records(run_dir / GRADNORM)
    name = meta["name"]
    series_rel = f"series/{name}.json"
    atomic_write_text(results_dir() / "prenorm" / series_rel,
                      json.dumps({"name": name, **build_series(records, log)}, separators=(",", ":"),
                                 allow_nan=False) + "\n")
    config = {k: v for k, v in meta.items() if k not in ("exit_code", "wall_time_s", "name")}
    config["arch"] = f"mva_lm_{meta['norm']}_{meta['depth']}"
    config["fairseq"] = fairseq_config(run_dir / TRAIN_LOG)
    metrics = {**run_metrics(meta, records, log, run_diverged), "series_file": series_rel}
    return ctx.record("prenorm/runs", name, metrics, config=config, seed=meta["seed"],
                      wall_time_s=meta["wall_time_s"])


# ------------------------------------------------------------------------------------------- committed results
def record_path(root: Path, name: str) -> Path:
    return root / "prenorm" / "runs" / f"{name}.json"


_RUN_KEYS = ("norm", "depth", "lr", "warmup_updates", "layers", "updates", "max_update", "tokens_seen",
             "final_train_loss", "final_valid_loss", "best_valid_loss", "diverged", "grad_ratio_init",
             "grad_ratio_final", "grad_ratio_min", "grad_ratio_max", "param_grad_ratio_init",
             "param_grad_ratio_final", "exit_code", "series_file", "seed", "wall_time_s", "device", "git_revision")


def load_run(name: str, root: Path) -> dict:
    """One run from ``prenorm/runs/<name>.json`` and its series under ``root``, plus ``name``, ``series`` and
    ``lr_text`` (the LR as written in the name). A missing or broken file is a :class:`DataError` naming it."""
    path = record_path(root, name)
    record = read_json(path, "run record")
    missing = [k for k in _RUN_KEYS if k not in record] if isinstance(record, dict) else ["*"]
    if missing:
        raise DataError(f"{path}: broken run record (no {missing})")
    series_path = root / "prenorm" / record["series_file"]
    series = read_json(series_path, f"series file of run {name}")
    missing = [k for k in SERIES_KEYS if k not in series] if isinstance(series, dict) else ["*"]
    if missing:
        raise DataError(f"{series_path}: broken series file of run {name} (no {missing})")
    match = NAME_RE.match(name)
    if match is None:
        raise DataError(f"{path}: '{name}' is not a run name of the study (<norm>_<depth>_lr<LR>_wu<N>_s<SEED>)")
    record.update(name=name, series=series, norm=record["norm"] + "norm" if not record["norm"].endswith("norm")
                  else record["norm"], lr_text=match.group("lr"))
    return record
