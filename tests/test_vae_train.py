"""The VAE's training, resume, IWAE log and entry points on tiny generated MNIST (CPU, seconds)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mvadl import REPO_ROOT
from mvadl.data import DataError
from mvadl.runner import Context, main, parse_config
from mvadl.seeding import seed_everything
from tests.conftest import usage_error
from tests.runner_helpers import png_size
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.vae import figures, losses, naive_mc, train, training
from vae_diffusion.vae.data import binarize
from vae_diffusion.vae.model import VAE

REQUIRED_KEYS = {"z_dim", "epochs", "binarization", "test_elbo", "test_nll_is", "is_samples",
                 "seconds_per_epoch", "device", "git_revision"}


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))


def tiny_argv(data_root: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["--data-dir", str(data_root), "--epochs", "3", "--batch-size", "4", "--hidden", "16", "--z-dim", "3",
            "--is-samples", "20", "--sample-epochs", "0", "2", "--device", "cpu", "--seed", "5",
            "--train-subset", "12", "--test-subset", "5",
            "--checkpoint-dir", str(tmp_path / "ckpt"), "--log-dir", str(tmp_path / "runs"), *extra]


def train_run(*argv: str) -> dict:
    """What ``python -m vae_diffusion.vae.train ARGV`` does, returning the metrics instead of an exit status."""
    config = parse_config(train.TrainConfig, list(argv))
    seed_everything(config.seed)
    return train.run(config, Context(config=config, device=torch.device("cpu")))


def test_resume_reproduces_an_uninterrupted_run(tiny_mnist, tmp_path):
    full = train_run(*tiny_argv(tiny_mnist, tmp_path / "a", "--no-figures"))
    assert train_run(*tiny_argv(tiny_mnist, tmp_path / "b", "--no-figures", "--stop-after", "2")) == {}
    state = torch.load(tmp_path / "b" / "ckpt" / "metrics.pt", weights_only=True)
    assert state["epoch"] == 2 and sorted(state["sample_grids"]) == [0, 2]
    resumed = train_run(*tiny_argv(tiny_mnist, tmp_path / "b", "--no-figures", "--resume"))

    drop_times = lambda history: [{k: v for k, v in h.items() if k != "train_seconds"} for h in history]
    assert drop_times(resumed["history"]) == drop_times(full["history"])
    for key in ("test_elbo", "test_nll_is", "train_elbo", "test_kl", "active_units"):
        assert resumed[key] == full[key], key
    weights = [torch.load(tmp_path / run / "ckpt" / "metrics.pt", weights_only=True) for run in ("a", "b")]
    assert weights[0]["epoch"] == weights[1]["epoch"] == 3
    for name, tensor in weights[0]["model"].items():
        assert torch.equal(tensor, weights[1]["model"][name]), name
    for epoch, grid in weights[0]["sample_grids"].items():
        assert torch.equal(grid, weights[1]["sample_grids"][epoch]), epoch
    # another seed trains another model: the comparison above can fail
    other = train_run(*tiny_argv(tiny_mnist, tmp_path / "c", "--no-figures", "--seed", "6"))
    assert other["history"][0]["train_elbo"] != full["history"][0]["train_elbo"]


def test_resume_refuses_other_settings_old_formats_and_missing_checkpoints(tiny_mnist, tmp_path):
    with pytest.raises(DataError, match="metrics.pt: no checkpoint"):
        train_run(*tiny_argv(tiny_mnist, tmp_path, "--resume"))
    train_run(*tiny_argv(tiny_mnist, tmp_path, "--no-figures", "--stop-after", "1"))
    with pytest.raises(DataError, match="other settings.*'lr'"):
        train_run(*tiny_argv(tiny_mnist, tmp_path, "--resume", "--lr", "0.5"))
    with pytest.raises(DataError, match="other settings.*'z_dim': 3"):
        train_run(*tiny_argv(tiny_mnist, tmp_path, "--resume", "--z-dim", "4"))
    path = tmp_path / "ckpt" / "metrics.pt"
    state = torch.load(path, weights_only=True)
    del state["format"]
    torch.save(state, path)
    with pytest.raises(DataError, match="format 1"):
        train_run(*tiny_argv(tiny_mnist, tmp_path, "--resume"))


@pytest.mark.parametrize("iw_samples", [1, 5])
def test_one_epoch_logs_the_bound_and_the_elbo_terms_of_its_draws(iw_samples):
    """The logged values are the definitions evaluated on the epoch's own draws (lr 0: the model stays put)."""
    torch.manual_seed(0)
    model = VAE(z_dim=3, hidden=[8])
    probabilities = torch.rand(6, 784, generator=torch.Generator().manual_seed(1))
    generators = lambda: (torch.Generator().manual_seed(2), torch.Generator().manual_seed(3))
    shuffle, noise = generators()
    record = training.train_epoch(model, torch.optim.SGD(model.parameters(), lr=0.0), probabilities, batch_size=6,
                                  iw_samples=iw_samples, shuffle_generator=shuffle, noise_generator=noise)
    shuffle, noise = generators()
    x = binarize(probabilities[torch.randperm(6, generator=shuffle)], noise)
    with torch.no_grad():
        if iw_samples == 1:
            recon, kl = model.elbo_terms(x, noise)
        else:
            terms = model.importance_terms(x, iw_samples, noise)
            recon, kl = terms.log_px_given_z.mean(0), terms.kl
            bound = losses.log_mean_exp(terms.log_weights, 0).mean().item()
            assert record["train_iwae_bound"] == pytest.approx(bound, rel=1e-5)
    assert (iw_samples > 1) == ("train_iwae_bound" in record)
    assert record["train_recon_log_likelihood"] == pytest.approx(recon.mean().item(), rel=1e-5)
    assert record["train_kl"] == pytest.approx(kl.mean().item(), rel=1e-5) and record["train_kl"] > 0
    assert record["train_elbo"] == pytest.approx(record["train_recon_log_likelihood"] - record["train_kl"])


