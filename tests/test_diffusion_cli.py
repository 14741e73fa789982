"""End-to-end smoke test of the diffusion CLIs in their --quick form on tiny generated MNIST."""
import json

import pytest
from diffusers import DDPMPipeline

from vae_diffusion.diffusion import classifier, evaluate, scheduler_study, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


CLIS = (train, classifier, evaluate, scheduler_study)


@pytest.mark.parametrize("module", CLIS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_help(module, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--seed" in capsys.readouterr().out


def test_quick_pipeline_train_resume_evaluate_study(tiny_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    weights = tmp_path / "classifier.safetensors"
    classifier.main(classifier.parse_args(["--quick", "--data-dir", str(tiny_mnist), "--weights", str(weights),
                                           "--output-dir", str(tmp_path / "clf")]))
    assert weights.is_file()

    run_dir = tmp_path / "ddpm"
    common = ["--quick", "--data-dir", str(tiny_mnist), "--output-dir", str(run_dir)]
    pipeline_dir = train.main(train.parse_args(common))
    assert (run_dir / "checkpoints" / "epoch-0001").is_dir()
    assert any((run_dir / "logs").rglob("events.out.tfevents.*"))
    train.main(train.parse_args(common + ["--epochs", "2", "--resume", "latest"]))
    assert (run_dir / "checkpoints" / "epoch-0002").is_dir()
    record = json.loads((tmp_path / "results" / "diffusion" / "ddpm_training_quick.json").read_text())
    assert len(record["epoch_losses"]) == 1  # only epoch 2 ran after resuming from epoch 1
    pipeline = DDPMPipeline.from_pretrained(str(pipeline_dir))
    assert pipeline.unet.config.sample_size == 32

    model_args = ["--quick", "--data-dir", str(tiny_mnist), "--model", str(pipeline_dir),
                  "--classifier", str(weights)]
    metrics = json.loads(evaluate.main(evaluate.parse_args(model_args)).read_text())
    for key in ("classifier_test_accuracy", "fid", "kid", "fid_real_vs_real", "kid_real_vs_real", "n_samples"):
        assert key in metrics
    assert metrics["n_samples"] == 5  # capped by the 5 tiny test images
    assert 0 <= metrics["confident_fraction"] <= 1 and metrics["confidence_threshold"] == 0.9
    training = json.loads((tmp_path / "results" / "diffusion" / "ddpm_training_quick.json").read_text())
    assert metrics["training_seconds"] == training["metrics"]["training_time_s"]
    assert training["metrics"]["images_per_epoch"] == 12  # all 12 tiny training images (4 steps x batch >= 12)
    assert metrics["training_images_seen"] == training["config"]["epochs"] * 12

    study = json.loads(scheduler_study.main(scheduler_study.parse_args(model_args)).read_text())
    assert {(c["scheduler"], c["steps"]) for c in study["cells"]} == {
        (name, steps) for name in ("Euler", "Euler Ancestral", "DPM-Solver++ 2M") for steps in (2, 4)}
    for name in ("scheduler_grid_quick.png", "scheduler_convergence_quick.png", "scheduler_fid_quick.png"):
        assert (tmp_path / "results" / "diffusion" / name).stat().st_size > 0


def test_evaluate_rejects_a_folder_without_a_pipeline(tmp_path):
    with pytest.raises(FileNotFoundError, match="model_index.json"):
        evaluate.load_pipeline(tmp_path, "cpu")
