"""How the image parts are put together: entry points are thin and imported by nothing, the evaluation does not
pull in the training stack, the committed classifier is the pinned artefact, and broken inputs are one-line
DataErrors."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from mvadl import REPO_ROOT
from mvadl.data import DataError
from mvadl.runner import ExperimentConfig, main, parse_config
from tests.conftest import usage_error
from vae_diffusion.core.artifacts import sha256_file
from vae_diffusion.core.classifier import DEFAULT_WEIGHTS, DEFAULT_WEIGHTS_SHA256, load_classifier
from vae_diffusion.core.pipelines import load_local_pipeline

PACKAGES = ("core", "diffusion", "guidance")
#: Entry point -> (its config class, the options that scripts/*_reproduce.sh and the README give it).
ENTRY_POINTS = {
    "vae_diffusion.diffusion.classifier": ("ClassifierConfig", ["--weights", "w", "--output-dir", "o"]),
    "vae_diffusion.diffusion.train": ("TrainConfig", ["--output-dir", "o", "--resume", "latest"]),
    "vae_diffusion.diffusion.evaluate": ("EvaluateConfig", ["--model", "m", "--classifier", "c", "--resume"]),
    "vae_diffusion.diffusion.stored_precision": ("StoredPrecisionConfig", ["--model", "m", "--classifier", "c"]),
    "vae_diffusion.diffusion.scheduler_study": ("SchedulerStudyConfig", ["--model", "m", "--classifier", "c",
                                                                         "--no-config-fixes", "--resume"]),
    "vae_diffusion.diffusion.scheduler_ablation": ("SchedulerAblationConfig", ["--model", "m"]),
    "vae_diffusion.guidance.train": ("TrainConfig", ["--output-dir", "o", "--resume", "latest",
                                                     "--checkpoints-to-keep", "0"]),
    "vae_diffusion.guidance.negative_prompt": ("NegativePromptConfig", ["--model", "m", "--classifier", "c"]),
    "vae_diffusion.guidance.design": ("DesignConfig", ["--output-dir", "o", "--classifier", "c"]),
    "vae_diffusion.guidance.progress": ("ProgressConfig", ["--run-dir", "r", "--classifier", "c"]),
    "vae_diffusion.guidance.stored_precision": ("StoredPrecisionConfig", ["--model", "m", "--classifier", "c"]),
}


def module_files() -> dict[str, Path]:
    return {f"vae_diffusion.{package}.{path.stem}": path for package in PACKAGES
            for path in sorted((REPO_ROOT / "vae_diffusion" / package).glob("*.py")) if path.stem != "__init__"}


def imported_modules(path: Path) -> set[str]:
    """The project modules a file imports (``from a.b import c`` counts as a.b and a.b.c)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith(("vae_diffusion", "mvadl"))}


def is_entry_point(path: Path) -> bool:
    return '__name__ == "__main__"' in path.read_text()


def test_entry_points_are_the_listed_ones_and_no_module_imports_one():
    files = module_files()
    entry_points = {name for name, path in files.items() if is_entry_point(path)}
    assert entry_points == set(ENTRY_POINTS)
    for name, path in files.items():
        assert not imported_modules(path) & entry_points, f"{name} imports an entry point"


def test_the_negative_prompt_study_does_not_import_the_training_stack():
    files = module_files()
    seen, todo = set(), ["vae_diffusion.guidance.negative_prompt"]
    while todo:
        name = todo.pop()
        if name in seen or name not in files:
            continue
        seen.add(name)
        todo.extend(imported_modules(files[name]))
        assert "accelerate" not in files[name].read_text(), name
    assert "vae_diffusion.guidance.evaluation" in seen and "vae_diffusion.core.classifier" in seen
    assert not seen & {"vae_diffusion.core.fit", "vae_diffusion.guidance.train"}


@pytest.mark.parametrize("module_name", sorted(ENTRY_POINTS))
def test_entry_point_configs_take_the_scripts_options_and_their_quick_overrides(module_name):
    class_name, options = ENTRY_POINTS[module_name]
    config_cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(config_cls, ExperimentConfig) and config_cls.QUICK
    quick = parse_config(config_cls, ["--quick", "--seed", "3", *options])
    assert quick.quick and quick.seed == 3
    given = {flag[2:].replace("-", "_") for flag in options if flag.startswith("--")}  # the command's own win
    assert all(getattr(quick, key) == value for key, value in config_cls.QUICK.items() if key not in given)
    assert all(getattr(quick, key) != value for key, value in config_cls.QUICK.items() if key in given)


def entry_point_config(module_name: str) -> type[ExperimentConfig]:
    return getattr(importlib.import_module(module_name), ENTRY_POINTS[module_name][0])


