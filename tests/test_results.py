import json
import math

import numpy as np
import pytest

from mvadl.plotting import new_figure, save_figure
from mvadl.results import read_results, to_jsonable, write_results


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))


def test_write_results_records_provenance(tmp_path):
    import argparse
    config = argparse.Namespace(lr=1e-3, data_dir=tmp_path, widths=(400, 400))
    path = write_results("vae", "metrics", config=config, metrics={"test_elbo": np.float32(-90.5)},
                         seed=3, wall_time_s=12.3456, device="cpu (2 cores)")
    assert path == tmp_path / "results" / "vae" / "metrics.json"
    record = read_results("vae", "metrics")
    assert record["test_elbo"] == pytest.approx(-90.5) and record["metrics"]["test_elbo"] == record["test_elbo"]
    assert record["config"] == {"lr": 1e-3, "data_dir": str(tmp_path), "widths": [400, 400]}
    assert record["seed"] == 3 and record["wall_time_s"] == 12.346 and record["device"] == "cpu (2 cores)"
    assert len(record["git_revision"].split("-")[0]) == 40
    assert not list(path.parent.glob(".*.tmp"))


def test_non_finite_metrics_become_null():
    assert to_jsonable({"a": math.nan, "b": [np.float64(math.inf), 1]}) == {"a": None, "b": [None, 1]}
    json.dumps(to_jsonable({"x": np.arange(3)}), allow_nan=False)


def test_reserved_metric_names_are_refused():
    with pytest.raises(ValueError, match="clash with reserved result keys"):
        write_results("p", "n", config={}, metrics={"seed": 1}, seed=0, wall_time_s=0, device="cpu")


def test_figure_is_saved_as_png(tmp_path):
    fig, ax = new_figure()
    ax.plot([0, 1], [1, 0], label="line")
    ax.set_xlabel("x")
    path = save_figure(fig, tmp_path / "sub" / "fig.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_changed_results_file_does_not_make_the_revision_dirty(tmp_path):
    import subprocess

    from mvadl.results import git_revision

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "a.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    clean = git_revision(tmp_path)
    assert len(clean) == 40
    (tmp_path / "results" / "a.json").write_text('{"new": 1}')  # what a sibling run just wrote
    assert git_revision(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_revision(tmp_path) == clean + "-dirty"


def test_git_revision_can_be_given(monkeypatch):
    from mvadl.results import git_revision
    monkeypatch.setenv("GIT_REVISION", "abc1234")
    assert git_revision() == "abc1234"


def test_reference_run_without_revision_is_refused(monkeypatch, tmp_path):
    import mvadl.results as results

    monkeypatch.setattr(results, "git_revision", lambda: "unknown")
    monkeypatch.delenv("RESULTS_DIR")
    monkeypatch.setattr(results, "REPO_ROOT", tmp_path)
    with pytest.raises(results.UnknownRevisionError, match=r"results/vae/metrics\.json: the git revision"):
        write_results("vae", "metrics", config={}, metrics={"x": 1}, seed=0, wall_time_s=0, device="cpu")
    assert not (tmp_path / "results").exists()
    path = write_results("vae", "m", config={}, metrics={"x": 1}, seed=0, wall_time_s=0, device="cpu", quick=True)
    assert read_results("vae", "m")["git_revision"] == "unknown" and path.is_file()


def test_a_record_names_the_revision_its_run_started_from(monkeypatch, tmp_path):
    from mvadl.runner import Context, ExperimentConfig

    monkeypatch.setenv("GIT_REVISION", "started-here")
    ctx = Context(config=ExperimentConfig(), device="cpu")
    monkeypatch.setenv("GIT_REVISION", "edited-while-it-ran")  # a long run: the tree moved on meanwhile
    path = ctx.record("toy", "metrics", {"x": 1})
    assert json.loads(path.read_text())["git_revision"] == "started-here"
