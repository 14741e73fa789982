"""The shared runner: options from the config dataclass, --quick overrides, seeds, the error boundary."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import ClassVar, Literal

import pytest

import mvadl.results
from mvadl.data import DataError
from mvadl.results import read_path, reference_refusal, results_dir
from mvadl.runner import Context, ExperimentConfig, main, option, parse_config
from mvadl.seeding import derive_seed
from tests.conftest import usage_error


@dataclass
class ToyConfig(ExperimentConfig):
    """Toy experiment.

    Longer description.
    """

    epochs: int = option(80, "total epochs")
    hidden: list[int] = option([1024, 1024], "hidden widths")
    lr: float = option(1e-3, "learning rate")
    name: Literal["metrics", "other"] = option("metrics", "results name")
    subset: int | None = option(None, "first N images only")
    gamma: float | None = option(5.0, "min-SNR weighting (None: uniform)")
    figures: bool = option(True, "draw figures")
    QUICK: ClassVar[dict] = {"epochs": 2, "hidden": [8]}


def test_options_come_from_the_dataclass(capsys):
    config = parse_config(ToyConfig, ["--epochs", "5", "--hidden", "3", "4", "--no-figures", "--subset", "7"])
    assert config == ToyConfig(epochs=5, hidden=[3, 4], figures=False, subset=7)
    assert parse_config(ToyConfig, []) == ToyConfig()
    assert "--name" in usage_error(capsys, lambda: parse_config(ToyConfig, ["--name", "nope"]))
    assert "--epochs" in usage_error(capsys, lambda: parse_config(ToyConfig, ["--epochs", "many"]))


def test_optional_options_accept_none(capsys):
    """``X | None`` parses ``None`` (the spelling --help shows), not only X; --snr-gamma none was refused once."""
    assert parse_config(ToyConfig, ["--gamma", "None"]).gamma is None
    assert parse_config(ToyConfig, ["--gamma", "2.5", "--subset", "None"]) == ToyConfig(gamma=2.5)
    with pytest.raises(SystemExit):
        parse_config(ToyConfig, ["--help"])
    assert "--gamma {None}|FLOAT" in capsys.readouterr().out


def test_quick_overrides_defaults_but_not_explicit_options():
    assert parse_config(ToyConfig, ["--quick"]) == ToyConfig(quick=True, epochs=2, hidden=[8])
    assert parse_config(ToyConfig, ["--quick", "--epochs", "3"]).epochs == 3


def test_help_lists_defaults(capsys):
    with pytest.raises(SystemExit):
        parse_config(ToyConfig, ["--help"], prog="toy")
    out = capsys.readouterr().out
    assert "usage: toy" in out and "Longer description." in out
    for shown in ("--epochs INT", "total epochs (default: 80)", "(default: 1024 1024)", "--figures, --no-figures",
                  "--name {metrics,other}", "(default: None)"):
        assert shown in out, shown


def test_main_runs_with_context_and_maps_data_errors(capsys):
    seen = {}

    def run(config: ToyConfig, ctx: Context):
        seen["device"], seen["seed"] = ctx.device.type, ctx.seed("epoch", 1)
        return 3

    assert main(run, ToyConfig, ["--seed", "4", "--device", "cpu"]) == 3
    assert seen == {"device": "cpu", "seed": derive_seed(4, "epoch", 1)}

    def broken(config, ctx):
        raise DataError("data/mnist: MNIST folder not found")

    assert main(broken, ToyConfig, []) == 1
    assert capsys.readouterr().err == "error: data/mnist: MNIST folder not found\n"


def test_bugs_keep_their_traceback():
    def buggy(config, ctx):
        raise FileNotFoundError("a bug, not bad input")

    with pytest.raises(FileNotFoundError):
        main(buggy, ToyConfig, [])


def test_derive_seed_is_stable_and_separates_streams():
    assert derive_seed(5) == 5
    assert derive_seed(0, "epoch", 1) == derive_seed(0, "epoch", 1) != derive_seed(0, "epoch", 2)
    assert derive_seed(0, "epoch", 1) != derive_seed(1, "epoch", 1)
    assert derive_seed(0, "epoch", 1) == 3489776262458619241  # fixed forever: resumed runs rely on it
    with pytest.raises(TypeError):
        derive_seed(0, 1.5)


@dataclass
class CheckedConfig(ExperimentConfig):
    epochs: int = option(1, "epochs")

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"--epochs must be >= 1, got {self.epochs}")


def test_invalid_values_are_one_usage_error(capsys):
    error = usage_error(capsys, lambda: parse_config(CheckedConfig, ["--epochs", "0"], prog="toy"))
    assert "--epochs must be >= 1, got 0" in error and "toy --help" in error
    assert parse_config(CheckedConfig, ["--epochs", "2"]).epochs == 2


@dataclass
class QuickChecked(CheckedConfig):
    """--quick values count as given: __post_init__ judges the final config, not the plain defaults."""

    epochs: int = option(0, "epochs")
    QUICK: ClassVar[dict] = {"epochs": 1}


def test_quick_values_are_judged_with_the_options_given(capsys):
    assert parse_config(QuickChecked, ["--quick"]).epochs == 1
    assert parse_config(QuickChecked, ["--quick", "--no-quick", "--epochs", "3"]) == QuickChecked(epochs=3)
    assert "--epochs must be >= 1" in usage_error(capsys, lambda: parse_config(QuickChecked, []))
    assert "--epochs must be >= 1" in usage_error(capsys, lambda: parse_config(QuickChecked, ["--quick", "--epochs",
                                                                                              "0"]))


@pytest.fixture
def repo_roots(tmp_path, monkeypatch):
    """mvadl.results' folders moved into ``tmp_path`` (a repository with a clean revision, no $RESULTS_DIR)."""
    monkeypatch.delenv("RESULTS_DIR", raising=False)
    monkeypatch.setenv("GIT_REVISION", "abc1234")
    monkeypatch.setattr(mvadl.results, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(mvadl.results, "QUICK_RESULTS_DIR", tmp_path / "runs/quick/results")
    monkeypatch.setattr(mvadl.results, "DEVELOPMENT_RESULTS_DIR", tmp_path / "runs/results")
    return tmp_path


def test_only_a_reference_run_writes_results_and_every_run_says_where(repo_roots, monkeypatch, capsys):
    """A --quick run's records (ctx.record) and every other output under results_dir(), from any thread, go to
    runs/quick/results; a development run's to runs/results; only a --reference run's to results/; $RESULTS_DIR
    wins over all. Nothing renames them, and the run's last line names the folder."""
    tmp_path, seen = repo_roots, []

    def run(config: ToyConfig, ctx: Context):
        with ThreadPoolExecutor(1) as pool:  # the pre-norm study records its runs from worker threads
            seen.append(pool.submit(results_dir).result())
        return ctx.record("toy", "metrics", {"epochs": config.epochs})

    def epochs(where: str) -> int:
        return json.loads((tmp_path / where / "toy/metrics.json").read_text())["epochs"]

    assert main(run, ToyConfig, ["--quick"]) == 0
    assert epochs("runs/quick/results") == 2 and seen == [tmp_path / "runs/quick/results"]
    assert capsys.readouterr().err.splitlines()[-1].endswith("runs/quick/results/toy (a --quick run)")
    assert main(run, ToyConfig, ["--epochs", "3"]) == 0
    assert epochs("runs/results") == 3 and seen[1] == tmp_path / "runs/results"
    assert "runs/results/toy (a development run; --reference" in capsys.readouterr().err.splitlines()[-1]
    assert not (tmp_path / "results").exists() and results_dir() == tmp_path / "results"  # outside a run
    assert main(run, ToyConfig, ["--epochs", "4", "--reference"]) == 0
    assert epochs("results") == 4 and epochs("runs/results") == 3 and epochs("runs/quick/results") == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("results/toy (a reference run)")
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "elsewhere"))
    assert main(run, ToyConfig, ["--quick"]) == 0
    assert (tmp_path / "elsewhere/toy/metrics.json").is_file() and seen[3] == tmp_path / "elsewhere"


