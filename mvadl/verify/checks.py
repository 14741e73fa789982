"""The machinery of ``make verify``: a check, its verdict, the summary table, and the guard on what it writes.

A :class:`Check` re-computes one number of the report from a shipped model and compares it with the committed
record that holds it: ``|re-computed - recorded| <= tolerance`` passes, anything else fails. A check whose artefact
folder is not in the checkout is "not shipped yet" (counted apart, never as passed). A check whose record lacks its
key, or whose re-computation stops (missing data, a changed artefact), is an error, which fails the run like a
difference beyond tolerance. ``--quick`` re-computes on tiny subsets and compares with each check's
``quick_tolerance``; where a subset's value depends on its size (FID, say) that is None, and the value is shown
but not compared.

Everything a check writes goes under :data:`VERIFY_DIR` (``runs/verify/``); :func:`run_checks` snapshots the
committed ``results/`` and ``artifacts/`` before and after, and a file changed or added there fails the run.
"""
from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mvadl import REPO_ROOT
from mvadl.data import DataError
from mvadl.results import reference_results_dir

logger = logging.getLogger(__name__)

#: The one folder ``make verify`` writes into (translations, the summary).
VERIFY_DIR = REPO_ROOT / "runs" / "verify"
#: The shipped models.
ARTIFACTS_DIR = REPO_ROOT / "artifacts"

Verdict = Literal["pass", "FAIL", "ERROR", "not shipped yet", "not compared"]
#: The verdicts that fail ``make verify``.
FAILING: tuple[Verdict, ...] = ("FAIL", "ERROR")


@dataclass
class VerifyEnv:
    """What a re-computation gets besides the artefact folder and the record: the run's options, the folder it may
    write into, and values shared between the checks of one model (the loaded model, its samples)."""

    quick: bool
    device: Any
    data_dir: str | None
    workdir: Path
    _shared: dict = field(default_factory=dict)

    def shared(self, key: object, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per run for ``key``: the checks of one model load it, and sample from it, once."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]


#: ``recompute(env, artefact folder, record) -> value``.
Recompute = Callable[[VerifyEnv, Path, dict], float]


@dataclass(frozen=True)
class Check:
    """One number of the report, re-computed from one shipped model.

    ``artifact``: the folder the check needs (relative to the repository, ``artifacts/...``); ``record``: the
    committed record that holds the number (relative to ``results/``); ``key``: where in it (:func:`lookup`);
    ``tolerance``: the largest absolute difference that passes; ``quick_tolerance``: the same for ``--quick``'s
    subsets (None: not compared there); ``digits``: decimals shown in the table.
    """

    name: str
    group: str
    what: str
    artifact: str
    record: str
    key: str
    tolerance: float
    recompute: Recompute
    quick_tolerance: float | None = None
    digits: int = 4

    def tolerance_for(self, quick: bool) -> float | None:
        return self.quick_tolerance if quick else self.tolerance


@dataclass
class Outcome:
    """A check's result: its verdict, the two values, the tolerance it was judged with, and a note (why it could
    not run)."""

    check: Check
    verdict: Verdict
    recorded: float | None = None
    recomputed: float | None = None
    tolerance: float | None = None
    note: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"check": self.check.name, "group": self.check.group, "what": self.check.what,
                "artifact": self.check.artifact, "record": f"results/{self.check.record}", "key": self.check.key,
                "recorded": self.recorded, "recomputed": self.recomputed, "tolerance": self.tolerance,
                "verdict": self.verdict, "note": self.note, "seconds": round(self.seconds, 1)}


_PART = re.compile(r"^(?P<name>[^\[\]]+)(?:\[(?P<selector>[^\]]+)\])?$")


def lookup(record: Any, key: str) -> Any:
    """The value at ``key`` in a record: names separated by dots (``scores.direct.6400.test.en-de.bleu``); a name
    followed by ``[field=value,...]`` picks, in the list it names, the one item whose fields read those values
    (``cells[scheduler=DDIM,steps=20].fid``). A missing key is a KeyError that names the part that is missing."""
    value = record
    for part in re.split(r"\.(?![^\[]*\])", key):
        match = _PART.match(part)
        if match is None:
            raise KeyError(f"{key}: '{part}' is neither a name nor name[field=value,...]")
        name = match["name"]
        if not isinstance(value, dict) or name not in value:
            raise KeyError(f"{key}: no '{name}'")
        value = value[name]
        if match["selector"] is not None:
            conditions = [condition.split("=", 1) for condition in match["selector"].split(",")]
            if not isinstance(value, list) or any(len(c) != 2 for c in conditions):
                raise KeyError(f"{key}: '{name}' is not a list, or '{match['selector']}' is not field=value,...")
            items = [item for item in value if isinstance(item, dict)
                     and all(str(item.get(field)) == wanted for field, wanted in conditions)]
            if len(items) != 1:
                raise KeyError(f"{key}: {len(items)} items of '{name}' have {match['selector']}")
            value = items[0]
    return value


def compare(recorded: float, recomputed: float, tolerance: float | None) -> Verdict:
    """``pass`` when ``|recomputed - recorded| <= tolerance`` (a non-finite value never passes); ``not compared``
    without a tolerance."""
    if tolerance is None:
        return "not compared"
    if not (math.isfinite(recorded) and math.isfinite(recomputed)):
        return "FAIL"
    # the last ulp: a value recorded with 4 decimals and re-computed exactly lies on the boundary
    return "pass" if abs(recomputed - recorded) <= tolerance * (1 + 1e-9) + 1e-12 else "FAIL"