def test_iwae_run_records_its_bound(tiny_mnist, tmp_path):
    metrics = train_run(*tiny_argv(tiny_mnist, tmp_path, "--no-figures", "--iw-samples", "4", "--name", "iwae_k4"))
    record = json.loads((tmp_path / "results" / "vae" / "iwae_k4.json").read_text())
    assert metrics["iw_samples"] == record["iw_samples"] == 4
    for h in record["history"]:
        assert h["train_kl"] > 0 and h["train_recon_log_likelihood"] < 0 and "train_iwae_bound" in h
    assert record["train_iwae_bound"] == record["history"][-1]["train_iwae_bound"]


def test_missing_data_names_the_file(tmp_path):
    with pytest.raises(DataError, match="mnist"):
        train_run(*tiny_argv(tmp_path / "nowhere", tmp_path))


def test_options_and_quick_size(capsys):
    quick = parse_config(train.TrainConfig, ["--quick"])
    assert (quick.epochs, quick.hidden, quick.is_samples, quick.train_subset, quick.test_subset) == (
        2, [256, 256], 100, 2000, 500)
    assert parse_config(train.TrainConfig, ["--quick", "--train-subset", "7"]).train_subset == 7
    default = parse_config(train.TrainConfig, [])
    assert (default.epochs, default.z_dim, default.hidden, default.sample_epochs) == (80, 20, [1024, 1024], [0, 10, 80])
    assert "--iw-samples" in usage_error(capsys, lambda: parse_config(train.TrainConfig, ["--iw-samples", "0"]))


