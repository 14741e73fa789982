"""A training run's identity across resumes: its config and the revision it started from.

A long run continues over several working stretches (``--resume``). It stays one run, with one record, only if
every stretch runs the same code with the same settings, so each checkpoint stores the identity of the run that
wrote it and a resume presents its own (:func:`check_same_run`). Where the run reads and writes, and on which
device, may change between stretches (:data:`RUN_LOCAL_KEYS`). A run that spans stretches is best started from a
``git worktree`` checked out at one commit (README, "Long runs"), so commits on main never change its code.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mvadl.data import DataError

#: Config keys that may differ between the stretches of one run: where it reads and writes, on which device,
#: and the options that only steer one invocation.
RUN_LOCAL_KEYS = frozenset({"resume", "device", "data_dir", "output_dir", "checkpoint_dir", "log_dir", "stop_after"})


def run_identity(config: dict, revision: str, local_keys: Iterable[str] = RUN_LOCAL_KEYS) -> dict:
    """What makes a run the same run across resumes: its config (less ``local_keys``) and the revision it
    started from."""
    local = frozenset(local_keys)
    return {"config": {k: v for k, v in config.items() if k not in local}, "revision": revision}


def check_same_run(checkpoint: Path, stored: dict | None, identity: dict) -> None:
    """Refuse (DataError, one line) to resume ``checkpoint`` with another config or from another revision."""
    if stored is None:
        raise DataError(f"{checkpoint}: no run identity (config and revision) to check a resume against")
    if stored["revision"] != identity["revision"]:
        raise DataError(f"{checkpoint}: started from revision {stored['revision']}, this command runs "
                        f"{identity['revision']}; resume it from a checkout of its own revision "
                        f"(git worktree add ../runs-<rev> <rev>)")
    old, new = stored["config"], identity["config"]
    differ = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if differ:
        changes = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in differ)
        raise DataError(f"{checkpoint}: made by a run with other settings ({changes}); resume with the same options")
