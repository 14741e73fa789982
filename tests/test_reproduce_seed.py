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


def run_script_copy(script: str, tmp_path, *args: str, **env_vars: str) -> list[list[str]]:
    """``bash scripts/SCRIPT ARGS`` from a copy of scripts/ in ``tmp_path`` with a stand-in Python, no
    RESULTS_DIR, CKPT_DIR or LOG_DIR of the caller's: each command as ``[RESULTS_DIR or 'unset', *args]``."""
    shutil.copytree(REPO_ROOT / "scripts", tmp_path / "scripts")
    commands = tmp_path / "commands.txt"
    stand_in = tmp_path / "python"
    stand_in.write_text(f'#!/bin/sh\necho "${{RESULTS_DIR:-unset}} $*" >> {commands}\n')
    stand_in.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("RESULTS_DIR", "CKPT_DIR", "LOG_DIR", "SEED",
                                                            "ALLOW_DIRTY")}
    env.update(PY=str(stand_in), **env_vars)
    subprocess.run(["bash", f"scripts/{script}", *args], cwd=tmp_path, env=env, check=True, capture_output=True,
                   text=True, timeout=60)
    return [line.split() for line in commands.read_text().splitlines()]


def test_ship_ships_every_model_of_the_run(tmp_path):
    """SHIP=v<N> ships each of the four models (the report's translation numbers all come from shipped models)."""
    runs = run_script_copy("nmt_reproduce.sh", tmp_path, SHIP="v9")
    ships = [run for run in runs if run[2:4] == ["nlp_experiments.translation.ship", "--model"]]
    assert [run[4] for run in ships] == ["zeroshot", "direct", "bilingual_en_de", "bilingual_en_fr"]
    assert all(run[run.index("--version") + 1] == "v9" and "--reference" in run for run in ships)
    assert not [run for run in run_script_copy("nmt_reproduce.sh", tmp_path / "no_ship")
                if "nlp_experiments.translation.ship" in run]


@pytest.mark.parametrize("script", ["vae_reproduce.sh", "diffusion_reproduce.sh", "guidance_reproduce.sh",
                                    "nmt_reproduce.sh"])
def test_a_full_script_run_is_a_reference_run(script, tmp_path):
    """Every experiment of a full run gets --reference (records into results/, refused from a tree with
    uncommitted changes); ALLOW_DIRTY=1 adds --allow-dirty; --quick never asks for results/."""
    runs = run_script_copy(script, tmp_path)
    assert runs and all(run[0] == "unset" and "--reference" in run and "--allow-dirty" not in run for run in runs)
    runs = run_script_copy(script, tmp_path / "dirty", ALLOW_DIRTY="1")
    assert all("--reference" in run and "--allow-dirty" in run for run in runs)
    runs = run_script_copy(script, tmp_path / "quick", "--quick")
    assert all("--quick" in run and "--reference" not in run for run in runs)
    quick_paths = [arg for run in runs for arg in run if "/" in arg and not arg.startswith(("artifacts/", "/"))]
    assert quick_paths and all(arg.startswith("runs/") for arg in quick_paths), quick_paths  # no checkpoints/


@pytest.mark.parametrize("script", ["vae_reproduce.sh", "diffusion_reproduce.sh", "guidance_reproduce.sh"])
def test_another_seed_never_writes_over_the_reference_records(script, tmp_path):
    """SEED=3: the records go to results/seed3 (a results folder of its own, which `make report` names and
    refuses), the checkpoints to checkpoints/seed3, so neither the reference records nor the reference
    checkpoints (a resumed training!) are touched."""
    runs = run_script_copy(script, tmp_path, SEED="3")
    assert runs and all(run[0] == "results/seed3" and "--reference" in run for run in runs)
    folders = [arg for run in runs for arg in run if arg.startswith("checkpoints")]
    assert folders and all(arg.startswith("checkpoints/seed3/") for arg in folders), folders
    runs = run_script_copy(script, tmp_path / "reference", SEED="0")
    assert all(run[0] == "unset" for run in runs)


def test_the_prenorm_script_is_a_reference_run_unless_quick(tmp_path):
    assert run_script_copy("prenorm_study.sh", tmp_path, "--lrs", "1e-3") == [
        ["unset", "-m", "nlp_experiments.prenorm.study", "--lrs", "1e-3", "--reference"]]
    assert run_script_copy("prenorm_study.sh", tmp_path / "dirty", ALLOW_DIRTY="1")[0][-2:] == [
        "--reference", "--allow-dirty"]
    assert "--reference" not in run_script_copy("prenorm_study.sh", tmp_path / "quick", "--quick")[0]


def test_diffusion_ship_and_resume(tmp_path):
    """SHIP=v<N> ships the DDPM in the dtype the stored-precision check chose and evaluates the shipped folder;
    RESUME=1 gives the evaluations --resume (and the training --resume latest once it has a checkpoint)."""
    runs = [run[1:] for run in run_script_copy("diffusion_reproduce.sh", tmp_path, SHIP="v9", RESUME="1")
            if run[1] == "-m"]
    modules = [run[1] for run in runs]
    assert modules.index("vae_diffusion.diffusion.stored_precision") < modules.index("vae_diffusion.ship") < \
        modules.index("vae_diffusion.diffusion.evaluate")
    ship = runs[modules.index("vae_diffusion.ship")]
    assert ship[ship.index("--version") + 1] == "v9" and ship[ship.index("--model") + 1] == "ddpm"
    for module in ("evaluate", "scheduler_study", "scheduler_ablation"):
        run = runs[modules.index(f"vae_diffusion.diffusion.{module}")]
        assert run[run.index("--model") + 1] == "artifacts/ddpm_mnist/v9", run
        assert ("--resume" in run) == (module != "scheduler_ablation"), run
    train = runs[modules.index("vae_diffusion.diffusion.train")]
    assert "--resume" not in train  # nothing to resume from yet
    assert "--resume" not in " ".join(" ".join(run) for run in
                                      run_script_copy("diffusion_reproduce.sh", tmp_path / "fresh"))
