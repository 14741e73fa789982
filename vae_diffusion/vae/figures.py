"""Redraw the figures of a VAE training run from its saved arrays (<prefix>arrays.npz) and results JSON, and
record the digit the MNIST classifier reads in each cell of its sample grids (<prefix>sample_classes.json); with
the main run, also Q2's naive_mc.png from results/vae/naive_mc.json.

    python -m vae_diffusion.vae.figures                 # re-draw results/vae/*.png of the main run
    python -m vae_diffusion.vae.figures --name iwae_k50 # the figures of another run (files iwae_k50_*.png)
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from mvadl.results import results_dir
from mvadl.runner import Context, main, option
from vae_diffusion.core.classifier import ClassifierOptions
from vae_diffusion.vae.run_figures import make_figures, record_sample_classes, redraw_naive_mc


@dataclass
class FiguresConfig(ClassifierOptions):
    """Redraw the figures of a VAE training run and read the digits of its sample grids again (nothing random;
    no --quick size)."""

    name: str = option("metrics", "results name of the run (results/vae/<name>.json)")


def run(config: FiguresConfig, ctx: Context) -> list:
    folder = results_dir() / "vae"
    paths = make_figures(folder, config.name, digits=record_sample_classes(ctx, folder, config.name, config.classifier))
    if config.name == "metrics" and (naive_mc := redraw_naive_mc(folder)) is not None:
        paths.append(naive_mc)
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    sys.exit(main(run, FiguresConfig, prog="python -m vae_diffusion.vae.figures", doc=__doc__))
