"""The shipped VAE: verified before use and sampling on a clone without data or checkpoints."""
import json
import shutil

import pytest
import torch

from mvadl.data import DataError
from vae_diffusion.vae.checkpoint import SHIPPED_MODEL, SHIPPED_MODEL_PIN, load_shipped_model


def test_the_shipped_vae_samples_without_data_or_checkpoints(monkeypatch, tmp_path):
    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no checkpoints/, no data/: only the committed artefact
    model = load_shipped_model()
    z = torch.randn(4, model.config["z_dim"], generator=torch.Generator().manual_seed(0))
    images = model.pixel_means(z)
    assert images.shape == (4, 784) and torch.isfinite(images).all() and 0 <= images.min() <= images.max() <= 1
    record = json.loads((SHIPPED_MODEL / "record.json").read_text())
    assert record["git_revision"] != "unknown" and not record["git_revision"].endswith("-dirty")
    assert record["metrics"]["z_dim"] == model.config["z_dim"] and record["metrics"]["hidden"] == model.config["hidden"]


def test_a_changed_copy_of_the_shipped_vae_is_refused(tmp_path):
    copy = tmp_path / "v1"
    shutil.copytree(SHIPPED_MODEL, copy)
    (copy / SHIPPED_MODEL_PIN[0]).write_bytes(b"other weights")
    with pytest.raises(DataError, match="sha256"):
        load_shipped_model(copy)
