"""The Q19 entry points (--quick) in-process through the shared runner, on tiny generated MNIST: training with an
exact resume (captions included), prompt following along the training, then the negative-prompt study. Each run
happens once per module (fixtures); each test checks one thing, so one failure does not hide the others."""
import json
import shutil
from types import SimpleNamespace

import pytest
import torch

from mvadl.seeding import derive_seed
from mvadl.verdicts import mcnemar_exact, paired_mean_difference
from tests.conftest import write_tiny_mnist
from tests.runner_helpers import cli, is_share_of, png_size, read, same_weights, train_whole_and_resumed
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import DEFAULT_WEIGHTS
from vae_diffusion.core.precision import choose_mixed_precision
from vae_diffusion.guidance import design, negative_prompt, progress, stored_precision, train
from vae_diffusion.guidance.evaluation import figure_images
from vae_diffusion.guidance.pipeline import TextToDigitPipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def training(module_results, tmp_path_factory):
    """Two epochs uninterrupted, and the same run killed after epoch 1 and resumed."""
    data = write_tiny_mnist(tmp_path_factory.mktemp("data"))
    root = tmp_path_factory.mktemp("t2d")
    # batches of 4 of the 12 images, 3 steps per epoch: epoch 2 sees every image again, with new captions
    common = ["--quick", "--data-dir", data, "--batch-size", 4, "--steps-per-epoch", 3, "--epochs", 2]
    runs = train_whole_and_resumed(train, train.TrainConfig, common, root,
                                   module_results / "guidance" / "training.json")
    runs.pipeline_dir = runs.run / "pipeline"
    return runs


def test_interrupted_training_leaves_its_checkpoint_and_logs(training):
    assert training.whole_status == 0 and training.interrupted
    assert [p for p in training.after_interruption if p.startswith("checkpoints/")] == ["checkpoints/epoch-0001"]
    assert not any(p.startswith("pipeline/") for p in training.after_interruption)
    assert training.has_event_file


def test_resumed_training_equals_the_uninterrupted_run(training):
    assert training.resumed_status == 0
    resumed, uninterrupted = training.resumed["metrics"], training.uninterrupted["metrics"]
    # one run, one record: the resumed run's record covers both epochs, equal to the uninterrupted run's
    assert resumed["epoch_losses"] == uninterrupted["epoch_losses"] and len(resumed["epoch_losses"]) == 2
    assert resumed["resumes"] == 1 and uninterrupted["resumes"] == 0
    assert resumed["images_seen"] == uninterrupted["images_seen"] == 2 * 3 * 4
    assert resumed["images_per_s"] == pytest.approx(resumed["images_seen"] / resumed["training_time_s"])
    assert same_weights(training.run / "checkpoints" / "epoch-0002" / "model.safetensors",
                        training.whole / "checkpoints" / "epoch-0002" / "model.safetensors")


def test_training_record_and_pipeline(training):
    assert training.resumed["config"]["caption_dropout"] == 0.1
    assert training.resumed["config"]["mixed_precision"] == choose_mixed_precision(
        None, "cpu", train.TrainConfig.CPU_MIXED_PRECISION)  # the measured CPU choice, where this CPU has bf16
    pipe = TextToDigitPipeline.from_pretrained(str(training.pipeline_dir))
    assert pipe.unet.config.cross_attention_dim == pipe.text_encoder.config.hidden_size == 16  # --quick's width


