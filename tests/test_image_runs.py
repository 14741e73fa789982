"""Long image runs: the precision chosen once per run (detected CPU support, stored, kept on resume), a resume
refused when its config or start revision differs, and shipped artefacts verified before use."""
import json

import pytest
import torch
from torch.utils.data import TensorDataset

from mvadl.data import DataError
from vae_diffusion.core.artifacts import verify_artifact, write_sha256sums
from vae_diffusion.core.fit import FitConfig, FitOptions, fit, read_history, run_channels_last, run_precision
from vae_diffusion.core.identity import run_identity
from vae_diffusion.core.precision import choose_mixed_precision, cpu_bf16_support

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def cpuinfo(tmp_path, name: str, flags: str):
    path = tmp_path / name
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: fpu sse2 {flags}\n")
    return path


def test_bf16_is_chosen_only_where_the_cpu_has_bf16_instructions(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: True)
    amx, avx512, plain = (cpuinfo(tmp_path, n, f) for n, f in
                          (("a", "avx512_bf16 amx_bf16 amx_tile"), ("b", "avx512f avx512_bf16"), ("c", "avx2")))
    assert (cpu_bf16_support(amx), cpu_bf16_support(avx512), cpu_bf16_support(plain)) == \
        ("amx_bf16", "avx512_bf16", None)
    assert choose_mixed_precision(None, "cpu", "bf16", cpuinfo=amx) == "bf16"
    with caplog.at_level("INFO"):
        assert choose_mixed_precision(None, "cpu", "bf16", cpuinfo=plain) == "no"
    assert "no native bf16" in caplog.text
    assert choose_mixed_precision(None, "cpu", "no", cpuinfo=amx) == "no"  # a model that measured no gain
    assert choose_mixed_precision("no", "cpu", "bf16", cpuinfo=amx) == "no"  # the command's choice wins
    assert choose_mixed_precision(None, "cpu", "no", stored="bf16", cpuinfo=plain) == "bf16"  # a resume keeps it
    assert choose_mixed_precision(None, "cuda", "no", cpuinfo=plain) == "bf16"


def squared_error(model, batch):
    x, y = batch
    return (model(x) - y).pow(2).mean()


def train(output_dir, epochs=2, resume=None, lr=1e-3, revision="abc", precision="no"):
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(8, 3, generator=torch.Generator().manual_seed(1)), torch.randn(8, 1))
    config = FitConfig(epochs=epochs, batch_size=4, learning_rate=lr, mixed_precision=precision)
    identity = run_identity({"epochs": epochs, "learning_rate": lr, "mixed_precision": precision,
                             "resume": resume, "output_dir": str(output_dir)}, revision)
    return fit(torch.nn.Linear(3, 1), data, squared_error, config, output_dir, resume=resume, device="cpu",
               identity=identity)


def test_a_resume_with_other_settings_or_from_another_revision_is_refused_in_one_line(tmp_path):
    train(tmp_path, epochs=1)
    with pytest.raises(DataError, match=r"other settings \(learning_rate: 0.001 -> 0.002\)"):
        train(tmp_path, epochs=1, resume="latest", lr=2e-3)
    with pytest.raises(DataError, match="started from revision abc, this command runs def"):
        train(tmp_path, epochs=1, resume="latest", revision="def")
    with pytest.raises(DataError, match="epochs: 1 -> 2"):
        train(tmp_path, epochs=2, resume="latest")
    resumed = train(tmp_path, epochs=1, resume="latest")  # the same command continues (here: nothing left)
    assert resumed.resumes == 1
    assert read_history(tmp_path / "checkpoints" / "epoch-0001")["identity"]["revision"] == "abc"


def test_a_resumed_run_keeps_the_precision_it_started_with(tmp_path, monkeypatch):
    train(tmp_path, epochs=1)
    history = tmp_path / "checkpoints" / "epoch-0001" / "fit_history.json"
    stored = json.loads(history.read_text())
    stored["identity"]["config"]["mixed_precision"] = "bf16"  # as a run started on a CPU with bf16 would store
    history.write_text(json.dumps(stored))
    options = FitOptions(mixed_precision=None, resume="latest")
    monkeypatch.setattr("vae_diffusion.core.precision.cpu_bf16_support", lambda *a, **k: None)
    assert run_precision(options, "cpu", tmp_path / "checkpoints") == "bf16"  # stored, though this CPU lacks it
    assert run_precision(FitOptions(mixed_precision=None), "cpu", tmp_path / "checkpoints") == "no"
    stored["identity"]["config"]["channels_last"] = True
    history.write_text(json.dumps(stored))
    assert run_channels_last(options, "cuda", tmp_path / "checkpoints") is True  # a resume keeps its layout
    assert run_channels_last(FitOptions(channels_last=False, resume="latest"), "cpu", tmp_path) is False