def test_quick_run_naive_mc_and_figures_through_the_runner(tiny_mnist, tmp_path, capsys):
    common = ["--device", "cpu", "--data-dir", str(tiny_mnist)]
    assert main(train.run, train.TrainConfig, ["--quick", *common, "--checkpoint-dir", str(tmp_path / "ckpt"),
                                               "--log-dir", str(tmp_path / "runs")]) == 0
    out = tmp_path / "results" / "vae"
    record = json.loads((out / "metrics.json").read_text())
    assert REQUIRED_KEYS <= set(record) and record["config"]["quick"] is True
    assert record["test_elbo"] < 0 < record["test_nll_is"] and record["test_nll_is"] <= -record["test_elbo"] + 5
    pictures = ("samples_epoch_000.png", "samples_epoch_002.png", "samples_over_training.png",
                "reconstructions.png", "training_curves.png")
    for name in pictures:
        assert min(png_size(out / name)) > 100, name
    assert (out / "arrays.npz").stat().st_size > 0
    read = json.loads((out / "sample_classes.json").read_text())
    assert sorted(read["metrics"]["epochs"]) == ["2"]  # the grey grid before training is not read
    assert len(read["metrics"]["epochs"]["2"]["labels"]) == 64
    assert all(0.1 <= c <= 1 for c in read["metrics"]["epochs"]["2"]["confidence"])
    assert read["config"]["arrays_sha256"] == sha256_file(out / "arrays.npz")
    assert list((tmp_path / "runs" / "metrics").glob("events.out.tfevents.*"))

    for name in pictures:
        (out / name).unlink()
    assert main(figures.run, figures.FiguresConfig, []) == 0
    assert all((out / name).is_file() for name in pictures)
    capsys.readouterr()
    assert main(figures.run, figures.FiguresConfig, ["--name", "nothing"]) == 1
    assert capsys.readouterr().err.strip().endswith("nothing.json: not found; train the run first "
                                                    "(python -m vae_diffusion.vae.train --name nothing)")

    assert main(naive_mc.run, naive_mc.NaiveMcConfig, [
        "--quick", *common, "--checkpoints", str(tmp_path / "ckpt" / "metrics.pt"), "--max-samples", "50",
        "--chunk-size", "25", "--is-samples", "20"]) == 0
    study = json.loads((out / "naive_mc.json").read_text())
    model = study["models"][0]
    assert study["num_images"] == 5 and model["z_dim"] == 20
    assert model["sample_counts"] == [1, 2, 5, 10, 20, 50] and len(model["bias_mean"]) == 6
    assert min(png_size(out / "naive_mc.png")) > 100
    capsys.readouterr()
    assert main(naive_mc.run, naive_mc.NaiveMcConfig, [*common, "--checkpoints", str(tmp_path / "none.pt")]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'none.pt'}: no checkpoint")


def test_entry_point_reports_missing_data_without_traceback(tmp_path):
    """The real ``python -m`` entry point: bad input is one line on stderr, exit status 1, nothing written."""
    proc = subprocess.run([sys.executable, "-m", "vae_diffusion.vae.train", "--quick", "--data-dir", str(tmp_path),
                           "--checkpoint-dir", str(tmp_path / "ck"), "--log-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, env={"RESULTS_DIR": str(tmp_path / "results"),
                                                               "PATH": "/usr/bin:/bin"}, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'mnist'}: MNIST folder not found; run scripts/get_data.sh or set DATA_DIR "
        "(or --data-dir) to a data root that contains it")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_reproduce_script_quick(tiny_mnist, tmp_path):
    env = {**os.environ, "PY": sys.executable, "DATA_DIR": str(tiny_mnist), "DEVICE": "cpu",
           "RESULTS_DIR": str(tmp_path / "results"), "CKPT_DIR": str(tmp_path / "ckpt"),
           "LOG_DIR": str(tmp_path / "runs"), "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / "vae_reproduce.sh"), "--quick"], env=env, check=True,
                   cwd=REPO_ROOT)
    out = tmp_path / "results" / "vae"
    assert (out / "naive_mc.png").is_file()
    for z in (2, 5, 20, 50):  # --quick sizes the Q2 models too (2 epochs, IS k=100)
        record = json.loads((out / f"naive_mc_z{z}.json").read_text())
        assert (record["z_dim"], record["epochs"], record["is_samples"]) == (z, 2, 100)