def test_progress_scores_every_kept_checkpoint(module_results, training):
    """Prompt following along the training: both kept checkpoints, scored with their EMA weights."""
    assert cli(progress, progress.ProgressConfig, "--quick", "--run-dir", training.run) == 0
    points = read(module_results / "guidance" / "progress.json")["metrics"]["checkpoints"]
    assert [p["epoch"] for p in points] == [1, 2] and [p["images_seen"] for p in points] == [12, 24]
    assert 0 < points[0]["training_minutes"] < points[1]["training_minutes"]
    for p in points:
        assert p["n_samples"] == 10
        assert is_share_of(p["digit_rate"], 10) and is_share_of(p["colour_obeyed_rate"], 10)
        assert 0 <= p["no_digit_count"] <= 10 and isinstance(p["no_digit_count"], int)
    assert min(png_size(module_results / "guidance" / "progress.png")) > 100
    record = read(module_results / "guidance" / "progress.json")["metrics"]
    assert record["image_seeds"] == [derive_seed(0, "image", i) for i in range(10)]
    history = json.loads((training.run / "checkpoints" / "epoch-0002" / "fit_history.json").read_text())
    assert record["run_revision"] == history["identity"]["revision"]  # checkpoints of the current training loop
    assert [p["resumes"] for p in points] == [0, 1]  # the run was resumed after epoch 1
    shares = points[0]["shares"]
    assert set(shares) == {"digit_read", "no_digit", "colour_obeyed"}
    assert shares["digit_read"]["share"] == points[0]["digit_rate"] and shares["digit_read"]["n"] == 10


def test_stored_precision_scores_both_precisions_on_the_same_images(module_results, training):
    assert cli(stored_precision, stored_precision.StoredPrecisionConfig, "--quick", "--model",
               training.pipeline_dir) == 0
    record = read(module_results / "guidance" / "stored_precision.json")["metrics"]
    assert record["image_seeds"] == [derive_seed(0, "image", i) for i in range(10)]
    assert record["chosen_dtype"] in ("fp16", "fp32") and set(record["measures"]) == {"digit_read", "colour_obeyed"}
    for key, measure in record["measures"].items():
        fp32, fp16 = (record["per_image"][d][key] for d in ("fp32", "fp16"))
        assert measure["images_differing"] == sum(a != b for a, b in zip(fp32, fp16))
        assert measure["fp16_vs_fp32"] == mcnemar_exact(fp16, fp32).as_dict()  # re-run from the record
    assert record["chosen_dtype"] == ("fp16" if all(m["within_noise"] for m in record["measures"].values())
                                      else "fp32")


def test_fp16_is_chosen_only_within_the_fp32_shares_noise():
    from vae_diffusion.guidance.evaluation import share

    def scores(digit, colour):
        return {"per_image": {"digit_read": digit, "colour_obeyed": colour},
                "shares": {"digit_read": share(digit), "colour_obeyed": share(colour)}}
    same = [True] * 190 + [False] * 10
    assert stored_precision.compare_precisions(scores(same, same), scores(same, same))["chosen_dtype"] == "fp16"
    one_flip = [False] + same[1:]
    assert stored_precision.compare_precisions(scores(same, same), scores(same, one_flip))["chosen_dtype"] == "fp16"
    many = [False] * 30 + same[30:]  # 30 images lose their colour: significant, and outside the interval
    result = stored_precision.compare_precisions(scores(same, same), scores(same, many))
    assert result["chosen_dtype"] == "fp32" and not result["measures"]["colour_obeyed"]["within_noise"]
    assert result["measures"]["digit_read"]["within_noise"]


def test_rounding_to_fp16_keeps_the_dtype_and_rounds_every_weight():
    layer = torch.nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.fill_(1 + 2 ** -13)  # not an fp16 number: rounds to 1
    stored_precision.round_to_fp16(layer)
    assert layer.weight.dtype == torch.float32 and torch.all(layer.weight == 1)


def test_progress_refuses_a_checkpoint_of_another_run(training, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(training.run / "pipeline", run / "pipeline")
    shutil.copytree(training.run / "checkpoints" / "epoch-0001", run / "checkpoints" / "epoch-0001")
    history_path = run / "checkpoints" / "epoch-0001" / "fit_history.json"
    history = json.loads(history_path.read_text())
    history["identity"]["config"]["learning_rate"] = 0.5
    history_path.write_text(json.dumps(history))
    assert cli(progress, progress.ProgressConfig, "--quick", "--run-dir", run) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {run / 'checkpoints' / 'epoch-0001'}: written by another run than the "
                            "pipeline's (settings differ: learning_rate)")