@pytest.mark.parametrize("module_name, argv, message", [
    ("vae_diffusion.diffusion.train", ["--sample-size", "30"],
     "--sample-size 30: must be 28 + an even number (MNIST padded by the same border on each side) divisible by 4"),
    ("vae_diffusion.diffusion.train", ["--sample-size", "28", "--widths", "8", "16", "32", "64"], "divisible by 8"),
    ("vae_diffusion.diffusion.train", ["--sample-size", "26"], "--sample-size 26: must be 28 + an even number"),
    ("vae_diffusion.guidance.train", ["--resolution", "30"], "--resolution 30: must be 28 + an even number"),
])
def test_image_sizes_the_unet_cannot_take_are_refused_before_mnist_loads(module_name, argv, message, capsys):
    """--sample-size 30 loaded MNIST, then died in the UNet's constructor with a traceback."""
    config_cls = entry_point_config(module_name)
    assert message in usage_error(capsys, lambda: main(lambda config, ctx: pytest.fail("ran"), config_cls, argv))


def test_sizes_the_unet_takes_pass():
    train = entry_point_config("vae_diffusion.diffusion.train")
    assert parse_config(train, ["--sample-size", "28"]).sample_size == 28
    assert parse_config(train, ["--quick", "--sample-size", "30", "--widths", "8"]).sample_size == 30  # one level


def test_optional_options_parse_none():
    """--snr-gamma none was refused ("invalid float value") although --help offered it; tyro spells it None."""
    guidance = entry_point_config("vae_diffusion.guidance.train")
    assert parse_config(guidance, []).snr_gamma == 5.0
    assert parse_config(guidance, ["--snr-gamma", "None"]).snr_gamma is None
    assert parse_config(guidance, ["--snr-gamma", "2"]).snr_gamma == 2.0
    diffusion = parse_config(entry_point_config("vae_diffusion.diffusion.train"), ["--max-steps-per-epoch", "None",
                                                                                    "--mixed-precision", "None"])
    assert (diffusion.max_steps_per_epoch, diffusion.mixed_precision) == (None, None)


def test_the_committed_classifier_is_the_pinned_artefact():
    assert DEFAULT_WEIGHTS.relative_to(REPO_ROOT).as_posix() == "artifacts/mnist_classifier/v2/model.safetensors"
    assert sha256_file(DEFAULT_WEIGHTS) == DEFAULT_WEIGHTS_SHA256
    assert not (REPO_ROOT / "results" / "diffusion" / "mnist_classifier.safetensors").exists()


def test_missing_or_broken_inputs_are_data_errors_naming_them(tmp_path):
    with pytest.raises(DataError, match="nope.safetensors: MNIST classifier weights not found"):
        load_classifier(tmp_path / "nope.safetensors")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not safetensors")
    with pytest.raises(DataError, match="broken.safetensors: not MNIST classifier weights"):
        load_classifier(broken)

    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(4, 8), layers_per_block=1,
                       norm_num_groups=2, down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2)
    folder = tmp_path / "ddpm"
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=10)).save_pretrained(str(folder))
    assert type(load_local_pipeline(folder)).__name__ == "DDPMPipeline"
    with pytest.raises(DataError, match="SHA256SUMS: missing"):  # a pinned default must be a shipped folder
        load_local_pipeline(folder, pinned=("unet/diffusion_pytorch_model.safetensors", "0" * 64))
    from vae_diffusion.core.artifacts import write_sha256sums
    sums = write_sha256sums(folder)
    pin = ("unet/diffusion_pytorch_model.safetensors", sums["unet/diffusion_pytorch_model.safetensors"])
    assert type(load_local_pipeline(folder, pinned=pin)).__name__ == "DDPMPipeline"
    with pytest.raises(DataError, match="is not the pinned"):
        load_local_pipeline(folder, pinned=(pin[0], "0" * 64))
    (folder / "scheduler" / "scheduler_config.json").write_text("{}")  # a shipped folder changed after shipping
    with pytest.raises(DataError, match="scheduler_config.json: sha256 differs"):
        load_local_pipeline(folder)
    (folder / "SHA256SUMS").unlink()
    for weights in (folder / "unet").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(DataError, match=f"{folder}: the DDPMPipeline does not load"):
        load_local_pipeline(folder)


def test_a_checkpoint_without_its_run_history_is_a_data_error(tmp_path):
    """Resuming continues the run's record (fit_history.json), so a checkpoint without one cannot be resumed."""
    from vae_diffusion.core.fit import HISTORY, read_history

    checkpoint = tmp_path / "epoch-0002"
    checkpoint.mkdir()
    with pytest.raises(DataError, match=f"{checkpoint / HISTORY}: missing"):
        read_history(checkpoint)
    (checkpoint / HISTORY).write_text('{"epoch_losses": [0.5], "seconds": 3.0, "resumes": 0}')
    with pytest.raises(DataError, match="not a run history .*1 epoch losses for epoch 2"):
        read_history(checkpoint)
    (checkpoint / HISTORY).write_text('{"epoch_losses": [0.5, 0.25], "seconds": 3.0, "resumes": 1}')
    assert read_history(checkpoint) == {"epoch_losses": [0.5, 0.25], "seconds": 3.0, "resumes": 1, "identity": None,
                                        "partial": None}
    within = tmp_path / "epoch-0002-step-000003"  # within epoch 3: its history must say how far
    within.mkdir()
    (within / HISTORY).write_text('{"epoch_losses": [0.5, 0.25], "seconds": 3.0, "resumes": 1}')
    with pytest.raises(DataError, match="not a run history .*no partial epoch of 3 steps"):
        read_history(within)
