"""The diffusion entry points in their --quick form, in-process through the shared runner, on tiny generated MNIST:
classifier, DDPM training with an exact resume, evaluation and the scheduler study."""

import pytest

from mvadl.data import DataError
from tests.runner_helpers import Interrupted, cli, interrupt_after_first_checkpoint, read, same_weights
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.pipelines import TRAINING_RECORD
from vae_diffusion.diffusion import classifier, evaluate, scheduler_study, train
from vae_diffusion.diffusion.evaluation import load_unconditional_pipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_quick_train_resumes_exactly_then_evaluate_and_study(tiny_mnist, tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("RESULTS_DIR", str(results))
    weights = tmp_path / "classifier.safetensors"
    assert cli(classifier, classifier.ClassifierConfig, "--quick", "--data-dir", tiny_mnist, "--weights", weights,
               "--output-dir", tmp_path / "clf") == 0
    record = read(results / "diffusion" / "classifier_quick.json")
    assert record["classifier_sha256"] == sha256_file(weights) and 0 <= record["test_accuracy"] <= 1

    # batches of 4 of the 12 training images: 3 steps per epoch, so the order of an epoch matters
    common = ["--quick", "--data-dir", tiny_mnist, "--batch-size", 4]
    assert cli(train, train.TrainConfig, *common, "--epochs", 2, "--output-dir", tmp_path / "whole") == 0
    uninterrupted = read(results / "diffusion" / "ddpm_training_quick.json")
    run_dir = tmp_path / "ddpm"
    with monkeypatch.context() as patch:
        interrupt_after_first_checkpoint(patch)
        with pytest.raises(Interrupted):
            cli(train, train.TrainConfig, *common, "--epochs", 2, "--output-dir", run_dir)
    assert (run_dir / "checkpoints" / "epoch-0001").is_dir() and not (run_dir / "pipeline").exists()
    assert any((run_dir / "logs").rglob("events.out.tfevents.*"))
    assert cli(train, train.TrainConfig, *common, "--epochs", 2, "--resume", "latest", "--output-dir", run_dir) == 0
    resumed = read(results / "diffusion" / "ddpm_training_quick.json")
    assert len(uninterrupted["epoch_losses"]) == 2  # one run, one record: the resumed run's covers both epochs
    assert resumed["epoch_losses"] == uninterrupted["epoch_losses"] and resumed["resumes"] == 1
    assert same_weights(run_dir / "checkpoints" / "epoch-0002" / "model.safetensors",
                        tmp_path / "whole" / "checkpoints" / "epoch-0002" / "model.safetensors")
    pipeline_dir = run_dir / "pipeline"
    assert same_weights(pipeline_dir / "unet" / "diffusion_pytorch_model.safetensors",  # the EMA weights
                        tmp_path / "whole" / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors")
    training = read(pipeline_dir / TRAINING_RECORD)
    assert training["images_per_epoch"] == 12 and training["images_seen"] == 24
    assert training["config"]["mixed_precision"] == "no" and training["config"]["epochs"] == 2

    model_args = ["--quick", "--data-dir", tiny_mnist, "--model", pipeline_dir, "--classifier", weights]
    assert cli(evaluate, evaluate.EvaluateConfig, *model_args) == 0
    metrics = read(results / "diffusion" / "ddpm_metrics_quick.json")["metrics"]
    for key in ("classifier_test_accuracy", "fid", "kid", "fid_real_vs_real", "kid_real_vs_real", "n_samples"):
        assert metrics[key] is not None
    assert metrics["n_samples"] == 5  # capped by the 5 tiny test images
    assert metrics["classifier_sha256"] == sha256_file(weights)
    assert 0 <= metrics["confident_fraction"] <= 1 and metrics["confidence_threshold"] == 0.9
    # the training cost comes from the pipeline folder, not from results/
    assert metrics["training_seconds"] == training["training_time_s"] and metrics["training_images_seen"] == 24
    assert (results / "diffusion" / "ddpm_samples_quick.png").stat().st_size > 0

    assert cli(scheduler_study, scheduler_study.SchedulerStudyConfig, *model_args) == 0
    study = read(results / "diffusion" / "scheduler_metrics_quick.json")
    assert {(c["scheduler"], c["steps"]) for c in study["cells"]} == {
        (name, steps) for name in ("Euler", "Euler Ancestral", "DPM-Solver++ 2M") for steps in (2, 4)}
    assert study["classifier_sha256"] == sha256_file(weights)
    for name in ("scheduler_grid_quick.png", "scheduler_convergence_quick.png", "scheduler_fid_quick.png"):
        assert (results / "diffusion" / name).stat().st_size > 0


def test_missing_inputs_are_one_line_errors(tiny_mnist, tmp_path, capsys):
    with pytest.raises(DataError, match="model_index.json"):
        load_unconditional_pipeline(tmp_path, "cpu")
    missing = tmp_path / "nowhere"
    assert cli(evaluate, evaluate.EvaluateConfig, "--quick", "--model", missing) == 1
    assert capsys.readouterr().err == f"error: {missing}: pipeline folder not found; train one with " \
                                      "python -m vae_diffusion.diffusion.train\n"
    assert cli(train, train.TrainConfig, "--quick", "--data-dir", tiny_mnist, "--resume", "latest",
               "--output-dir", tmp_path / "run") == 1
    assert "no epoch-N checkpoint to resume from" in capsys.readouterr().err