def test_progress_names_the_missing_checkpoint(training, capsys):
    assert cli(progress, progress.ProgressConfig, "--quick", "--run-dir", training.run, "--epochs", 1, 5) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {training.run / 'checkpoints'}: no checkpoint epoch-N for epoch(s) [5]")


@pytest.fixture(scope="module")
def study(module_results, training):
    status = cli(negative_prompt, negative_prompt.NegativePromptConfig, "--quick", "--model", training.pipeline_dir)
    figures = module_results / "guidance"
    return SimpleNamespace(status=status, metrics=read(figures / "metrics.json")["metrics"], figures=figures,
                           mtime=(figures / "negative_prompt.png").stat().st_mtime_ns)


def test_negative_prompt_study_main_concept(study):
    metrics = study.metrics
    main = metrics["concepts"][0]
    assert study.status == 0
    assert metrics["n_samples"] == main["n_samples"] == 8 and metrics["main_concept"] == main["concept"] == "white"
    assert main["negative_prompt"] == metrics["negative_prompt"] == "white" and main["guidance_scale"] == 5.0
    for key in ("concept_rate_without_negative", "concept_rate_with_negative", "digit_kept_rate"):
        assert is_share_of(main[key], 8), key
    assert main["mask_iou_mean"] == pytest.approx(sum(main["per_image"]["mask_iou"]) / 8, abs=1e-4)  # rounded
    assert len(main["per_image"]["mask_iou"]) == len(main["per_image"]["centroid_shift_px"]) == 8
    assert metrics["image_seeds"] == [derive_seed(0, "image", i) for i in range(8)]
    assert metrics["digits"] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert metrics["classifier_sha256"] == sha256_file(DEFAULT_WEIGHTS)
    assert metrics["model_training_config"]["red_share"] == 0.5  # the data the studied model was trained on
    colours = metrics["training_colours"]  # recorded by the study, for the report to print
    assert colours["stroke"] == {"red": 0.5, "green": 0.125, "blue": 0.125, "yellow": 0.125, "white": 0.125}
    assert colours["background"] == {"black": 0.7, "gray": 0.3} and colours["mention_probability"] == 0.5


def test_every_paired_test_reruns_from_the_record(study):
    """Shares and McNemar tests follow from the per-image outcomes the record keeps."""
    for entry in [*study.metrics["concepts"], *study.metrics["sweep"]]:
        per_image = entry["per_image"]
        assert entry["shares"]["concept_with"]["k"] == sum(per_image["concept_with"])
        if entry["identical_pairs"] == entry["n_samples"]:
            continue
        assert entry["comparisons"]["concept"] == mcnemar_exact(per_image["concept_with"],
                                                                per_image["concept_without"]).as_dict()
        assert entry["comparisons"]["digit"] == mcnemar_exact(per_image["digit_kept"],
                                                              per_image["digit_read_without"]).as_dict()


def test_negative_prompt_sweep_without_guidance_changes_nothing(study):
    assert [s["guidance_scale"] for s in study.metrics["sweep"]] == [1.0, 3.0, 5.0]  # + the main run at scale 5
    scale_one = study.metrics["sweep"][0]
    # at s = 1 the pipeline runs no unconditional branch: each pair is the same image twice, and no test is run
    assert scale_one["identical_pairs"] == scale_one["n_samples"] == 4 and all(scale_one["per_image"]["identical"])
    assert scale_one["mask_iou_mean"] == 1.0 and scale_one["mean_abs_change"] == 0.0
    assert scale_one["concept_rate_with_negative"] == scale_one["concept_rate_without_negative"]
    assert set(scale_one["comparisons"].values()) == {None} and set(scale_one["colour_comparisons"].values()) == {None}
    if scale_one["centroid_shift_px_median"] is not None:  # identical pairs: no position change
        assert scale_one["centroid_shift_px_median"] == 0.0
    # guidance itself, without a negative prompt: the lowest and highest scale on the images they share
    scales = study.metrics["across_scales"]
    assert (scales["from_scale"], scales["to_scale"], scales["n_samples"]) == (1.0, 5.0, 4)
    top = study.metrics["sweep"][-1]["per_image"]
    assert scales["concept_without"] == mcnemar_exact(top["concept_without"][:4],
                                                      scale_one["per_image"]["concept_without"]).as_dict()
    assert set(scales["colours_without"]) >= {"red stroke", "gray background"}


