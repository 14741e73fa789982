"""Check the report's numbers from the shipped models alone (``make verify``): no training, no download.

    python -m mvadl.verify                               # every check; 2 CPU cores: see the README
    python -m mvadl.verify --quick                       # the same code on tiny subsets, about a minute
    python -m mvadl.verify --only nmt classifier-accuracy

Each number of the report that a model under ``artifacts/`` produces is re-computed from that model and printed
against its committed record (``results/...``) with the tolerance it must stay within
(``mvadl/verify/shipped.py`` lists the checks and why each tolerance). A difference beyond tolerance, or a check
that cannot run (data missing, a changed artefact), makes the exit status 1; a check whose model is not shipped
yet is reported as such and counted apart. Writes only under runs/verify/ (the translations, summary.json); the
committed results/ and artifacts/ are checked to be unchanged afterwards.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from mvadl.io import atomic_write_text
from mvadl.results import git_revision
from mvadl.runner import Context, ToolConfig, main, option
from mvadl.verify import checks as verify_checks
from mvadl.verify import shipped
from mvadl.verify.checks import (
    Check,
    VerifyEnv,
    counts,
    exit_status,
    run_checks,
    summary_line,
    summary_table,
)


@dataclass
class VerifyConfig(ToolConfig):
    """Re-compute the report's numbers from the shipped models and compare them with the records."""

    quick: bool = option(False, "tiny subsets of every check's data (a smoke run: wide tolerances, some values "
                                "not compared)")
    only: list[str] = option([], "run only these checks or groups (nmt, classifier, q19, ddpm, vae); default: all")
    device: str = option("auto", "'auto' (the GPU when torch sees one), 'cpu', 'cuda' or 'cuda:N'")
    data_dir: str | None = option(None, "root folder of the datasets (None: $DATA_DIR, else ./data): MNIST and "
                                        "Multi30k as scripts/get_data.sh writes them")

    def __post_init__(self) -> None:
        known = {c.name for c in shipped.CHECKS} | {c.group for c in shipped.CHECKS}
        unknown = sorted(set(self.only) - known)
        if unknown:
            raise ValueError(f"--only: unknown checks {unknown}; known: groups "
                             f"{', '.join(dict.fromkeys(c.group for c in shipped.CHECKS))} and checks "
                             f"{', '.join(c.name for c in shipped.CHECKS)}")


def selected(checks: Sequence[Check], only: Sequence[str]) -> list[Check]:
    """The checks named in ``only`` by name or group, in table order; all of them when ``only`` is empty."""
    return [c for c in checks if not only or c.name in only or c.group in only]


def run(config: VerifyConfig, ctx: Context) -> int:
    workdir = verify_checks.VERIFY_DIR
    env = VerifyEnv(quick=config.quick, device=ctx.device, data_dir=config.data_dir, workdir=workdir)
    outcomes, changed = run_checks(selected(shipped.CHECKS, config.only), env)
    seconds = ctx.elapsed()
    print(summary_table(outcomes, config.quick))
    for path in changed:
        print(f"error: {path} changed during the checks (make verify writes only under {workdir})")
    print(summary_line(outcomes, seconds))
    status = exit_status(outcomes, changed)
    atomic_write_text(workdir / "summary.json", json.dumps(
        {"quick": config.quick, "only": config.only, "git_revision": git_revision(), "wall_time_s": round(seconds, 1),
         "counts": counts(outcomes), "changed_files": changed, "exit_status": status,
         "checks": [o.as_dict() for o in outcomes]}, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main(run, VerifyConfig, prog="python -m mvadl.verify", doc=__doc__))
