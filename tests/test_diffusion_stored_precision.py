"""The DDPM's stored-precision check: its rule on hand-made scores, and the entry point in its --quick form on the
tiny dummy pipeline of the scheduler-ablation tests, the tiny MNIST and the shipped classifier."""
import math

import pytest

from tests.conftest import usage_error
from tests.runner_helpers import cli, read
from tests.test_diffusion_scheduler_ablation import dummy_pipeline  # noqa: F401  (fixture)
from vae_diffusion.diffusion import stored_precision
from vae_diffusion.diffusion.stored_precision import StoredPrecisionConfig, compare_precisions

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def scores(fid: float, confident: list[bool]) -> dict:
    return {"fid": fid, "kid": 0.01, "kid_std": 0.001, "confident": confident}


def test_fp16_is_chosen_within_the_fid_spread_and_without_a_significant_confidence_change():
    same = [True] * 30 + [False] * 10
    one_flip = [False] + same[1:]
    result = compare_precisions(scores(2.0, same), scores(2.3, one_flip), noise_fids=[1.8, 2.1])
    assert result["fid"]["fp32_spread"] == pytest.approx(0.3) and result["fid"]["difference"] == pytest.approx(0.3)
    assert result["confident"]["images_differing"] == 1 and result["confident"]["fp16_vs_fp32"]["verdict"] == "level"
    assert result["within_noise"] and result["chosen_dtype"] == "fp16"
    # the weights themselves, compared with themselves, stay within the noise however small the spread
    assert compare_precisions(scores(2.0, same), scores(2.0, same), noise_fids=[2.0])["chosen_dtype"] == "fp16"


def test_fp32_is_kept_when_the_fid_moves_beyond_its_spread_or_the_confident_share_changes():
    same = [True] * 30 + [False] * 10
    beyond = compare_precisions(scores(2.0, same), scores(2.5, same), noise_fids=[1.8, 2.1])
    assert not beyond["fid"]["within_spread"] and beyond["chosen_dtype"] == "fp32"
    below = compare_precisions(scores(2.0, same), scores(1.5, same), noise_fids=[1.8, 2.1])  # |difference| counts
    assert below["chosen_dtype"] == "fp32"
    fewer = [False] * 20 + same[20:]  # 20 confident samples lost, none gained: McNemar p ~ 2e-6
    changed = compare_precisions(scores(2.0, same), scores(2.0, fewer), noise_fids=[1.8, 2.1])
    assert changed["fid"]["within_spread"] and changed["confident"]["fp16_vs_fp32"]["verdict"] == "lower"
    assert changed["chosen_dtype"] == "fp32"


def test_the_spread_needs_a_further_noise(capsys):
    from mvadl.runner import parse_config

    error = usage_error(capsys, lambda: parse_config(StoredPrecisionConfig, ["--noise-seeds", "0"]))
    assert "--noise-seeds 0" in error


@pytest.fixture
def quick_record(dummy_pipeline, tiny_mnist, tmp_path, monkeypatch):  # noqa: F811
    """``--quick`` on the dummy pipeline; ``rounding`` replaces the fp16 rounding (None: the real one)."""
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))

    def run(rounding=None):
        if rounding is not None:
            monkeypatch.setattr(stored_precision, "round_to_fp16", rounding)
        assert cli(stored_precision, StoredPrecisionConfig, "--quick", "--model", dummy_pipeline,
                   "--data-dir", tiny_mnist) == 0
        return read(tmp_path / "results" / "diffusion" / "stored_precision.json")

    return run


def test_quick_run_records_both_precisions_on_the_same_noise(quick_record):
    record = quick_record()
    metrics, quick = record["metrics"], StoredPrecisionConfig.QUICK
    assert {"fid", "kid", "confident", "within_noise", "chosen_dtype", "rms_fp16_to_fp32", "n_samples", "scheduler",
            "steps", "initial_noise_seeds", "confidence_threshold", "per_image_confident", "unet_sha256",
            "classifier_sha256"} <= set(metrics)
    assert metrics["chosen_dtype"] in ("fp16", "fp32") and metrics["scheduler"] == "DDIM"
    assert metrics["n_samples"] == quick["samples"] and metrics["steps"] == quick["steps"]
    assert len(metrics["initial_noise_seeds"]) == len(metrics["fid"]["fp32_per_noise"]) == 1 + quick["noise_seeds"]
    assert all(math.isfinite(metrics["fid"][dtype]) for dtype in ("fp32", "fp16"))
    assert 0 < metrics["rms_fp16_to_fp32"] < 0.1  # rounding moves the images, a little
    assert all(len(flags) == quick["samples"] for flags in metrics["per_image_confident"].values())
    assert record["config"]["scheduler_config"]["clip_sample"] is False  # DDIM as the scheduler study builds it


def test_unrounded_weights_against_themselves_are_chosen(quick_record):
    metrics = quick_record(rounding=lambda module: module)["metrics"]
    assert metrics["rms_fp16_to_fp32"] == 0.0 and metrics["fid"]["difference"] == 0.0
    assert metrics["confident"]["images_differing"] == 0 and metrics["chosen_dtype"] == "fp16"
