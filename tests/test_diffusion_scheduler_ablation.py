"""The scheduler ablation entry point (and the study's override option) on a tiny dummy pipeline saved in a temp
folder."""
import json

import pytest
import torch
from diffusers import DDPMPipeline

from mvadl.runner import Context, parse_config
from tests.conftest import usage_error
from tests.runner_helpers import png_size
from vae_diffusion.diffusion import scheduler_ablation
from vae_diffusion.diffusion.sampling import parse_scheduler_overrides
from vae_diffusion.diffusion.scheduler_study import SchedulerStudyConfig
from vae_diffusion.diffusion.scheduler_variants import QUICK_VARIANTS
from vae_diffusion.diffusion.unet import build_noise_scheduler, build_unet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def dummy_pipeline(tmp_path):
    torch.manual_seed(0)
    unet = build_unet(32, (4, 8), layers_per_block=1, norm_num_groups=4)
    folder = tmp_path / "pipeline"
    DDPMPipeline(unet=unet, scheduler=build_noise_scheduler(1000)).save_pretrained(str(folder))
    return folder


def test_quick_ablation_records_each_variant_with_its_config(dummy_pipeline, tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    config = parse_config(scheduler_ablation.SchedulerAblationConfig, ["--quick", "--model", str(dummy_pipeline)])
    path = scheduler_ablation.run(config, Context(config=config, device=torch.device("cpu")))
    record = json.loads(path.read_text())
    rows = {row["variant"]: row for row in record["variants"]}
    assert list(rows) == list(QUICK_VARIANTS)
    assert rows["DDIM clip_sample=False"]["overrides"] == {"clip_sample": False}
    assert rows["DDIM inherited"]["reference_rms_to_inherited_reference"] == 0.0
    assert rows["DDIM clip_sample=False"]["reference_rms_to_inherited_reference"] > 0.0
    assert all(len(row["rms_to_reference"]) == 2 for row in rows.values())
    # the inherited config is the pipeline's own (no CONFIG_FIXES): leading spacing starts DPM at 6 * (1000 // 7)
    assert rows["DPM++ 2M inherited"]["timestep_span"]["6"][0] == 852
    assert rows["DPM++ 2M trailing"]["timestep_span"]["6"][0] == 999
    assert record["config"]["inherited_scheduler_config"]["clip_sample"] is True
    assert record["config"]["ablation"]["grid_images"] == 2  # capped at --n-images
    for name in ("scheduler_ablation_convergence.png", "scheduler_ablation_grid.png"):
        assert min(png_size(tmp_path / "results" / "diffusion" / name)) > 100, name


def test_study_parses_scheduler_overrides(capsys):
    config = parse_config(SchedulerStudyConfig, ["--scheduler-overrides", '{"DDIM": {"clip_sample": true}}',
                                                 "--no-config-fixes"])
    assert config.scheduler_overrides == {"DDIM": {"clip_sample": True}} and config.config_fixes is False
    default = parse_config(SchedulerStudyConfig, [])
    assert default.config_fixes is True and default.scheduler_overrides == {}
    for bad, message in (('{"PLMS": {}}', "unknown schedulers"), ("not json", "not JSON"),
                         ('{"DDIM": 1}', "expected")):
        with pytest.raises(ValueError, match=message):
            parse_scheduler_overrides(bad)
        error = usage_error(capsys, lambda bad=bad: parse_config(SchedulerStudyConfig, ["--scheduler-overrides", bad]))
        assert "--scheduler-overrides" in error and message in error
