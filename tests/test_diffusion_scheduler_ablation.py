"""The scheduler ablation entry point (and the study's override option and noise-schedule rows) on a tiny dummy
pipeline saved in a temp folder."""
import json
import math

import pytest
import torch
from diffusers import DDPMPipeline

from mvadl.runner import Context, parse_config
from tests.conftest import usage_error, write_tiny_mnist
from tests.runner_helpers import png_size
from vae_diffusion.core.classifier import MnistClassifier, save_classifier
from vae_diffusion.diffusion import scheduler_ablation, scheduler_study
from vae_diffusion.diffusion.sampling import parse_scheduler_overrides
from vae_diffusion.diffusion.scheduler_study import SchedulerStudyConfig
from vae_diffusion.diffusion.scheduler_variants import QUICK_VARIANTS, noise_schedule_comparison
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


def test_ablation_measures_the_spacing_of_karras_sigmas(dummy_pipeline, tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    labels = ["Euler Karras inherited", "Euler Karras trailing", "Euler Karras linspace"]
    config = parse_config(scheduler_ablation.SchedulerAblationConfig,
                          ["--quick", "--model", str(dummy_pipeline), "--variants", *labels, "--steps", "4",
                           "--reference-steps", "8", "--n-images", "1"])
    record = json.loads(scheduler_ablation.run(config, Context(config=config, device=torch.device("cpu"))).read_text())
    spans = {row["variant"]: row["timestep_span"]["4"] for row in record["variants"]}
    # Karras timesteps run between the first and last spaced timestep: only linspace spans 999 ... 0
    assert spans["Euler Karras linspace"] == [999, 0]
    assert spans["Euler Karras inherited"][0] < 999 and spans["Euler Karras trailing"][1] > 0


@pytest.fixture
def study_record(dummy_pipeline, tmp_path, monkeypatch):
    """The scheduler study on the dummy pipeline, an untrained classifier and tiny MNIST: Euler and DPM-Solver++
    with and without Karras sigmas, and DDIM (no Karras row)."""
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    classifier = save_classifier(MnistClassifier(), tmp_path / "classifier.safetensors")
    data = write_tiny_mnist(tmp_path / "data")
    names = ["Euler", "DDIM", "DPM-Solver++ 2M", "Euler Karras", "DPM-Solver++ 2M Karras"]
    config = parse_config(SchedulerStudyConfig, ["--quick", "--model", str(dummy_pipeline), "--classifier",
                                                 str(classifier), "--data-dir", str(data), "--schedulers", *names,
                                                 "--n-samples", "4", "--grid-images", "1"])
    path = scheduler_study.run(config, Context(config=config, device=torch.device("cpu")))
    return json.loads(path.read_text())


def test_study_records_the_karras_rows_like_every_cell(study_record):
    cells = {(c["scheduler"], c["steps"]): c for c in study_record["cells"]}
    assert {name for name, _ in cells} >= {"Euler Karras", "DPM-Solver++ 2M Karras"}
    for name in ("Euler Karras", "DPM-Solver++ 2M Karras"):
        for steps in SchedulerStudyConfig.QUICK["steps"]:
            cell = cells[(name, steps)]  # same numbers of steps as the grid, FID and convergence as any cell
            assert math.isfinite(cell["fid"]) and math.isfinite(cell["rms_to_reference"]), (name, steps)
        assert study_record["config"]["scheduler_configs"][name]["use_karras_sigmas"] is True
    assert study_record["config"]["scheduler_configs"]["Euler Karras"]["timestep_spacing"] == "linspace"


def test_study_sets_each_karras_row_beside_its_base_with_printable_keys(study_record):
    schedules = study_record["noise_schedules"]
    assert set(schedules) == {"Euler", "DPM-Solver++ 2M"}  # DDIM has no Karras row
    steps = SchedulerStudyConfig.QUICK["steps"]
    cells = {(c["scheduler"], c["steps"]): c for c in study_record["cells"]}
    for base, entry in schedules.items():
        assert entry["steps"] == steps
        for n in steps:
            default, karras = cells[(base, n)], cells[(entry["variant"], n)]
            assert entry["fid"]["default"][str(n)] == default["fid"] and entry["fid"]["karras"][str(n)] == karras["fid"]
            assert entry["fid_change"][str(n)] == karras["fid"] - default["fid"]
            assert entry["rms_to_reference"]["karras"][str(n)] == karras["rms_to_reference"]
            assert entry["model_evaluations"]["default"][str(n)] == default["model_evaluations"]
            test = entry["fid_test"][str(n)]  # Karras - default on the same initial noises
            assert test["a"] == pytest.approx(karras["fid"], rel=1e-5, abs=1e-6)
            assert test["b"] == pytest.approx(default["fid"], rel=1e-5, abs=1e-6)
            assert test["n"] == 4 and test["p_value"] <= test["p_holm"] <= 1 and test["verdict"] in (
                "higher", "lower", "level")
    assert study_record["noise_schedules"] == study_record["metrics"]["noise_schedules"]


def test_noise_schedule_comparison_needs_both_rows():
    cells = [{"scheduler": "Euler", "steps": 2, "fid": 3.0, "kid": 0.1, "rms_to_reference": 0.5,
              "model_evaluations": 2}]
    assert noise_schedule_comparison(cells, ["Euler"]) == {}
    karras = {**cells[0], "scheduler": "Euler Karras", "fid": 2.5}
    assert noise_schedule_comparison([*cells, karras], ["Euler", "Euler Karras"])["Euler"]["fid_change"] == {"2": -0.5}
