"""What the report's text assumes about the records it renders, checked before anything is rendered.

The templates take every number from the records, but their prose also says how the runs were made: full runs
of the reference settings (not a ``--quick`` run, no epoch cut short, no subset of the data), the reference
seed, and the devices it names once for several records ("all on the <device>" for the diffusion runs, "on the
CPU" for the scheduler ablation, "on 2 cores" for the pre-/post-norm study). :data:`EXPECTED`, :data:`SAME_DEVICE`
and :data:`DEVICE_STARTS` state those settings once; :func:`check_records` refuses, with one line naming the
record and the setting, a record that does not fit them, and a results folder of another seed
(``results/seed<S>/``, where ``make reproduce SEED=S`` records the image parts), which the report does not
describe.

A key the record lacks counts as ``None``: an option added after the run (``max_steps_per_epoch``, say) was not
in effect. A record the table names but the results do not hold is left to the templates, which name it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mvadl import REPO_ROOT
from mvadl.report.context import ReportDataError

#: Full runs only: these options, where a record has them, are None (the whole data, every step of every epoch).
_WHOLE = {"config.max_steps_per_epoch": None, "config.train_limit": None, "config.limit": None,
          "config.train_subset": None, "config.test_subset": None, "config.stop_after": None}
#: The seed the image parts' reference runs use (scripts/reproduce_common.sh, scripts/vae_reproduce.sh).
IMAGE_SEED = 0
#: The translation models' reference seed (scripts/nmt_reproduce.sh) and the second seed the report describes.
NMT_SEED, NMT_SECOND_SEED = 1, 2
_NMT_MODELS = ("direct", "zeroshot", "bilingual_en_de", "bilingual_en_fr")

#: ``"<part>/<name>"`` -> ``{dotted key of the record: the value the report's text assumes}``.
EXPECTED: dict[str, dict[str, Any]] = {
    "vae/metrics": {"seed": IMAGE_SEED, "config.epochs": 80, "config.z_dim": 20, **_WHOLE},
    **{f"vae/naive_mc_z{z}": {"seed": IMAGE_SEED, "config.epochs": 10, "config.z_dim": z, **_WHOLE}
       for z in (2, 5, 20, 50)},
    "vae/naive_mc": {"seed": IMAGE_SEED, "config.num_images": 100, "config.max_samples": 10_000,
                     "config.repeats": 10},
    "diffusion/classifier": {"seed": IMAGE_SEED, "config.epochs": 8, **_WHOLE},
    "diffusion/ddpm_training": {"seed": IMAGE_SEED, "config.epochs": 16,
                                "config.num_train_timesteps": 1000, **_WHOLE},
    "diffusion/ddpm_metrics": {"seed": IMAGE_SEED},
    "diffusion/scheduler_metrics": {"seed": IMAGE_SEED},
    "diffusion/scheduler_ablation": {"seed": IMAGE_SEED},
    "guidance/design": {"seed": IMAGE_SEED, "config.steps": 250, **_WHOLE},
    "guidance/training": {"seed": IMAGE_SEED, "config.epochs": 20, **_WHOLE},
    "guidance/progress": {"seed": IMAGE_SEED},
    "guidance/metrics": {"seed": IMAGE_SEED, "config.n_samples": 200},
    "guidance/more_red": {"seed": IMAGE_SEED, "config.n_samples": 200},
    **{f"nmt/training_{model}": {"seed": NMT_SEED, "config.max_update": 6400} for model in _NMT_MODELS},
    **{f"nmt/training_{model}_seed{NMT_SECOND_SEED}": {"seed": NMT_SECOND_SEED, "config.max_update": 6400}
       for model in ("zeroshot", "bilingual_en_de")},
    "prenorm/summary": {"seed": 1},
}

#: Records whose device the text names once for all of them (the first record's device).
SAME_DEVICE: tuple[tuple[str, ...], ...] = (
    ("diffusion/scheduler_metrics", "diffusion/ddpm_training", "diffusion/ddpm_metrics"),
)
#: Records whose device the text describes in words: ``record -> (how the device string starts, the words)``.
DEVICE_STARTS: dict[str, tuple[str, str]] = {
    "diffusion/scheduler_ablation": ("cpu", "on the CPU"),
    "prenorm/summary": ("cpu (2 cores", "on 2 cores"),
}

#: Where ``make reproduce SEED=S`` records the image parts of a seed other than the reference one.
SEED_FOLDER = re.compile(r"seed(-?\d+)$")


def _display_root(root: Path) -> str:
    return "results" if Path(root).resolve() == (REPO_ROOT / "results").resolve() else str(root)


def _value(record: dict, key: str) -> Any:
    node: Any = record
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _load(root: Path, name: str, shown: str) -> dict | None:
    path = Path(root) / f"{name}.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportDataError(f"{shown}/{name}.json: not valid JSON ({e})") from None
    return record if isinstance(record, dict) else None


def misfits(results_root: Path) -> list[str]:
    """Every way the records under ``results_root`` differ from what the report's text says, one line each."""
    root, shown = Path(results_root), _display_root(results_root)
    found = []
    others = sorted(p.name for p in root.iterdir() if p.is_dir() and SEED_FOLDER.match(p.name)) if root.is_dir() \
        else []
    if others:
        found.append(f"{shown}/{{{','.join(others)}}}: records of another seed, which the report does not describe "
                     f"(it renders the reference seeds' records); move them out of {shown}/ to build the report")
    for path in sorted(root.glob("*/**/*.json") if root.is_dir() else []):
        rel = path.relative_to(root)
        if rel.parts[0] in others or "hyps" in rel.parts or "series" in rel.parts:
            continue
        record = _load(root, rel.with_suffix("").as_posix(), shown)
        if record is not None and _value(record, "config.quick") is True:
            found.append(f"{shown}/{rel.as_posix()}: a --quick run's record (config.quick is true); the report "
                         f"describes full runs")
    for name, expected in EXPECTED.items():
        record = _load(root, name, shown)
        if record is None:
            continue
        for key, value in expected.items():
            actual = _value(record, key)
            if actual != value:
                found.append(f"{shown}/{name}.json: {key} is {actual!r}, but the report's text describes the run "
                             f"with {value!r}")
    for group in SAME_DEVICE:
        records = {name: _load(root, name, shown) for name in group}
        first = records[group[0]]
        for name, record in records.items():
            if first is not None and record is not None and record.get("device") != first.get("device"):
                found.append(f"{shown}/{name}.json: device is {record.get('device')!r}, but the text says it ran on "
                             f"the device of {shown}/{group[0]}.json ({first.get('device')!r})")
    for name, (start, words) in DEVICE_STARTS.items():
        record = _load(root, name, shown)
        if record is not None and not str(record.get("device")).startswith(start):
            found.append(f"{shown}/{name}.json: device is {record.get('device')!r}, but the text says it ran {words}")
    return found


def check_records(results_root: Path) -> None:
    """Raise :class:`ReportDataError` with the first misfit (:func:`misfits`), if any, and how many there are."""
    found = misfits(results_root)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ReportDataError(found[0] + more)
