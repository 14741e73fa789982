"""The shipped text-to-digit model: verified before use and sampling on a clone without data or checkpoints."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mvadl.data import DataError
from vae_diffusion.guidance.evaluation import generate, load_guided_pipeline
from vae_diffusion.guidance.model import DEFAULT_PIPELINE, DEFAULT_PIPELINE_PIN


def test_the_shipped_model_samples_without_data_or_checkpoints(monkeypatch, tmp_path):
    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no checkpoints/, no data/: only the committed artefact
    pipe = load_guided_pipeline(DEFAULT_PIPELINE, torch.device("cpu"))
    image = generate(pipe, ["a red seven"], None, seeds=[0], guidance_scale=5.0, num_inference_steps=2,
                     batch_size=1)
    assert image.shape == (1, 28, 28, 3) and np.isfinite(image).all() and 0 <= image.min() <= image.max() <= 1
    record = json.loads((Path(DEFAULT_PIPELINE) / "record.json").read_text())
    assert record["git_revision"] != "unknown" and not record["git_revision"].endswith("-dirty")


def test_a_changed_copy_of_the_shipped_model_is_refused(tmp_path):
    import shutil
    copy = tmp_path / "v1"
    shutil.copytree(DEFAULT_PIPELINE, copy)
    (copy / DEFAULT_PIPELINE_PIN[0]).write_bytes(b"other weights")
    with pytest.raises(DataError, match="sha256 differs"):
        load_guided_pipeline(copy, torch.device("cpu"))
