"""fairseq's command-line tools run as subprocesses with this project's plugin (shared by every experiment).

Nothing here imports fairseq: each step is ``python -m fairseq_cli.<tool> ... --user-dir fairseq_ext`` in a
fresh interpreter (the same Python as the caller), exactly the command a user could type, with its output kept
in a log file next to the run. The device comes from the runner (:func:`device_args`: ``--cpu`` unless the
run's device is a GPU).

* :func:`fairseq_command`: the command line of one fairseq tool;
* :func:`run_logged`: run it with its whole output in a log (a failure is a :class:`FairseqError` naming the
  log, or, with ``check=False``, the exit status to record);
* :func:`run_to_file`: run it with its standard output into a file (fairseq-generate).

The experiments' own commands and log readers live beside their experiment (``nlp_experiments.translation.
{data_bin,training,train_log,generation}``, ``nlp_experiments.prenorm.training``).
"""
from __future__ import annotations

import logging
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mvadl import REPO_ROOT
from mvadl.data import DataError
from mvadl.io import atomic_path

logger = logging.getLogger(__name__)

#: The plugin, passed to every fairseq command (``--user-dir``).
USER_DIR = REPO_ROOT / "fairseq_ext"


class FairseqError(DataError):
    """A fairseq command failed; the message names its log file and quotes the log's last error line.

    A :class:`DataError`, so the runner prints it as one line: the traceback, if any, is in the log.
    """


def fairseq_command(tool: str, *args: object) -> list[str]:
    """``python -m fairseq_cli.<tool> args...`` with the interpreter running this code."""
    return [sys.executable, "-m", f"fairseq_cli.{tool}", *map(str, args)]


def device_args(device: Any) -> list[str]:
    """fairseq's device options for the runner's ``ctx.device``: ``--cpu``, or the GPU's ``--device-id``."""
    kind, _, index = str(device).partition(":")
    if kind == "cpu":
        return ["--cpu"]
    return ["--device-id", index] if index else []


def last_error(log: Path) -> str:
    """The last line of ``log`` that mentions an error (else its last line): what a failure message quotes."""
    lines = [line.strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "error:" in line]
    return (errors or lines or ["(empty log)"])[-1]


def log_tail(log: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of ``log``: what a message about a failed run quotes (the traceback's end)."""
    text = log.read_text(encoding="utf-8", errors="replace").rstrip("\n").splitlines()
    return "\n".join(text[-lines:]) if text else "(empty log)"


def run_logged(command: Sequence[str], log: Path, *, append: bool = False, echo: re.Pattern | None = None,
               env: Mapping[str, str] | None = None, check: bool = True) -> int:
    """Run ``command`` with stdout and stderr into ``log`` (and the lines matching ``echo`` onto stdout).

    ``env``: the child's environment (default: this process's). Returns the exit status; with ``check`` (the
    default) a failure raises :class:`FairseqError` naming ``log`` instead.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    logger.debug("running %s", " ".join(command))
    with open(log, "a" if append else "w", encoding="utf-8", buffering=1) as out:  # line-buffered: tail -f works
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                encoding="utf-8", errors="replace", bufsize=1,
                                env=dict(env) if env is not None else None)
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if echo is not None and echo.search(line):
                print(line, end="", flush=True)
        status = proc.wait()
    if check and status != 0:
        raise FairseqError(f"{log}: {command[2]} failed (exit {status}): {last_error(log)}")
    return status


def run_to_file(command: Sequence[str], output: Path, log: Path) -> None:
    """Run ``command`` with stdout into ``output`` (written only if it succeeds) and stderr into ``log``."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp:
        with open(tmp, "w", encoding="utf-8") as out, open(log, "w", encoding="utf-8") as err:
            status = subprocess.run(command, stdout=out, stderr=err).returncode
        if status != 0:
            raise FairseqError(f"{log}: {command[2]} failed (exit {status}): {last_error(log)}")