def resolve(path: str, root: Path) -> Path:
    return Path(path) if Path(path).is_absolute() else root / path


def run_check(check: Check, env: VerifyEnv) -> Outcome:
    """One check: "not shipped yet" without its artefact folder; else the recorded value, the re-computed one and
    the verdict. An error (the record or its key missing, data missing, the re-computation stopped) is an
    ``ERROR`` outcome with one line; the traceback of an unexpected one goes to the log."""
    folder = resolve(check.artifact, REPO_ROOT)
    tolerance = check.tolerance_for(env.quick)
    if not folder.is_dir():
        return Outcome(check, "not shipped yet", tolerance=tolerance, note=f"not shipped yet: {check.artifact}")
    started = time.perf_counter()
    record_path = reference_results_dir() / check.record
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        recorded = float(lookup(record, check.key))
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        why = error.args[0] if isinstance(error, KeyError) and error.args else error
        return Outcome(check, "ERROR", tolerance=tolerance, note=f"results/{check.record}: {why}")
    try:
        recomputed = float(check.recompute(env, folder, record))
    except DataError as error:
        note = str(error)
    except Exception as error:  # noqa: BLE001 - one check's failure must not hide the others' verdicts
        logger.exception("%s: the re-computation stopped", check.name)
        note = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    else:
        return Outcome(check, compare(recorded, recomputed, tolerance), recorded, recomputed, tolerance,
                       seconds=time.perf_counter() - started)
    return Outcome(check, "ERROR", recorded, tolerance=tolerance, note=note, seconds=time.perf_counter() - started)


def snapshot(folders: Sequence[Path]) -> dict[str, tuple[int, int]]:
    """``{path: (size, mtime_ns)}`` of every file under ``folders``."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for folder in folders if folder.is_dir()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def guarded_folders() -> list[Path]:
    """The folders ``make verify`` must leave as they are: the committed records and the shipped models."""
    return [reference_results_dir(), ARTIFACTS_DIR]


def changed_files(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))


def run_checks(checks: Sequence[Check], env: VerifyEnv) -> tuple[list[Outcome], list[str]]:
    """Every check in turn (a model is loaded once, :meth:`VerifyEnv.shared`); returns the outcomes and the files
    changed under :func:`guarded_folders` meanwhile (any of them fails the run)."""
    before = snapshot(guarded_folders())
    outcomes = []
    for check in checks:
        outcome = run_check(check, env)
        logger.info("%s: %s%s", check.name, outcome.verdict, f" ({outcome.note})" if outcome.note else "")
        outcomes.append(outcome)
    return outcomes, changed_files(before, snapshot(guarded_folders()))


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def summary_table(outcomes: Sequence[Outcome], quick: bool = False) -> str:
    """The table ``make verify`` prints: check, what it is, recorded, re-computed, tolerance, verdict; then where
    each compared number comes from."""
    rows = [("check", "what", "recorded", "re-computed", "tolerance", "verdict")]
    for o in outcomes:
        tolerance = "-" if o.tolerance is None else f"±{o.tolerance:.{o.check.digits}f}"
        rows.append((o.check.name, o.check.what, _number(o.recorded, o.check.digits),
                     _number(o.recomputed, o.check.digits), tolerance, o.verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) if i < 2 or i == 5 else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths))).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    if quick:
        lines.append("(--quick: tiny subsets, not the records' sets; tolerances widened, '-' where a value "
                     "depends on the subset's size)")
    sources = [o for o in outcomes if o.verdict != "not shipped yet"]
    if sources:
        lines.append("records:")
        lines += [f"  {o.check.name}: results/{o.check.record} {o.check.key}  (model: {o.check.artifact})"
                  for o in sources]
    notes = [o for o in outcomes if o.note and o.verdict != "not shipped yet"]
    lines += [f"  {o.check.name}: {o.note}" for o in notes]
    return "\n".join(lines)


def counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    """How many checks got each verdict (every verdict present, zeros included)."""
    return {verdict: sum(o.verdict == verdict for o in outcomes)
            for verdict in ("pass", "FAIL", "ERROR", "not compared", "not shipped yet")}


def summary_line(outcomes: Sequence[Outcome], seconds: float) -> str:
    """``N passed, ...; not shipped yet: FOLDER, ...; wall time``."""
    n = counts(outcomes)
    missing = sorted({o.check.artifact for o in outcomes if o.verdict == "not shipped yet"})
    parts = [f"{n['pass']} passed", f"{n['FAIL']} failed", f"{n['ERROR']} could not run"]
    if n["not compared"]:
        parts.append(f"{n['not compared']} not compared")
    line = ", ".join(parts)
    if missing:
        line += f"; {n['not shipped yet']} not shipped yet: {', '.join(missing)}"
    return f"{line}; wall time {seconds:.0f} s ({seconds / 60:.1f} min)"


def exit_status(outcomes: Sequence[Outcome], changed: Sequence[str] = ()) -> int:
    """1 when a check that could run failed or could not run, or when a guarded file changed; else 0."""
    return int(bool(changed) or any(o.verdict in FAILING for o in outcomes))
