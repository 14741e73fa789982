"""The shared training loop (core/fit.py) on a one-layer model: checkpoint rotation after saving and after a
resume (as diffusers' ``test_unconditional`` checks ``checkpoints_total_limit``), and the configs built from
entry-point options."""
import pytest
import torch
from torch.utils.data import TensorDataset

from tests.runner_helpers import Interrupted, interrupt_after_first_checkpoint
from vae_diffusion.core.fit import FitConfig, fit, list_checkpoints, read_history
from vae_diffusion.diffusion import classifier, train
from vae_diffusion.guidance import training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def squared_error(model, batch):
    x, y = batch
    return (model(x) - y).pow(2).mean()


def run(output_dir, epochs, keep, resume=None):
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(8, 3, generator=torch.Generator().manual_seed(1)), torch.randn(8, 1))
    config = FitConfig(epochs=epochs, batch_size=4, checkpoints_to_keep=keep, log_every=1)
    return fit(torch.nn.Linear(3, 1), data, squared_error, config, output_dir, resume=resume, device="cpu")


def kept(output_dir) -> list[int]:
    return [epoch for epoch, _ in list_checkpoints(output_dir / "checkpoints")]


def test_checkpoints_rotate_after_saving_and_after_resuming(tmp_path):
    run(tmp_path, epochs=3, keep=2)
    assert kept(tmp_path) == [2, 3]  # epoch 1 deleted when epoch 3 was saved
    result = run(tmp_path, epochs=5, keep=2, resume="latest")
    assert kept(tmp_path) == [4, 5]  # the resumed run rotates the checkpoints it found too
    assert result.resumes == 1 and len(result.epoch_losses) == 5
    assert read_history(tmp_path / "checkpoints" / "epoch-0005")["epoch_losses"] == result.epoch_losses


def test_keeping_zero_checkpoints_keeps_all_and_rotation_spares_other_folders(tmp_path):
    (tmp_path / "checkpoints" / "epoch-notes").mkdir(parents=True)
    run(tmp_path, epochs=3, keep=0)
    assert kept(tmp_path) == [1, 2, 3]
    run(tmp_path, epochs=4, keep=1, resume="latest")
    assert kept(tmp_path) == [4] and (tmp_path / "checkpoints" / "epoch-notes").is_dir()


def test_resumed_fit_repeats_the_uninterrupted_losses(tmp_path, monkeypatch):
    whole = run(tmp_path / "whole", epochs=3, keep=1)
    with monkeypatch.context() as patch:
        interrupt_after_first_checkpoint(patch)
        with pytest.raises(Interrupted):
            run(tmp_path / "split", epochs=3, keep=1)
    resumed = run(tmp_path / "split", epochs=3, keep=1, resume="latest")
    assert resumed.epoch_losses == whole.epoch_losses
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.parameters(), whole.model.parameters()))


def test_fit_config_takes_the_entry_points_options_by_name():
    options = training.TrainConfig(epochs=3, batch_size=5, learning_rate=2e-3, warmup_steps=7, ema_decay=0.9,
                                   checkpoints_to_keep=0, steps_per_epoch=11, seed=4)
    assert FitConfig.from_options(options, mixed_precision="bf16", channels_last=False,
                                  max_steps_per_epoch=11) == FitConfig(
        epochs=3, batch_size=5, learning_rate=2e-3, warmup_steps=7, ema_decay=0.9, mixed_precision="bf16",
        checkpoints_to_keep=0, max_steps_per_epoch=11, seed=4, checkpoint_minutes=10.0)
    ddpm = train.TrainConfig(seed=2)
    assert FitConfig.from_options(ddpm, mixed_precision="no", channels_last=True) == FitConfig(
        epochs=16, batch_size=256, learning_rate=5e-4, warmup_steps=500, ema_decay=0.9995, seed=2, channels_last=True,
        checkpoint_minutes=10.0)
    assert FitConfig.from_options(classifier.ClassifierConfig(), weight_decay=5e-4, mixed_precision="no",
                                  channels_last=False) == FitConfig(
        epochs=8, batch_size=128, learning_rate=3e-3, weight_decay=5e-4, warmup_steps=200)


def test_a_run_resumed_within_an_epoch_repeats_the_uninterrupted_one(tmp_path, monkeypatch):
    from vae_diffusion.core import fit as fit_module

    def run_steps(output_dir, resume=None):
        torch.manual_seed(0)
        data = TensorDataset(torch.randn(12, 3, generator=torch.Generator().manual_seed(1)), torch.randn(12, 1))
        config = FitConfig(epochs=2, batch_size=4, checkpoints_to_keep=0, log_every=1, checkpoint_minutes=0.0)
        return fit(torch.nn.Linear(3, 1), data, squared_error, config, output_dir, resume=resume, device="cpu")

    whole = run_steps(tmp_path / "whole")
    folders = sorted(p.name for p in (tmp_path / "whole" / "checkpoints").iterdir())
    assert folders == ["epoch-0001", "epoch-0002"]  # a mid-epoch checkpoint goes when its epoch is saved whole
    save = fit_module._save_mid_epoch_checkpoint

    def save_then_stop(accelerator, checkpoint_dir, epochs_done, steps, history):
        save(accelerator, checkpoint_dir, epochs_done, steps, history)
        if (epochs_done, steps) == (1, 1):
            raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(fit_module, "_save_mid_epoch_checkpoint", save_then_stop)
        with pytest.raises(Interrupted):
            run_steps(tmp_path / "split")
    checkpoints = tmp_path / "split" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch-0001", "epoch-0001-step-000001"]
    assert read_history(checkpoints / "epoch-0001-step-000001")["partial"]["steps"] == 1
    resumed = run_steps(tmp_path / "split", resume="latest")
    assert resumed.resumes == 1 and resumed.epoch_losses == whole.epoch_losses
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.parameters(), whole.model.parameters()))
    assert sorted(p.name for p in checkpoints.iterdir()) == ["epoch-0001", "epoch-0002"]
