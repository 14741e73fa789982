"""End-to-end smoke test of the Q19 CLIs (--quick) on tiny generated MNIST: train, resume, negative-prompt study."""
import json

import pytest

from vae_diffusion.guidance import negative_prompt, train
from vae_diffusion.guidance.pipeline import TextToDigitPipeline

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("module", (train, negative_prompt), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_help(module, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.parse_args(["--help"])
    assert exit_info.value.code == 0
    assert "--seed" in capsys.readouterr().out


def test_quick_train_resume_and_negative_prompt_study(tiny_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    run_dir = tmp_path / "t2d"
    common = ["--quick", "--data-dir", str(tiny_mnist), "--output-dir", str(run_dir)]
    pipeline_dir = train.main(train.parse_args(common))
    assert (run_dir / "checkpoints" / "epoch-0001").is_dir()
    assert any((run_dir / "logs").rglob("events.out.tfevents.*"))
    train.main(train.parse_args(common + ["--epochs", "2", "--resume", "latest"]))
    assert (run_dir / "checkpoints" / "epoch-0002").is_dir()
    record = json.loads((tmp_path / "results" / "guidance" / "training_quick.json").read_text())
    assert len(record["metrics"]["epoch_losses"]) == 1  # only epoch 2 ran after resuming from epoch 1
    assert record["config"]["caption_dropout"] == 0.1
    pipe = TextToDigitPipeline.from_pretrained(str(pipeline_dir))
    assert pipe.unet.config.cross_attention_dim == pipe.text_encoder.config.hidden_size

    out = negative_prompt.main(negative_prompt.parse_args(["--quick", "--model", str(pipeline_dir)]))
    result = json.loads(out.read_text())
    metrics = result["metrics"]
    for key in ("concept_rate_without_negative", "concept_rate_with_negative", "digit_kept_rate", "mask_iou_mean",
                "n_samples", "guidance_scale"):
        assert key in metrics
    assert metrics["n_samples"] == 8 and metrics["negative_prompt"] == "red"
    assert [s["guidance_scale"] for s in metrics["sweep"]] == [1.0, 3.0, 5.0]  # + the main run at scale 5
    scale_one = metrics["sweep"][0]
    assert scale_one["mask_iou_mean"] == 1.0 and scale_one["mean_abs_change"] == 0.0  # no guidance: no effect
    if scale_one["centroid_shift_px_median"] is not None:  # identical pairs: no position change
        assert scale_one["centroid_shift_px_median"] == 0.0
    assert len(metrics["per_pair"]["mask_iou"]) == len(metrics["per_pair"]["centroid_shift_px"]) == 8
    for name in ("negative_prompt_quick.png", "difference_map_quick.png", "guidance_sweep_quick.png"):
        assert (tmp_path / "results" / "guidance" / name).stat().st_size > 0

    with pytest.raises(ValueError, match="stroke colour"):
        negative_prompt.main(negative_prompt.parse_args(["--quick", "--model", str(pipeline_dir),
                                                         "--negative-prompt", "desert"]))
