"""The README's commands exist and run (in their --help form), so the README cannot drift from the code."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from mvadl import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
CODE = "\n".join(re.findall(r"```(?:bash)?\n(.*?)```", README, flags=re.S))
MODULES = sorted(set(re.findall(r"python -m ((?:mvadl|vae_diffusion|fairseq_ext)[\w.]*)", README)))
SCRIPTS = sorted(set(re.findall(r"\b(scripts/[\w-]+\.sh)", README)))
MAKE_TARGETS = sorted(set(re.findall(r"^(?:\S+=\S+ )*make ([\w-]+)", CODE, flags=re.M)))


def test_readme_mentions_commands():
    assert "mvadl.data.fetch" in MODULES and "scripts/install.sh" in SCRIPTS
    assert {"test", "reproduce"} <= set(MAKE_TARGETS)


@pytest.mark.parametrize("module", MODULES)
def test_module_help(module):
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_exists_and_parses(script):
    path = REPO_ROOT / script
    assert path.is_file(), f"README names {script}, which does not exist"
    subprocess.run(["bash", "-n", str(path)], check=True)
    assert "set -euo pipefail" in path.read_text()


@pytest.mark.parametrize("target", MAKE_TARGETS)
def test_make_target_exists(target):
    proc = subprocess.run(["make", "-n", "-C", str(REPO_ROOT), target], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