def test_a_reference_run_refuses_uncommitted_changes_in_one_line(repo_roots, monkeypatch, capsys):
    ran = []

    def run(config: ToyConfig, ctx: Context):
        ran.append(config)
        return ctx.record("toy", "metrics", {"epochs": config.epochs})

    monkeypatch.setenv("GIT_REVISION", "abc1234-dirty")
    assert main(run, ToyConfig, ["--reference"]) == 1 and not ran
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: a reference run starts from a commit") and "--allow-dirty" in err
    assert not (repo_roots / "results").exists()
    assert main(run, ToyConfig, []) == 0 and len(ran) == 1  # a development run may start from any tree
    assert main(run, ToyConfig, ["--reference", "--allow-dirty"]) == 0
    assert json.loads((repo_roots / "results/toy/metrics.json").read_text())["git_revision"] == "abc1234-dirty"
    assert "GIT_REVISION=<commit>" in reference_refusal("unknown", allow_dirty=True)  # no .git: never
    assert reference_refusal("abc1234") is None
    assert main(run, ToyConfig, ["--reference", "--quick"]) == 2 and len(ran) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_a_development_run_reads_committed_records_until_it_has_its_own(repo_roots):
    """read_path: the run's own folder when it holds the file; a development run falls back to results/, a quick
    run never does (it reads only what quick runs wrote)."""
    committed = repo_roots / "results/nmt/hyps"
    committed.mkdir(parents=True)
    with mvadl.results.recording_run("development"):
        assert read_path("nmt", "hyps") == committed
        (repo_roots / "runs/results/nmt/hyps").mkdir(parents=True)
        assert read_path("nmt", "hyps") == repo_roots / "runs/results/nmt/hyps"
    with mvadl.results.recording_run("quick"):
        assert read_path("nmt", "hyps") == repo_roots / "runs/quick/results/nmt/hyps"
    assert read_path("nmt", "hyps") == committed  # outside a run: the committed records


def test_a_record_of_part_of_a_run_has_that_part_s_seed_device_and_time(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    ctx = Context(config=ToyConfig(seed=4), device="cpu")
    whole = json.loads(ctx.record("toy", "whole", {"x": 1}).read_text())
    assert whole["seed"] == 4 and whole["device"].startswith("cpu (") and whole["config"]["epochs"] == 80
    part = json.loads(ctx.record("toy", "part", {"x": 1}, config={"run": 2}, seed=2, device="NVIDIA H100",
                                 wall_time_s=60.0).read_text())
    assert (part["seed"], part["device"], part["wall_time_s"], part["config"]) == (2, "NVIDIA H100", 60.0, {"run": 2})
    assert part["git_revision"] == whole["git_revision"] == ctx.revision
