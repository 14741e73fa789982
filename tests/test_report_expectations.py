"""The report refuses, in one line naming the record and the setting, a record made otherwise than its text says
(mvadl/report/expectations.py), and a results folder of another seed."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mvadl import REPO_ROOT
from mvadl.report.__main__ import ReportConfig
from mvadl.report.__main__ import run as report_run
from mvadl.report.expectations import DEVICE_STARTS, EXPECTED, SAME_DEVICE, misfits
from mvadl.runner import main

RESULTS = REPO_ROOT / "results"


@pytest.fixture
def results_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "results"
    shutil.copytree(RESULTS, dst, ignore=shutil.ignore_patterns("*.png", "*.npz", "*.safetensors", "hyps"))
    return dst


def edit(path: Path, change) -> None:
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


def report(results: Path, tmp_path: Path) -> int:
    return main(report_run, ReportConfig, ["--results", str(results), "--out", str(tmp_path / "out"),
                                           "--markdown-only"])


def test_the_committed_records_fit_their_text():
    assert misfits(RESULTS) == []
    names = set(EXPECTED) | {n for group in SAME_DEVICE for n in group} | set(DEVICE_STARTS)
    assert all((RESULTS / f"{name}.json").is_file() for name in names), "the table names records that do not exist"


def test_a_short_development_run_s_record_stops_the_report_in_one_line(results_copy, tmp_path, capsys):
    """The record `python -m vae_diffusion.diffusion.train --epochs 1 --max-steps-per-epoch 12` wrote before runs
    stopped writing into results/ (and on a CPU, while the text says every diffusion run shared one GPU)."""
    def shortened(record):
        record["config"].update(epochs=1, max_steps_per_epoch=12)
        record["device"] = "cpu (2 cores, x86_64)"

    edit(results_copy / "diffusion/ddpm_training.json", shortened)
    assert report(results_copy, tmp_path) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and "diffusion/ddpm_training.json: config.epochs is 1" in err
    assert "(and 2 more)" in err and not (tmp_path / "out").exists()
    found = misfits(results_copy)
    assert any("config.max_steps_per_epoch is 12" in line for line in found)
    assert any("device is 'cpu (2 cores, x86_64)', but the text says it ran on the device of" in line
               for line in found)


@pytest.mark.parametrize(("name", "change", "message"), [
    ("vae/metrics.json", lambda r: r.update(seed=3), "vae/metrics.json: seed is 3"),
    ("guidance/training.json", lambda r: r["config"].update(quick=True), "a --quick run's record"),
    ("diffusion/scheduler_ablation.json", lambda r: r.update(device="NVIDIA H100 80GB HBM3"), "ran on the CPU"),
    ("nmt/training_direct.json", lambda r: r["config"].update(max_update=3200), "config.max_update is 3200"),
])
def test_each_setting_the_text_states_is_checked(results_copy, name, change, message):
    edit(results_copy / name, change)
    assert [line for line in misfits(results_copy) if message in line], misfits(results_copy)


def test_the_records_of_another_seed_are_named(results_copy, tmp_path, capsys):
    """`make reproduce SEED=3` records the image parts into results/seed3/: the report names the folder."""
    shutil.copytree(results_copy / "vae", results_copy / "seed3" / "vae")
    assert report(results_copy, tmp_path) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "{seed3}: records of another seed" in err and "\n" not in err
