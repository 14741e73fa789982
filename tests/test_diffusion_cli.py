"""The diffusion entry points in their --quick form, in-process through the shared runner, on tiny generated MNIST:
classifier, DDPM training with an exact resume, evaluation and the scheduler study. Each run happens once per
module (fixtures); each test checks one thing, so one failure does not hide the others."""
import math
from types import SimpleNamespace

import pytest

from mvadl.data import DataError
from tests.conftest import write_tiny_mnist
from tests.runner_helpers import (
    cli,
    interrupt_after_first_mid_epoch_checkpoint,
    is_share_of,
    png_size,
    read,
    same_weights,
    train_whole_and_resumed,
)
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import MnistClassifier
from vae_diffusion.core.pipelines import TRAINING_RECORD
from vae_diffusion.core.precision import choose_mixed_precision
from vae_diffusion.diffusion import classifier, evaluate, scheduler_study, train
from vae_diffusion.diffusion.evaluation import load_unconditional_pipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TEST_IMAGES = 5  # of the tiny MNIST


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_tiny_mnist(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def trained_classifier(module_results, data, tmp_path_factory):
    root = tmp_path_factory.mktemp("classifier")
    weights = root / "classifier.safetensors"
    status = cli(classifier, classifier.ClassifierConfig, "--quick", "--data-dir", data, "--weights", weights,
                 "--output-dir", root / "run")
    return SimpleNamespace(status=status, weights=weights,
                           record=read(module_results / "diffusion" / "classifier.json"))


@pytest.fixture(scope="module")
def training(module_results, data, tmp_path_factory):
    """Two epochs uninterrupted, and the same run killed after epoch 1 and resumed."""
    root = tmp_path_factory.mktemp("ddpm")
    # batches of 4 of the 12 training images: 3 steps per epoch, so the order of an epoch matters
    common = ["--quick", "--data-dir", data, "--batch-size", 4, "--epochs", 2]
    return train_whole_and_resumed(train, train.TrainConfig, common, root,
                                   module_results / "diffusion" / "ddpm_training.json")


@pytest.fixture(scope="module")
def training_mid_epoch(module_results, data, tmp_path_factory):
    """The same two epochs with a checkpoint after every step, killed after the first (one step into epoch 1)."""
    common = ["--quick", "--data-dir", data, "--batch-size", 4, "--epochs", 2, "--checkpoint-minutes", 0]
    return train_whole_and_resumed(train, train.TrainConfig, common, tmp_path_factory.mktemp("ddpm_steps"),
                                   module_results / "diffusion" / "ddpm_training.json",
                                   interrupt=interrupt_after_first_mid_epoch_checkpoint)


@pytest.fixture(scope="module")
def model_args(data, training, trained_classifier):
    return ["--quick", "--data-dir", data, "--model", training.run / "pipeline", "--classifier",
            trained_classifier.weights]


def test_classifier_record(trained_classifier):
    record = trained_classifier.record
    assert trained_classifier.status == 0
    assert record["classifier_sha256"] == sha256_file(trained_classifier.weights)
    assert is_share_of(record["test_accuracy"], TEST_IMAGES)
    assert len(record["epoch_losses"]) == 1 and record["epoch_losses"][0] > 0  # --quick: one epoch of 4 steps
    assert record["parameters"] == sum(p.numel() for p in MnistClassifier().parameters())


def test_interrupted_training_leaves_its_checkpoint_and_logs(training):
    assert training.whole_status == 0 and training.interrupted
    checkpoints = [p for p in training.after_interruption if p.startswith("checkpoints/")]
    assert checkpoints == ["checkpoints/epoch-0001"]
    assert not any(p.startswith("pipeline/") for p in training.after_interruption)  # no pipeline before the end
    assert training.has_event_file


def test_resumed_training_equals_the_uninterrupted_run(training):
    assert training.resumed_status == 0
    uninterrupted, resumed = training.uninterrupted["metrics"], training.resumed["metrics"]
    assert len(uninterrupted["epoch_losses"]) == 2  # one run, one record: the resumed run's covers both epochs
    assert resumed["epoch_losses"] == uninterrupted["epoch_losses"]
    assert resumed["resumes"] == 1 and uninterrupted["resumes"] == 0
    assert same_weights(training.run / "checkpoints" / "epoch-0002" / "model.safetensors",
                        training.whole / "checkpoints" / "epoch-0002" / "model.safetensors")
    assert same_weights(training.run / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors",  # the EMA weights
                        training.whole / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors")


def test_a_run_killed_within_an_epoch_resumes_from_its_step_and_equals_the_uninterrupted_run(training_mid_epoch):
    runs = training_mid_epoch
    assert runs.interrupted and [p for p in runs.after_interruption if p.startswith("checkpoints/")] == [
        "checkpoints/epoch-0000-step-000001"]
    assert runs.resumed_status == 0 and runs.resumed["metrics"]["resumes"] == 1
    assert runs.resumed["metrics"]["epoch_losses"] == runs.uninterrupted["metrics"]["epoch_losses"]
    assert same_weights(runs.run / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors",
                        runs.whole / "pipeline" / "unet" / "diffusion_pytorch_model.safetensors")


def test_training_record_in_the_pipeline_folder(training):
    record = read(training.run / "pipeline" / TRAINING_RECORD)
    assert record["images_per_epoch"] == 12 and record["images_seen"] == 24
    assert record["config"]["mixed_precision"] == choose_mixed_precision(None, "cpu", "bf16")  # the CPU's choice
    assert record["config"]["channels_last"] and record["config"]["epochs"] == 2
    assert record["training_time_s"] == training.resumed["metrics"]["training_time_s"]


@pytest.fixture(scope="module")
def evaluation(module_results, model_args):
    status = cli(evaluate, evaluate.EvaluateConfig, *model_args)
    return SimpleNamespace(status=status, metrics=read(module_results / "diffusion" / "ddpm_metrics.json")[
        "metrics"], figure=module_results / "diffusion" / "ddpm_samples.png")


def test_evaluation_metrics(evaluation, trained_classifier, training):
    metrics = evaluation.metrics
    assert evaluation.status == 0
    assert metrics["n_samples"] == TEST_IMAGES  # capped by the tiny test split
    # the same weights on the same test images as the classifier's own record
    assert metrics["classifier_test_accuracy"] == trained_classifier.record["test_accuracy"]
    assert metrics["classifier_sha256"] == sha256_file(trained_classifier.weights)
    for key in ("fid", "kid_std", "fid_real_vs_real", "kid_real_vs_real_std"):
        assert math.isfinite(metrics[key]) and metrics[key] >= 0, key
    assert math.isfinite(metrics["kid"]) and math.isfinite(metrics["kid_real_vs_real"])
    assert sum(metrics["generated_class_histogram"]) == TEST_IMAGES
    assert metrics["model_evaluations"] == metrics["num_inference_steps"] == evaluate.EvaluateConfig.QUICK[
        "num_inference_steps"]
    assert is_share_of(metrics["confident_fraction"], TEST_IMAGES) and metrics["confidence_threshold"] == 0.9
    # the training cost comes from the pipeline folder, not from results/
    record = read(training.run / "pipeline" / TRAINING_RECORD)
    assert metrics["training_seconds"] == record["training_time_s"] and metrics["training_images_seen"] == 24
    # bf16 forward passes by default, the first images sampled again in fp32 from the same noise
    check = metrics["precision_check"]
    assert check["n_images"] == evaluate.EvaluateConfig.QUICK["precision_check"]
    assert 0 < check["rms_to_fp32"] < 0.5 and is_share_of(check["same_class_share"], check["n_images"])
    assert metrics["sampling"]["batches_sampled"] == 2 and metrics["sampling"]["resumes"] == 0  # 5 images, 4 a batch


def test_a_resumed_evaluation_reads_its_batches_back_and_records_the_same_numbers(evaluation, module_results,
                                                                                   model_args):
    assert cli(evaluate, evaluate.EvaluateConfig, *model_args, "--resume") == 0
    resumed = read(module_results / "diffusion" / "ddpm_metrics.json")
    assert resumed["metrics"]["sampling"]["batches_resumed"] == 2 and resumed["metrics"]["sampling"]["resumes"] == 1
    assert resumed["metrics"]["sampling"]["batches_sampled"] == 0
    for key in ("fid", "kid", "generated_class_histogram", "precision_check", "sampling_time_s"):
        assert resumed["metrics"][key] == evaluation.metrics[key], key
    assert resumed["wall_time_s"] >= evaluation.metrics["sampling_time_s"]


def test_evaluation_figure(evaluation):
    width, height = png_size(evaluation.figure)
    assert width > height > 0  # one row of 5 samples


def test_scheduler_study(module_results, model_args, trained_classifier):
    assert cli(scheduler_study, scheduler_study.SchedulerStudyConfig, *model_args) == 0
    study = read(module_results / "diffusion" / "scheduler_metrics.json")
    assert {(c["scheduler"], c["steps"]) for c in study["cells"]} == {
        (name, steps) for name in ("Euler", "Euler Ancestral", "DPM-Solver++ 2M") for steps in (2, 4)}
    assert all(math.isfinite(c["fid"]) and c["fid"] >= 0 for c in study["cells"])
    assert study["classifier_sha256"] == sha256_file(trained_classifier.weights)
    # per scheduler, its reference and one run per number of steps, each one batch of the 5 images
    assert study["sampling"]["batches_sampled"] == 3 * (1 + 2) and study["sampling"]["resumes"] == 0
    for name in ("scheduler_grid.png", "scheduler_convergence.png", "scheduler_fid.png"):
        assert min(png_size(module_results / "diffusion" / name)) > 100, name


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


def test_a_ddpm_shipped_in_fp16_loads_in_fp32_verified_and_samples_like_the_trained_one(training, tmp_path):
    import json

    import torch

    from vae_diffusion import ship
    from vae_diffusion.core.precision import round_to_fp16
    from vae_diffusion.diffusion.sampling import initial_noise, make_scheduler, sample, unet_denoiser

    record = tmp_path / "ddpm_training.json"
    record.write_text(json.dumps({"git_revision": "abc"}))
    assert ship.main(ship.run, ship.ShipConfig, ["--model", "ddpm", "--source", str(training.run / "pipeline"),
                                                 "--record", str(record), "--version", "v1", "--dtype", "fp16",
                                                 "--artifacts", str(tmp_path / "artifacts")]) == 0
    folder = tmp_path / "artifacts" / "ddpm_mnist" / "v1"
    assert json.loads((folder / "ship.json").read_text())["pinned_file"] == "unet/diffusion_pytorch_model.safetensors"
    shipped = load_unconditional_pipeline(folder, "cpu")  # verified against its SHA256SUMS first
    trained = load_unconditional_pipeline(training.run / "pipeline", "cpu")
    assert next(shipped.unet.parameters()).dtype == torch.float32
    round_to_fp16(trained.unet)  # the shipped weights are the trained ones rounded to fp16
    assert all(torch.equal(a, b) for a, b in zip(shipped.unet.state_dict().values(),
                                                 trained.unet.state_dict().values()))
    noise = initial_noise(2, (1, 32, 32), seed=0)
    images = [sample(unet_denoiser(p.unet), make_scheduler("DDIM", p.scheduler.config), noise, 3).images
              for p in (shipped, trained)]
    assert torch.equal(*images)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    with pytest.raises(DataError, match="sha256 differs"):
        load_unconditional_pipeline(folder, "cpu")
