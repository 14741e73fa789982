"""A module run directly with --quick writes its checkpoints, logs and weights into folders of its own under
runs/quick/, never into the folders of a real run (checkpoints/..., runs/guidance_design) that a later full run
would resume from or ship."""
from __future__ import annotations

import importlib

import pytest

from mvadl.runner import parse_config

#: module -> (its config class, the options naming folders or files it writes).
WRITERS = {
    "vae_diffusion.guidance.design": ("DesignConfig", ("output_dir",)),
    "vae_diffusion.diffusion.classifier": ("ClassifierConfig", ("weights", "output_dir")),
    "vae_diffusion.diffusion.train": ("TrainConfig", ("output_dir",)),
    "vae_diffusion.guidance.train": ("TrainConfig", ("output_dir",)),
    "vae_diffusion.vae.train": ("TrainConfig", ("checkpoint_dir", "log_dir")),
}


@pytest.mark.parametrize("module", list(WRITERS))
def test_quick_runs_write_into_folders_of_their_own(module):
    class_name, options = WRITERS[module]
    config_cls = getattr(importlib.import_module(module), class_name)
    full, quick = parse_config(config_cls, []), parse_config(config_cls, ["--quick"])
    for option in options:
        assert str(getattr(quick, option)).startswith("runs/quick/"), (option, getattr(quick, option))
        assert getattr(quick, option) != getattr(full, option)
