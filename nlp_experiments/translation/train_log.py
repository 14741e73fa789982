"""What a fairseq-train log says about its run, read from fairseq's JSON log format (``--log-format json``,
which :func:`~nlp_experiments.translation.training.train_command` passes).

In that format each statistics line is a logging prefix, a tag and one JSON object: ``... | train_inner |
{"epoch": 1, "loss": "9.1", "wps": "15000", "num_updates": "50", ...}`` every ``--log-interval`` updates,
``... | train | {"train_wps": ..., "train_num_updates": ...}`` at each epoch's end and ``... | valid |
{"valid_loss": ..., "valid_num_updates": ...}`` at each validation (fairseq prefixes the keys of ``print``-ed
statistics with their tag, not those of ``train_inner``). A resumed run's ``Loaded checkpoint ... (epoch E @ U
updates)`` is a plain logging line. fairseq restarts its ``wall`` clock when it loads a checkpoint (it resets
every time meter), so a resumed run's log holds one clock per segment.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from mvadl.data import DataError

_TAGS = {" | train_inner | ": "train_inner", " | train | ": "train", " | valid | ": "valid"}
#: The key of fairseq's wall clock in each tag's statistics (``print``-ed statistics carry their tag's prefix).
_WALL_KEYS = {"train_inner": "wall", "train": "train_wall"}
_LOADED = re.compile(r"Loaded checkpoint \S+ \(epoch \d+ @ (\d+) updates\)")


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def read_log(log: Path) -> dict[str, list[dict]]:
    """``{"train_inner": [...], "train": [...], "valid": [...], "loaded_updates": [...], "segment_walls": [...]}``:
    the JSON statistics of each tag (numbers as floats), the updates of each checkpoint a resumed run loaded, and
    the last ``wall`` clock of each segment (the lines before the first load, then after each load; 0.0 for a
    segment without statistics). A line that does not parse is a :class:`DataError` naming the log and the line."""
    if not Path(log).is_file():
        raise DataError(f"{log}: missing (fairseq-train's log)")
    found: dict[str, list] = {"train_inner": [], "train": [], "valid": [], "loaded_updates": [],
                              "segment_walls": [0.0]}
    for number, line in enumerate(Path(log).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        loaded = _LOADED.search(line)
        if loaded:
            found["loaded_updates"].append(int(loaded.group(1)))
            found["segment_walls"].append(0.0)
            continue
        for tag, key in _TAGS.items():
            if tag in line and line.split(tag, 1)[1].lstrip().startswith("{"):
                try:
                    raw = json.loads(line.split(tag, 1)[1])
                except json.JSONDecodeError as error:
                    raise DataError(f"{log}:{number}: broken {key} statistics ({error})") from None
                found[key].append({name: _number(value) for name, value in raw.items()})
                wall = found[key][-1].get(_WALL_KEYS.get(key))
                if isinstance(wall, float):
                    found["segment_walls"][-1] = max(found["segment_walls"][-1], wall)
    return found


def validation_series(log: dict[str, list[dict]]) -> list[dict]:
    """``[{"epoch", "updates", "valid_loss"}]``, one entry per validation of :func:`read_log`'s ``log``.

    The loss is fairseq's (label-smoothed cross-entropy, base 2, over every pair's validation sentences).
    """
    return [{"epoch": int(v["epoch"]), "updates": int(v["valid_num_updates"]), "valid_loss": v["valid_loss"]}
            for v in log["valid"]]


def interval_wps(log_path: Path) -> list[float]:
    """fairseq's ``wps`` of each ``train_inner`` log interval of a fairseq-train log."""
    return [entry["wps"] for entry in read_log(log_path)["train_inner"] if "wps" in entry]


def training_metrics(log_path: Path) -> dict:
    """What a fairseq-train log says about its run: ``updates`` (the last number of updates logged),
    ``train_wps`` (words/s of the last end-of-epoch ``train`` statistics, ``None`` before one),
    ``resumed_from_updates`` (the updates of the last checkpoint a resumption loaded, 0 for a fresh run),
    ``resumes`` (how many times the run was resumed), ``training_wall_s`` (the training loop's seconds: the sum of
    each segment's last ``wall`` clock, work redone after a resumption included; ``None`` before a statistics
    line) and the ``validation`` series. A log without updates is a
    :class:`DataError`."""
    log = read_log(log_path)
    updates = [int(entry[key]) for tag, key in (("train_inner", "num_updates"), ("train", "train_num_updates"),
                                               ("valid", "valid_num_updates"))
               for entry in log[tag] if key in entry]
    if not updates:
        raise DataError(f"{log_path}: no number of updates in the fairseq-train log (was it run with "
                        f"--log-format json?)")
    wps = [entry["train_wps"] for entry in log["train"] if "train_wps" in entry]
    has_wall = any(key in entry for tag, key in _WALL_KEYS.items() for entry in log[tag])
    return {"updates": max(updates), "train_wps": wps[-1] if wps else None,
            "resumed_from_updates": log["loaded_updates"][-1] if log["loaded_updates"] else 0,
            "resumes": len(log["loaded_updates"]), "training_wall_s": sum(log["segment_walls"]) if has_wall else None,
            "validation": validation_series(log)}
