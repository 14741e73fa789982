"""End-to-end checks of the VAE training and naive-MC CLIs on tiny generated MNIST (CPU, seconds)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mvadl import REPO_ROOT
from mvadl.data import DataError
from vae_diffusion.vae import naive_mc, train

REQUIRED_KEYS = {"z_dim", "epochs", "binarization", "test_elbo", "test_nll_is", "is_samples",
                 "seconds_per_epoch", "device"}


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))


def tiny_args(data_root: Path, tmp_path: Path, *extra: str):
    return train.parse_args([
        "--data-dir", str(data_root), "--epochs", "3", "--batch-size", "4", "--hidden", "16", "--z-dim", "3",
        "--is-samples", "20", "--sample-epochs", "0", "2", "--device", "cpu", "--seed", "5",
        "--train-subset", "12", "--test-subset", "5",
        "--checkpoint-dir", str(tmp_path / "ckpt"), "--log-dir", str(tmp_path / "runs"), *extra])


def test_resume_reproduces_an_uninterrupted_run(tiny_mnist, tmp_path):
    full = train.main(tiny_args(tiny_mnist, tmp_path / "a", "--no-figures"))
    assert train.main(tiny_args(tiny_mnist, tmp_path / "b", "--no-figures", "--stop-after", "2")) == {}
    state = torch.load(tmp_path / "b" / "ckpt" / "metrics.pt", weights_only=True)
    assert state["epoch"] == 2 and sorted(state["sample_grids"]) == [0, 2]
    resumed = train.main(tiny_args(tiny_mnist, tmp_path / "b", "--no-figures", "--resume"))
    for key in ("test_elbo", "test_nll_is", "train_elbo", "test_kl"):
        assert resumed[key] == full[key], key
    assert [h["train_elbo"] for h in resumed["history"]] == [h["train_elbo"] for h in full["history"]]


def test_resume_refuses_other_settings_and_missing_checkpoint(tiny_mnist, tmp_path):
    with pytest.raises(FileNotFoundError, match="metrics.pt"):
        train.main(tiny_args(tiny_mnist, tmp_path, "--resume"))
    train.main(tiny_args(tiny_mnist, tmp_path, "--no-figures", "--stop-after", "1"))
    with pytest.raises(SystemExit, match="other settings"):
        train.main(tiny_args(tiny_mnist, tmp_path, "--resume", "--lr", "0.5"))


def test_iwae_objective_runs(tiny_mnist, tmp_path):
    metrics = train.main(tiny_args(tiny_mnist, tmp_path, "--no-figures", "--iw-samples", "4", "--name", "iwae_k4"))
    assert metrics["iw_samples"] == 4 and (tmp_path / "results" / "vae" / "iwae_k4.json").is_file()


def test_missing_data_names_the_file(tmp_path):
    with pytest.raises(DataError, match="mnist"):
        train.main(tiny_args(tmp_path / "nowhere", tmp_path))


def test_quick_cli_and_naive_mc_smoke(tiny_mnist, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "RESULTS_DIR": str(tmp_path / "results")}
    help_text = subprocess.run([sys.executable, "-m", "vae_diffusion.vae.train", "--help"], env=env,
                               capture_output=True, text=True, check=True).stdout
    assert "--resume" in help_text and "--iw-samples" in help_text
    subprocess.run([sys.executable, "-m", "vae_diffusion.vae.train", "--quick", "--device", "cpu",
                    "--data-dir", str(tiny_mnist), "--checkpoint-dir", str(tmp_path / "ckpt"),
                    "--log-dir", str(tmp_path / "runs")], env=env, check=True, cwd=tmp_path, capture_output=True)
    out = tmp_path / "results" / "vae"
    record = json.loads((out / "metrics.json").read_text())
    assert REQUIRED_KEYS <= set(record)
    assert record["test_elbo"] < 0 < record["test_nll_is"] and record["test_nll_is"] <= -record["test_elbo"] + 5
    for name in ("samples_epoch_000.png", "samples_epoch_002.png", "samples_over_training.png",
                 "reconstructions.png", "training_curves.png", "arrays.npz"):
        assert (out / name).stat().st_size > 0, name
    assert list((tmp_path / "runs" / "metrics").glob("events.out.tfevents.*"))
    records = naive_mc.main(naive_mc.parse_args([
        "--checkpoints", str(tmp_path / "ckpt" / "metrics.pt"), "--data-dir", str(tiny_mnist), "--device", "cpu",
        "--num-images", "3", "--max-samples", "50", "--repeats", "2", "--is-samples", "20", "--chunk-size", "25"]))
    assert records[0]["sample_counts"] == [1, 2, 5, 10, 20, 50] and len(records[0]["bias_mean"]) == 6
    assert (out / "naive_mc.png").is_file() and (out / "naive_mc.json").is_file()


@pytest.mark.slow
def test_reproduce_script_quick(tiny_mnist, tmp_path):
    env = {**os.environ, "PY": sys.executable, "DATA_DIR": str(tiny_mnist), "DEVICE": "cpu",
           "RESULTS_DIR": str(tmp_path / "results"), "CKPT_DIR": str(tmp_path / "ckpt"),
           "LOG_DIR": str(tmp_path / "runs"), "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / "vae_reproduce.sh"), "--quick"], env=env, check=True,
                   cwd=REPO_ROOT)
    assert (tmp_path / "results" / "vae" / "naive_mc.png").is_file()
