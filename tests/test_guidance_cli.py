"""The Q19 entry points (--quick) in-process through the shared runner, on tiny generated MNIST: training with an
exact resume (captions included), then the negative-prompt study."""

import pytest

from tests.runner_helpers import Interrupted, cli, interrupt_after_first_checkpoint, read, same_weights
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import DEFAULT_WEIGHTS
from vae_diffusion.guidance import design, negative_prompt, progress, train
from vae_diffusion.guidance.pipeline import TextToDigitPipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_quick_train_resumes_exactly_then_negative_prompt_study(tiny_mnist, tmp_path, monkeypatch, capsys):
    results = tmp_path / "results"
    monkeypatch.setenv("RESULTS_DIR", str(results))
    # batches of 4 of the 12 images, 3 steps per epoch: epoch 2 sees every image again, with new captions
    common = ["--quick", "--data-dir", tiny_mnist, "--batch-size", 4, "--steps-per-epoch", 3]
    assert cli(train, train.TrainConfig, *common, "--epochs", 2, "--output-dir", tmp_path / "whole") == 0
    uninterrupted = read(results / "guidance" / "training_quick.json")
    run_dir = tmp_path / "t2d"
    with monkeypatch.context() as patch:
        interrupt_after_first_checkpoint(patch)
        with pytest.raises(Interrupted):
            cli(train, train.TrainConfig, *common, "--epochs", 2, "--output-dir", run_dir)
    assert (run_dir / "checkpoints" / "epoch-0001").is_dir() and not (run_dir / "pipeline").exists()
    assert any((run_dir / "logs").rglob("events.out.tfevents.*"))
    assert cli(train, train.TrainConfig, *common, "--epochs", 2, "--resume", "latest", "--output-dir", run_dir) == 0
    record = read(results / "guidance" / "training_quick.json")
    # one run, one record: the resumed run's record covers both epochs, equal to the uninterrupted run's
    assert record["metrics"]["epoch_losses"] == uninterrupted["metrics"]["epoch_losses"]
    assert len(record["metrics"]["epoch_losses"]) == 2 and record["metrics"]["resumes"] == 1
    assert record["metrics"]["images_seen"] == uninterrupted["metrics"]["images_seen"] == 2 * 3 * 4
    assert record["metrics"]["training_time_s"] > 0 and uninterrupted["metrics"]["resumes"] == 0
    assert same_weights(run_dir / "checkpoints" / "epoch-0002" / "model.safetensors",
                        tmp_path / "whole" / "checkpoints" / "epoch-0002" / "model.safetensors")
    assert record["config"]["caption_dropout"] == 0.1 and record["config"]["mixed_precision"] == "no"
    pipeline_dir = run_dir / "pipeline"
    pipe = TextToDigitPipeline.from_pretrained(str(pipeline_dir))
    assert pipe.unet.config.cross_attention_dim == pipe.text_encoder.config.hidden_size

    # prompt following along the training: both kept checkpoints, scored with their EMA weights
    assert cli(progress, progress.ProgressConfig, "--quick", "--run-dir", run_dir) == 0
    points = read(results / "guidance" / "progress_quick.json")["metrics"]["checkpoints"]
    assert [p["epoch"] for p in points] == [1, 2] and [p["images_seen"] for p in points] == [12, 24]
    assert 0 < points[0]["training_minutes"] < points[1]["training_minutes"]
    assert all(0 <= p["digit_rate"] <= 1 and 0 <= p["colour_obeyed_rate"] <= 1 for p in points)
    assert (results / "guidance" / "progress_quick.png").stat().st_size > 0
    capsys.readouterr()
    assert cli(progress, progress.ProgressConfig, "--quick", "--run-dir", run_dir, "--epochs", 1, 5) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {run_dir / 'checkpoints'}: no checkpoint epoch-N for epoch(s) [5]")

    assert cli(negative_prompt, negative_prompt.NegativePromptConfig, "--quick", "--model", pipeline_dir) == 0
    metrics = read(results / "guidance" / "metrics_quick.json")["metrics"]
    for key in ("concept_rate_without_negative", "concept_rate_with_negative", "digit_kept_rate", "mask_iou_mean",
                "n_samples", "guidance_scale"):
        assert metrics[key] is not None
    assert metrics["n_samples"] == 8 and metrics["negative_prompt"] == "white"
    assert metrics["classifier_sha256"] == sha256_file(DEFAULT_WEIGHTS)
    assert [s["guidance_scale"] for s in metrics["sweep"]] == [1.0, 3.0, 5.0]  # + the main run at scale 5
    scale_one = metrics["sweep"][0]
    assert scale_one["mask_iou_mean"] == 1.0 and scale_one["mean_abs_change"] == 0.0  # no guidance: no effect
    if scale_one["centroid_shift_px_median"] is not None:  # identical pairs: no position change
        assert scale_one["centroid_shift_px_median"] == 0.0
    assert len(metrics["per_pair"]["mask_iou"]) == len(metrics["per_pair"]["centroid_shift_px"]) == 8
    # concepts of two kinds, each with the same measurements; the main one is also the top level
    assert [(c["concept"], c["concept_kind"], c["negative_prompt"]) for c in metrics["concepts"]] == [
        ("white", "stroke", "white"), ("gray", "background", "gray background"), ("red", "stroke", "red")]
    assert metrics["concepts"][0]["mask_iou_mean"] == metrics["mask_iou_mean"]
    assert set(metrics["concepts"][0]) == set(metrics["concepts"][1])
    assert 0 <= metrics["colour_obeyed_rate"] <= 1 and metrics["colour_prompts"]["n_samples"] == 10
    assert 0 <= metrics["no_digit_count"] <= 8 and metrics["figure_seeds"] == [0, 1, 2, 3]  # the first seeds
    for name in ("negative_prompt_quick.png", "negative_prompt_gray_quick.png", "negative_prompt_red_quick.png",
                 "difference_map_quick.png",
                 "guidance_sweep_quick.png"):
        assert (results / "guidance" / name).stat().st_size > 0
    assert metrics["model_training_config"]["red_share"] == 0.5  # the data the studied model was trained on

    # another model's study: its own record and figures, the reference ones untouched
    before = (results / "guidance" / "negative_prompt_quick.png").stat().st_mtime_ns
    assert cli(negative_prompt, negative_prompt.NegativePromptConfig, "--quick", "--model", pipeline_dir,
               "--negative-prompt", "red", "--output-name", "other", "--sweep", "--other-concepts",
               "--colour-samples", 0) == 0
    other = read(results / "guidance" / "other_quick.json")["metrics"]
    assert other["sweep"] == [] and [c["concept"] for c in other["concepts"]] == ["red"]
    assert (results / "guidance" / "other_negative_prompt_quick.png").stat().st_size > 0
    assert (results / "guidance" / "negative_prompt_quick.png").stat().st_mtime_ns == before

    capsys.readouterr()
    assert cli(negative_prompt, negative_prompt.NegativePromptConfig, "--quick", "--model", pipeline_dir,
               "--negative-prompt", "desert") == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {pipeline_dir}: ") and "stroke colour" in error and error.count("\n") == 1


