"""``make reproduce SEED=3``: the seed reaches the scripts the Makefile says it reaches, and they give it to every
experiment they run (a stand-in Python records the commands, so nothing trains)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from mvadl import REPO_ROOT

#: The Makefile's reproduce targets that take SEED, and the script each runs.
SEEDED = {"reproduce-vae": "vae_reproduce.sh", "reproduce-diffusion": "diffusion_reproduce.sh",
          "reproduce-guidance": "guidance_reproduce.sh", "reproduce-nmt": "nmt_reproduce.sh"}


def make_dry_run(*args: str) -> list[str]:
    """The commands ``make -n`` would run (nothing runs)."""
    proc = subprocess.run(["make", "-n", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return proc.stdout.splitlines()


def test_make_reproduce_passes_seed_to_the_scripts_that_take_it():
    lines = make_dry_run("reproduce", "SEED=3", "PY=/stand/in/python")
    for target, script in SEEDED.items():
        line = next(line for line in lines if f"scripts/{script}" in line)
        assert re.search(r"(^| )SEED=3 ", line) and "PY=/stand/in/python" in line, (target, line)
    prenorm = next(line for line in lines if "scripts/prenorm_study.sh" in line)
    assert "SEED" not in prenorm and "PY=/stand/in/python" in prenorm  # its seeds are the study's design
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "overrides it for the VAE, diffusion,\n# guidance and translation runs" in makefile


@pytest.mark.parametrize("script", ["vae_reproduce.sh", "diffusion_reproduce.sh", "guidance_reproduce.sh"])
def test_every_experiment_of_a_script_gets_the_seed(script, tmp_path):
    commands = tmp_path / "commands.txt"
    stand_in = tmp_path / "python"
    stand_in.write_text(f'#!/bin/sh\necho "$*" >> {commands}\n')
    stand_in.chmod(0o755)
    env = {**os.environ, "PY": str(stand_in), "SEED": "3", "CKPT_DIR": str(tmp_path / "ckpt"),
           "LOG_DIR": str(tmp_path / "logs"), "RESULTS_DIR": str(tmp_path / "results")}
    subprocess.run(["bash", f"scripts/{script}"], cwd=REPO_ROOT, env=env, check=True, capture_output=True,
                   timeout=60)
    runs = [line.split() for line in commands.read_text().splitlines()]
    assert len(runs) >= 3 and all(run[0] == "-m" for run in runs)
    for run in runs:
        assert run[run.index("--seed") + 1] == "3", run


def test_the_translation_script_trains_with_the_seed():
    """(Not run here: it would write next to a real run's folders.) Its training and curves commands take SEED."""
    text = (REPO_ROOT / "scripts" / "nmt_reproduce.sh").read_text()
    assert re.search(r'^SEED=\$\{SEED:-\d+\}$', text, re.M)
    lines = text.replace("\\\n", " ").splitlines()
    train = next(line for line in lines if "nmt train" in line)
    curves = next(line for line in lines if "nmt curves" in line)
    assert '--seed "$SEED"' in train and '--training-seed "$SEED"' in curves  # the curves score that seed's runs


@pytest.mark.parametrize("script", ["vae_reproduce.sh", "diffusion_reproduce.sh", "guidance_reproduce.sh",
                                    "nmt_reproduce.sh"])
def test_quick_scripts_leave_the_results_folder_to_the_runner(script, tmp_path):
    """--quick: no RESULTS_DIR redirect of the script's own; the runner sends quick outputs to runs/quick/results
    (tests/test_runner.py). The scripts run from a copy of scripts/, so their work folders are made in tmp_path."""
    shutil.copytree(REPO_ROOT / "scripts", tmp_path / "scripts")
    commands = tmp_path / "commands.txt"
    stand_in = tmp_path / "python"
    stand_in.write_text(f'#!/bin/sh\necho "${{RESULTS_DIR:-unset}} $*" >> {commands}\n')
    stand_in.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key != "RESULTS_DIR"}
    env.update(PY=str(stand_in), CKPT_DIR=str(tmp_path / "ckpt"), LOG_DIR=str(tmp_path / "logs"))
    proc = subprocess.run(["bash", f"scripts/{script}", "--quick"], cwd=tmp_path, env=env, check=True,
                          capture_output=True, text=True, timeout=60)
    runs = [line.split() for line in commands.read_text().splitlines()]
    assert runs and all(run[0] == "unset" and "--quick" in run for run in runs)
    assert proc.stdout.rstrip().endswith(f"runs/quick/results/{script.split('_')[0]}")
