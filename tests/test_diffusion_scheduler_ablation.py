"""The scheduler ablation CLI (and the study's override option) on a tiny dummy pipeline saved in a temp folder."""
import json

import pytest
import torch
from diffusers import DDPMPipeline

from vae_diffusion.diffusion import scheduler_ablation, scheduler_study
from vae_diffusion.diffusion.unet import build_noise_scheduler, build_unet


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def dummy_pipeline(tmp_path):
    torch.manual_seed(0)
    unet = build_unet(32, (4, 8), layers_per_block=1, norm_num_groups=4)
    folder = tmp_path / "pipeline"
    DDPMPipeline(unet=unet, scheduler=build_noise_scheduler(1000)).save_pretrained(str(folder))
    return folder


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        scheduler_ablation.parse_args(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--seed" in out and "--quick" in out


def test_quick_ablation_records_each_variant_with_its_config(dummy_pipeline, tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    path = scheduler_ablation.main(scheduler_ablation.parse_args(["--quick", "--model", str(dummy_pipeline)]))
    record = json.loads(path.read_text())
    rows = {row["variant"]: row for row in record["variants"]}
    assert list(rows) == list(scheduler_ablation.QUICK_VARIANTS)
    assert rows["DDIM clip_sample=False"]["overrides"] == {"clip_sample": False}
    assert rows["DDIM inherited"]["reference_rms_to_inherited_reference"] == 0.0
    assert all(len(row["rms_to_reference"]) == 2 for row in rows.values())
    # the inherited config is the pipeline's own (no CONFIG_FIXES): leading spacing starts DPM at 6 * (1000 // 7)
    assert rows["DPM++ 2M inherited"]["timestep_span"]["6"][0] == 852
    assert rows["DPM++ 2M trailing"]["timestep_span"]["6"][0] == 999
    assert record["config"]["inherited_scheduler_config"]["clip_sample"] is True
    for name in ("scheduler_ablation_convergence_quick.png", "scheduler_ablation_grid_quick.png"):
        assert (tmp_path / "results" / "diffusion" / name).stat().st_size > 0


def test_study_parses_scheduler_overrides():
    args = scheduler_study.parse_args(["--scheduler-overrides", '{"DDIM": {"clip_sample": true}}', "--no-config-fixes"])
    assert args.scheduler_overrides == {"DDIM": {"clip_sample": True}} and args.config_fixes is False
    assert scheduler_study.parse_args([]).config_fixes is True
    for bad in ('{"PLMS": {}}', "not json", '{"DDIM": 1}'):
        with pytest.raises(SystemExit):
            scheduler_study.parse_args(["--scheduler-overrides", bad])