def test_design_study_trains_and_scores_each_variant(tiny_mnist, tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("RESULTS_DIR", str(results))
    names = ["32 px, cross-attention at 16+8 px", "28 px, pooled text, attention at 7 px only"]
    assert cli(design, design.DesignConfig, "--quick", "--data-dir", tiny_mnist, "--output-dir", tmp_path / "runs",
               "--variants", *names) == 0
    variants = read(results / "guidance" / "design_quick.json")["metrics"]["variants"]
    assert [v["name"] for v in variants] == names
    assert [v["options"]["resolution"] for v in variants] == [32, 28]
    assert [v["options"]["pooled_text"] for v in variants] == [False, True]
    for v in variants:
        assert v["images_per_s"] > 0 and v["training_minutes"] > 0 and v["n_samples"] == 10
        assert 0 <= v["digit_rate"] <= 1 and 0 <= v["colour_obeyed_rate"] <= 1 and 0 <= v["no_digit_count"] <= 10
        assert v["digit_rate_per_minute"] == pytest.approx(v["digit_rate"] / v["training_minutes"])
    pipe = TextToDigitPipeline.from_pretrained(str(tmp_path / "runs" / "28_px__pooled_text__attention_at_7_px_only"
                                                   / "pipeline"))
    assert pipe.unet.config.sample_size == 28 and pipe.unet.config.addition_embed_type == "text"
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        design.variant_config("nope", design.DesignConfig())