def test_seed_baseline_pairs_other_seeds_with_the_same_prompts(study):
    baseline = study.metrics["seed_baseline"]
    assert baseline["n_samples"] == 8 and baseline["negative_prompt"] == "white"
    assert not set(baseline["other_image_seeds"]) & set(study.metrics["image_seeds"])
    assert baseline["per_image"]["mask_iou_same_seed"] == pytest.approx(
        study.metrics["concepts"][0]["per_image"]["mask_iou"], abs=1e-4)
    assert baseline["comparisons"]["mask_iou"] == paired_mean_difference(
        baseline["per_image"]["mask_iou_same_seed"], baseline["per_image"]["mask_iou_other_seed"],
        seed=baseline["test_seed"]).as_dict()
    by_prompt = baseline["by_negative_prompt"]  # every negative prompt against the same other-seed pairs
    assert list(by_prompt) == [c["negative_prompt"] for c in study.metrics["concepts"]]
    assert by_prompt["white"] == baseline["comparisons"]
    assert {c["mask_iou"]["b"] for c in by_prompt.values()} == {baseline["mask_iou_other_seed_mean"]}


def test_negative_prompt_concepts_and_colour_prompts(study):
    metrics = study.metrics
    # concepts of two kinds, each with the same measurements
    assert [(c["concept"], c["concept_kind"], c["negative_prompt"]) for c in metrics["concepts"]] == [
        ("white", "stroke", "white"), ("gray", "background", "gray background"), ("red", "stroke", "red")]
    assert set(metrics["concepts"][0]) == set(metrics["concepts"][1])
    assert metrics["colour_prompts"]["n_samples"] == 10 and is_share_of(metrics["colour_obeyed_rate"], 10)
    obeyed = metrics["colour_prompts"]["shares"]["colour_obeyed"]
    assert obeyed["k"] == sum(metrics["colour_prompts"]["per_image"]["colour_obeyed"]) and obeyed["n"] == 10
    assert obeyed["low"] <= obeyed["share"] <= obeyed["high"]
    assert 0 <= metrics["prompt_following"]["no_digit_count"] <= 8 and "figure_images" not in metrics
    for c in metrics["concepts"]:  # each figure: the first images showing its concept without the negative prompt
        assert c["figure_images"] == figure_images(c["per_image"]["concept_without"], 4)


def test_negative_prompt_figures(study):
    for name in ("negative_prompt.png", "negative_prompt_gray.png", "negative_prompt_red.png",
                 "difference_map.png", "guidance_sweep.png"):
        assert min(png_size(study.figures / name)) > 100, name
    width, height = png_size(study.figures / "negative_prompt.png")
    assert width > height  # the pairs side by side at the text width
    from mvadl.plotting import TEXT_WIDTH_IN, read_saved_figure
    for name in ("negative_prompt.png", "negative_prompt_gray.png"):  # the hand-in's, printed at the text width
        assert read_saved_figure(study.figures / name).printed_font_pt(TEXT_WIDTH_IN) >= 7, name


def test_another_seed_shares_no_image(module_results, training, study):
    assert cli(negative_prompt, negative_prompt.NegativePromptConfig, "--quick", "--model", training.pipeline_dir,
               "--seed", 1, "--output-name", "seed1", "--sweep", "--other-concepts", "--colour-samples", 0,
               "--no-seed-baseline") == 0
    other = read(study.figures / "seed1.json")["metrics"]
    assert len(other["image_seeds"]) == 8 and not set(other["image_seeds"]) & set(study.metrics["image_seeds"])
    assert other["seed_baseline"] is None and other["across_scales"] is None


