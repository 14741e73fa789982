"""The redraw of a VAE run's figures reads its saved files through guards: a broken record or archive is one
DataError naming the file, and the archive is closed once read."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mvadl.data import DataError
from vae_diffusion.vae.run_figures import load_arrays, make_figures, read_record, redraw_naive_mc, save_arrays


def test_a_broken_record_is_one_line_naming_the_file(tmp_path):
    (tmp_path / "naive_mc.json").write_text("{\"metrics\": {")
    with pytest.raises(DataError, match="naive_mc.json: not a valid JSON record"):
        redraw_naive_mc(tmp_path)
    (tmp_path / "naive_mc.json").write_text(json.dumps({"metrics": {}}))
    with pytest.raises(DataError, match="naive_mc.json: no 'metrics.models' in the record"):
        redraw_naive_mc(tmp_path)
    assert read_record(tmp_path / "naive_mc.json", "metrics") == {}


def test_arrays_are_read_into_memory_and_a_broken_archive_is_named(tmp_path):
    grid = torch.rand(64, 784)
    path = save_arrays(tmp_path, "metrics", {0: grid}, grid[:4], grid[:4])
    arrays = load_arrays(path)
    assert isinstance(arrays, dict) and arrays["samples_epoch_000"].shape == (64, 28, 28)
    with pytest.raises(DataError, match="no array 'absent'"):
        load_arrays(path, "absent")
    path.write_bytes(path.read_bytes()[:100])  # a truncated archive
    with pytest.raises(DataError, match="arrays.npz: not a readable .npz archive"):
        load_arrays(path)
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": {}}))
    np.savez(tmp_path / "arrays.npz", samples_epoch_000=np.zeros((64, 28, 28), np.uint8))
    with pytest.raises(DataError, match="metrics.json: no 'history' in the record"):
        make_figures(tmp_path, "metrics")


def test_digit_changes_counts_changed_and_clearly_read_cells():
    from vae_diffusion.vae.sample_classes import digit_changes

    earlier = {"labels": [1] * 64, "confidence": [0.99] * 64}
    later = {"labels": [1] * 60 + [7, 7, 2, 2], "confidence": [0.99] * 62 + [0.5, 0.95]}
    assert digit_changes(earlier, later) == {"n": 64, "changed": 4, "both_clear": 3, "threshold": 0.9,
                                             "clear_pairs": ["1 to 7", "1 to 7", "1 to 2"]}
    assert digit_changes(earlier, later, threshold=0.96)["both_clear"] == 2
