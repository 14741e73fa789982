"""The README's commands exist and take the options the README gives them, so the README cannot drift from the
code: every ``python -m`` module, and every script that only wraps one, must list in its ``--help`` each option
the README writes next to it (in the command or its comment)."""
from __future__ import annotations

import re
import runpy
import subprocess
import sys

import pytest

from mvadl import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
CODE = "\n".join(re.findall(r"```(?:bash)?\n(.*?)```", README, flags=re.S))
MODULE = r"python -m ((?:mvadl|vae_diffusion|fairseq_ext|nlp_experiments)[\w.]*)"
SCRIPT = r"\b(scripts/[\w-]+\.sh)"
OPTION = r"(?<![\w-])--[a-z][\w-]*"
MODULES = sorted(set(re.findall(MODULE, README)))
SCRIPTS = sorted(set(re.findall(SCRIPT, README)))
MAKE_TARGETS = sorted(set(re.findall(r"^(?:\S+=\S+ )*make ([\w-]+)", CODE, flags=re.M)))


def wrapped_module(script: str) -> str | None:
    """The module a script only forwards its arguments to (``exec ... -m MODULE "$@" [its own options]``), else
    None."""
    found = re.findall(r'^exec .* -m ([\w.]+) "\$@"(?: .*)?$', (REPO_ROOT / script).read_text(), flags=re.M)
    return found[0] if len(found) == 1 else None


def options_named_with(readme: str) -> dict[str, set[str]]:
    """``{module: options}``: the ``--options`` each README line writes after ``python -m MODULE`` (or after a
    script that wraps MODULE), up to the next command of the line."""
    wrapped = {script: module for script in SCRIPTS if (module := wrapped_module(script))}
    named: dict[str, set[str]] = {}
    for line in readme.splitlines():
        parts = re.split(f"{MODULE}|{SCRIPT}", line)
        for module, script, rest in zip(parts[1::3], parts[2::3], parts[3::3]):
            target = module or wrapped.get(script)
            if target:
                named.setdefault(target, set()).update(re.findall(OPTION, rest or ""))
    return named


OPTIONS = options_named_with(README)


def test_readme_mentions_commands():
    assert "mvadl.data.fetch" in MODULES and "scripts/install.sh" in SCRIPTS
    assert {"test", "reproduce", "report"} <= set(MAKE_TARGETS)
    # options of the wrapped scripts count for their module (get_data.sh -> mvadl.data.fetch)
    assert {"--datasets", "--offline"} <= OPTIONS["mvadl.data.fetch"]


def test_options_are_read_per_command():
    line = "python -m mvadl.x --a   # see --b; bash scripts/get_data.sh --datasets x  python -m mvadl.y --c"
    assert options_named_with(line) == {"mvadl.x": {"--a", "--b"}, "mvadl.data.fetch": {"--datasets"},
                                        "mvadl.y": {"--c"}}


@pytest.mark.parametrize("module", sorted(set(MODULES) | set(OPTIONS)))
def test_module_help_lists_the_readme_options(module, monkeypatch, capsys):
    """``python -m <module> --help`` exits 0 and its usage lists every option the README gives the module (run
    in-process: no extra interpreter)."""
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    assert exit_info.value.code in (0, None)
    usage = capsys.readouterr().out
    assert usage.startswith("usage:")
    listed = set(re.findall(OPTION, usage))
    assert not OPTIONS.get(module, set()) - listed, f"README gives {module} options its --help does not list"


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