def test_another_models_study_keeps_the_reference_figures(training, study):
    assert cli(negative_prompt, negative_prompt.NegativePromptConfig, "--quick", "--model", training.pipeline_dir,
               "--negative-prompt", "red", "--output-name", "other", "--sweep", "--other-concepts",
               "--colour-samples", 0, "--compare-with", study.figures / "metrics.json") == 0
    other = read(study.figures / "other.json")["metrics"]
    assert other["sweep"] == [] and [c["concept"] for c in other["concepts"]] == ["red"]
    assert min(png_size(study.figures / "other_negative_prompt.png")) > 100
    assert (study.figures / "negative_prompt.png").stat().st_mtime_ns == study.mtime
    # tested against the reference record image by image: here the same model, so every pair agrees
    versus = other["compared_with"]
    reference_red = study.metrics["concepts"][2]["per_image"]
    assert versus["n_samples"] == 8 and list(versus["concepts"]) == ["red"]
    assert versus["concepts"]["red"]["with"] == mcnemar_exact(other["concepts"][0]["per_image"]["concept_with"],
                                                              reference_red["concept_with"]).as_dict()
    assert versus["concepts"]["red"]["without"]["difference"] == 0.0


def test_a_reference_record_without_per_image_outcomes_is_refused(training, study, tmp_path, capsys):
    old = tmp_path / "old.json"
    old.write_text('{"metrics": {"image_seeds": [0, 1], "concepts": [{"negative_prompt": "red"}]}}')
    assert cli(negative_prompt, negative_prompt.NegativePromptConfig, "--quick", "--model", training.pipeline_dir,
               "--negative-prompt", "red", "--output-name", "old", "--sweep", "--other-concepts",
               "--colour-samples", 0, "--no-seed-baseline", "--compare-with", old) == 1
    assert capsys.readouterr().err.startswith(f"error: {old}: not a record of this study with per-image outcomes")


def test_unknown_concept_is_a_one_line_error(training, capsys):
    assert cli(negative_prompt, negative_prompt.NegativePromptConfig, "--quick", "--model", training.pipeline_dir,
               "--negative-prompt", "desert") == 1
    error = capsys.readouterr().err
    assert error.startswith(f"error: {training.pipeline_dir}: ") and "stroke colour" in error
    assert error.count("\n") == 1


def test_design_study_trains_and_scores_each_variant(tiny_mnist, tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("RESULTS_DIR", str(results))
    names = ["32 px, cross-attention at 16+8 px", "28 px, pooled text, attention at 7 px only"]
    assert cli(design, design.DesignConfig, "--quick", "--data-dir", tiny_mnist, "--output-dir", tmp_path / "runs",
               "--variants", *names) == 0
    record = read(results / "guidance" / "design.json")["metrics"]
    variants = record["variants"]
    assert record["image_seeds"] == [derive_seed(0, "image", i) for i in range(10)]
    assert [v["name"] for v in variants] == names
    assert [v["options"]["resolution"] for v in variants] == [32, 28]
    assert [v["options"]["pooled_text"] for v in variants] == [False, True]
    for v in variants:
        assert v["n_samples"] == 10 and v["training_minutes"] > 0
        assert v["images_per_s"] == pytest.approx(2 * 8 / (v["training_minutes"] * 60))  # 2 steps of 8 images
        assert is_share_of(v["digit_rate"], 10) and is_share_of(v["colour_obeyed_rate"], 10)
        assert v["shares"]["colour_obeyed"]["share"] == v["colour_obeyed_rate"]
        assert 0 <= v["no_digit_count"] <= 10
        assert v["digit_rate_per_minute"] == pytest.approx(v["digit_rate"] / v["training_minutes"])
    pipe = TextToDigitPipeline.from_pretrained(str(tmp_path / "runs" / "28_px__pooled_text__attention_at_7_px_only"
                                                   / "pipeline"))
    assert pipe.unet.config.sample_size == 28 and pipe.unet.config.addition_embed_type == "text"
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        design.variant_config("nope", design.DesignConfig())