def test_the_models_train_with_the_cpu_setting_the_speed_table_chose():
    from mvadl import REPO_ROOT
    from vae_diffusion.diffusion.classifier import ClassifierConfig
    from vae_diffusion.diffusion.train import TrainConfig as DdpmConfig
    from vae_diffusion.guidance.training import TrainConfig as TextToDigitConfig
    from vae_diffusion.vae.train import TrainConfig as VaeConfig
    table = json.loads((REPO_ROOT / "results" / "speed" / "image_steps.json").read_text())["metrics"]["models"]
    chosen = {name: row["chosen"] for name, row in table.items()}
    for name, config in (("vae", VaeConfig), ("ddpm", DdpmConfig), ("text_to_digit", TextToDigitConfig),
                         ("classifier", ClassifierConfig)):
        precision = "bf16" if "bf16" in chosen[name] else "no"
        assert (config.CPU_MIXED_PRECISION, getattr(config, "CPU_CHANNELS_LAST", False)) == \
            (precision, "channels_last" in chosen[name]), name


def test_a_channels_last_run_trains_the_same_model(tmp_path):
    def run(channels_last, output_dir):
        torch.manual_seed(0)
        data = TensorDataset(torch.randn(8, 2, 6, 6, generator=torch.Generator().manual_seed(1)), torch.randn(8, 4))
        model = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
        config = FitConfig(epochs=2, batch_size=4, channels_last=channels_last)
        return fit(model, data, squared_error, config, output_dir, device="cpu")
    plain, last = run(False, tmp_path / "plain"), run(True, tmp_path / "last")
    assert last.model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert last.epoch_losses == pytest.approx(plain.epoch_losses, rel=1e-5)


def test_a_shipped_folder_is_verified_before_use(tmp_path):
    folder = tmp_path / "v1"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "weights.bin").write_bytes(b"weights")
    (folder / "record.json").write_text(json.dumps({"git_revision": "abc"}))
    sums = write_sha256sums(folder)
    assert verify_artifact(folder, pinned=("unet/weights.bin", sums["unet/weights.bin"])) == folder
    with pytest.raises(DataError, match="is not the pinned"):
        verify_artifact(folder, pinned=("unet/weights.bin", "0" * 64))
    (folder / "unet" / "weights.bin").write_bytes(b"weightz")
    with pytest.raises(DataError, match=r"weights.bin: sha256 differs"):
        verify_artifact(folder)
    (folder / "unet" / "weights.bin").write_bytes(b"weights")
    (folder / "extra.txt").write_text("?")
    with pytest.raises(DataError, match=r"not listed in SHA256SUMS: \['extra.txt'\]"):
        verify_artifact(folder)


def test_ship_builds_a_verified_version_and_never_overwrites_one(tmp_path, capsys):
    from vae_diffusion import ship
    from vae_diffusion.core.classifier import MnistClassifier, load_classifier, save_classifier

    weights = save_classifier(MnistClassifier(), tmp_path / "model.safetensors")
    record = tmp_path / "classifier.json"
    record.write_text(json.dumps({"git_revision": "abc", "metrics": {"test_accuracy": 0.99}}))
    argv = ["--model", "classifier", "--source", str(weights), "--record", str(record), "--version", "v2",
            "--artifacts", str(tmp_path / "artifacts")]
    assert ship.main(ship.run, ship.ShipConfig, argv) == 0
    folder = tmp_path / "artifacts" / "mnist_classifier" / "v2"
    assert sorted(p.name for p in folder.iterdir()) == ["SHA256SUMS", "model.safetensors", "record.json",
                                                        "ship.json"]
    shipped = json.loads((folder / "ship.json").read_text())
    assert shipped["source_revision"] == "abc" and shipped["pinned_file"] == "model.safetensors"
    assert verify_artifact(folder) == folder
    assert load_classifier(folder / "model.safetensors") is not None  # verified on load
    assert ship.main(ship.run, ship.ShipConfig, argv) == 1  # never overwritten
    assert "never overwritten" in capsys.readouterr().err
    (folder / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(DataError, match="sha256 differs"):
        load_classifier(folder / "model.safetensors")


def test_a_shipped_vae_loads_the_trained_weights(tmp_path):
    from vae_diffusion import ship
    from vae_diffusion.vae.checkpoint import Progress, load_model, load_shipped_model, save_checkpoint
    from vae_diffusion.vae.model import VAE

    model = VAE(z_dim=2, hidden=[16])
    optimizer = torch.optim.Adam(model.parameters())
    save_checkpoint(tmp_path / "vae.pt", Progress(), model, optimizer,
                    torch.optim.lr_scheduler.StepLR(optimizer, 1), {}, torch.device("cpu"))
    record = tmp_path / "metrics.json"
    record.write_text(json.dumps({"git_revision": "abc"}))
    assert ship.main(ship.run, ship.ShipConfig, ["--model", "vae", "--source", str(tmp_path / "vae.pt"), "--record",
                                                 str(record), "--version", "v1", "--artifacts",
                                                 str(tmp_path / "artifacts")]) == 0
    folder = tmp_path / "artifacts" / "vae_mnist" / "v1"
    shipped = load_shipped_model(folder)
    trained = load_model(tmp_path / "vae.pt")
    assert shipped.config == trained.config
    assert all(torch.equal(a, b) for a, b in zip(shipped.state_dict().values(), trained.state_dict().values()))
    sums = (folder / "SHA256SUMS").read_text()
    pin = ("model.safetensors", next(line.split()[0] for line in sums.splitlines() if "model.safetensors" in line))
    assert load_shipped_model(folder, pinned=pin) is not None
    with pytest.raises(DataError, match="is not the pinned"):
        load_shipped_model(folder, pinned=("model.safetensors", "0" * 64))
