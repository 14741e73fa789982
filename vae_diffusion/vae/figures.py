"""Redraw the figures of a VAE training run from its saved arrays (<prefix>arrays.npz) and results JSON.

    python -m vae_diffusion.vae.figures                 # re-draw results/vae/*.png of the main run
    python -m vae_diffusion.vae.figures --name iwae_k50 # the figures of another run (files iwae_k50_*.png)
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from mvadl.results import results_dir
from mvadl.runner import Context, ExperimentConfig, main, option
from vae_diffusion.vae.run_figures import make_figures


@dataclass
class FiguresConfig(ExperimentConfig):
    """Redraw the figures of a VAE training run (nothing random; no --quick size)."""

    name: str = option("metrics", "results name of the run (results/vae/<name>.json)")


def run(config: FiguresConfig, ctx: Context) -> list:
    paths = make_figures(results_dir() / "vae", config.name)
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    sys.exit(main(run, FiguresConfig, prog="python -m vae_diffusion.vae.figures", doc=__doc__))
