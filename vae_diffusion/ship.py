"""Ship a trained image model as a versioned artefact: ``artifacts/<model>/v<N>/``.

    python -m vae_diffusion.ship --model classifier --source checkpoints/mnist_classifier/model.safetensors \\
        --record results/diffusion/classifier.json --version v2
    python -m vae_diffusion.ship --model text_to_digit --source checkpoints/text_to_digit/pipeline \\
        --record results/guidance/training.json --version v1 --dtype fp16
    python -m vae_diffusion.ship --model vae --source checkpoints/vae/metrics.pt \\
        --record results/vae/metrics.json --version v1

The folder holds the weights (the classifier's safetensors; a diffusers pipeline as ``save_pretrained`` writes it;
the VAE's weights as safetensors with its ``config.json``), ``record.json`` (the results record of the run that
made the weights: its revision, wall time and resumes), ``ship.json`` (what was shipped: dtype, sizes, digests)
and ``SHA256SUMS`` over all of them. It is built in a staging folder and renamed into place, and an existing
version is never overwritten. Loaders verify the folder (:func:`vae_diffusion.core.artifacts.verify_artifact`)
against the sha256 their default pins; after shipping, set that pin to the digest this command prints.
"""
from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import save_file

from mvadl.data import DataError
from mvadl.io import atomic_write_text
from mvadl.runner import REQUIRED, Context, ToolConfig, main, option
from vae_diffusion.core.artifacts import ARTIFACTS_DIR, write_sha256sums

logger = logging.getLogger(__name__)

#: The file of each shipped model whose sha256 the code's default pins.
PINNED_FILE = {"classifier": "model.safetensors", "vae": "model.safetensors",
               "text_to_digit": "unet/diffusion_pytorch_model.safetensors",
               "ddpm": "unet/diffusion_pytorch_model.safetensors"}
#: artifacts/<folder> of each model.
FOLDER = {"classifier": "mnist_classifier", "vae": "vae_mnist", "text_to_digit": "text_to_digit",
          "ddpm": "ddpm_mnist"}


@dataclass
class ShipConfig(ToolConfig):
    """Copy a trained model's weights and record into a new artefact version."""

    model: Literal["classifier", "vae", "text_to_digit", "ddpm"] = option(REQUIRED, "which model")
    source: str = option(REQUIRED, "the trained weights: classifier safetensors, VAE checkpoint .pt, or the "
                                   "pipeline folder of a diffusion model")
    record: str = option(REQUIRED, "the results record of the run that made the weights")
    version: str = option(REQUIRED, "artefact version, v<N>")
    dtype: Literal["fp32", "fp16"] = option("fp32", "stored precision of a pipeline's weights")
    artifacts: str = option(str(ARTIFACTS_DIR), "root of the artefacts")

    def __post_init__(self) -> None:
        if not (self.version.startswith("v") and self.version[1:].isdigit()):
            raise ValueError(f"--version {self.version!r}: expected v<N>")
        if self.dtype == "fp16" and self.model not in ("text_to_digit", "ddpm"):
            raise ValueError("--dtype fp16 is for the diffusion pipelines")


def _copy_weights(config: ShipConfig, staging: Path) -> None:
    source = Path(config.source)
    if not source.exists():
        raise DataError(f"{source}: not found (train the model first)")
    if config.model == "classifier":
        shutil.copyfile(source, staging / "model.safetensors")
    elif config.model == "vae":
        from vae_diffusion.vae.checkpoint import load_checkpoint

        state = load_checkpoint(source)
        save_file({k: v.detach().cpu().contiguous() for k, v in state["model"].items()},
                  str(staging / "model.safetensors"))
        atomic_write_text(staging / "config.json", json.dumps(state["model_config"], indent=2) + "\n")
    else:
        from vae_diffusion.core.pipelines import load_local_pipeline
        from vae_diffusion.guidance.pipeline import TextToDigitPipeline

        pipeline = load_local_pipeline(source, classes={"TextToDigitPipeline": TextToDigitPipeline})
        if config.dtype == "fp16":
            pipeline = pipeline.to(torch.float16)
        pipeline.save_pretrained(staging)
        for extra in source.glob("*.json"):  # the training record kept with the pipeline
            if not (staging / extra.name).exists():
                shutil.copyfile(extra, staging / extra.name)


def run(config: ShipConfig, ctx: Context) -> Path:
    destination = Path(config.artifacts) / FOLDER[config.model] / config.version
    if destination.exists():
        raise DataError(f"{destination}: exists; a shipped version is never overwritten (ship a new version)")
    record_path = Path(config.record)
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise DataError(f"{record_path}: not a readable results record ({error})") from None
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{config.version}-", dir=destination.parent))
    try:
        _copy_weights(config, staging)
        atomic_write_text(staging / "record.json", json.dumps(record, indent=2) + "\n")
        sizes = {p.relative_to(staging).as_posix(): p.stat().st_size for p in sorted(staging.rglob("*")) if p.is_file()}
        ship = {"model": config.model, "version": config.version, "dtype": config.dtype,
                "source_revision": record.get("git_revision"), "pinned_file": PINNED_FILE[config.model],
                "size_bytes": sizes, "total_bytes": sum(sizes.values())}
        atomic_write_text(staging / "ship.json", json.dumps(ship, indent=2) + "\n")
        sums = write_sha256sums(staging)
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in destination.rglob("*") if p.is_file())
    print(f"shipped {destination} ({size / 1e6:.2f} MB); pin {PINNED_FILE[config.model]} "
          f"sha256 {sums[PINNED_FILE[config.model]]}")
    return destination


if __name__ == "__main__":
    sys.exit(main(run, ShipConfig, prog="python -m vae_diffusion.ship", doc=__doc__))
