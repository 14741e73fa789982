"""The README's commands exist and parse their options, so the README cannot drift from the code."""
from __future__ import annotations

import re
import runpy
import subprocess
import sys

import pytest

from mvadl import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
CODE = "\n".join(re.findall(r"```(?:bash)?\n(.*?)```", README, flags=re.S))
MODULES = sorted(set(re.findall(r"python -m ((?:mvadl|vae_diffusion|fairseq_ext|nlp_experiments)[\w.]*)", README)))
SCRIPTS = sorted(set(re.findall(r"\b(scripts/[\w-]+\.sh)", README)))
MAKE_TARGETS = sorted(set(re.findall(r"^(?:\S+=\S+ )*make ([\w-]+)", CODE, flags=re.M)))


def test_readme_mentions_commands():
    assert "mvadl.data.fetch" in MODULES and "scripts/install.sh" in SCRIPTS
    assert {"test", "reproduce", "report"} <= set(MAKE_TARGETS)


@pytest.mark.parametrize("module", MODULES)
def test_module_help(module, monkeypatch, capsys):
    """``python -m <module> --help`` prints its usage and exits 0 (run in-process: no extra interpreter)."""
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    assert exit_info.value.code in (0, None)
    assert "usage:" in capsys.readouterr().out


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_exists_and_is_strict(script):
    path = REPO_ROOT / script
    assert path.is_file(), f"README names {script}, which does not exist"
    assert "set -euo pipefail" in path.read_text()


@pytest.mark.slow
@pytest.mark.parametrize("script", [s for s in SCRIPTS if s not in ("scripts/install.sh",)])
def test_script_help(script):
    proc = subprocess.run(["bash", str(REPO_ROOT / script), "--help"], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip()


@pytest.mark.parametrize("target", MAKE_TARGETS)
def test_make_target_exists(target):
    proc = subprocess.run(["make", "-n", "-C", str(REPO_ROOT), target], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
