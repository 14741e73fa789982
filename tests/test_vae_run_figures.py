"""The redraw of a VAE run's figures reads its saved files through guards: a broken record or archive is one
DataError naming the file, and the archive is closed once read."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mvadl.data import DataError
from vae_diffusion.vae import plots
from vae_diffusion.vae.run_figures import (
    load_arrays,
    make_figures,
    read_record,
    redraw_naive_mc,
    redraw_samples_over_training,
    save_arrays,
)


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


def test_the_grid_over_training_is_redrawn_alone_with_the_recorded_digits(tmp_path, monkeypatch):
    """No classifier and no other figure: the digits come from sample_classes.json, the one PNG is written."""
    grids = {e: torch.rand(64, 784) for e in (0, 10, 80)}
    save_arrays(tmp_path, "metrics", grids, grids[0][:4], grids[0][:4])
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": {"history": []}}))
    read = {"10": {"labels": [1] * 64, "confidence": [0.9] * 64}, "80": {"labels": [7] * 64, "confidence": [1.0] * 64}}
    (tmp_path / "sample_classes.json").write_text(json.dumps({"metrics": {"epochs": read}}))
    drawn = {}
    figure = plots.samples_over_training_figure
    monkeypatch.setattr(plots, "samples_over_training_figure",
                        lambda g, digits=None: drawn.update(digits) or figure(g, digits=digits))
    path = redraw_samples_over_training(tmp_path)
    assert path == tmp_path / "samples_over_training.png" and path.is_file()
    assert drawn == {10: [1] * 64, 80: [7] * 64}
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["samples_over_training.png"]
