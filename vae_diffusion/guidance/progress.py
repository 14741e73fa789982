"""Prompt following of the text-to-digit model along its training: quality per training minute.

    python -m vae_diffusion.guidance.progress                              # the reference run; 2 CPU cores: ~6 min
    python -m vae_diffusion.guidance.progress --run-dir /tmp/t2d --quick   # smoke test

For each kept checkpoint ``RUN_DIR/checkpoints/epoch-N`` (the reference training keeps them all,
``--checkpoints-to-keep 0``), the EMA weights of that moment are put into the run's saved pipeline and scored
like the design study's variants (``design.py``: image i from ``derive_seed(seed, "image", i)``, the same
guidance scale and sampler): digit read on "a <digit>", images with no digit, colour obeyed on
"a <colour> <digit>", each share with its Wilson interval. The training minutes, resumes and images seen come
from the checkpoint's run history (``fit_history.json``), whose run identity (config and start revision) must be
that of the pipeline's training record: a checkpoint of another run is refused, in one line. Writes
results/guidance/progress.{json,png}.
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from mvadl.data import DataError
from mvadl.plotting import save_figure
from mvadl.results import results_dir
from mvadl.runner import Context, main, option
from vae_diffusion.core.classifier import ClassifierOptions, load_classifier
from vae_diffusion.core.fit import list_checkpoints, load_ema_weights, read_history
from vae_diffusion.core.identity import run_identity
from vae_diffusion.core.pipelines import read_training_record
from vae_diffusion.guidance.evaluation import experiment_seeds, follows_prompts, load_guided_pipeline
from vae_diffusion.guidance.model import DEFAULT_RUN_DIR, TextConditionedDenoiser
from vae_diffusion.guidance.plots import plot_progress

logger = logging.getLogger(__name__)


@dataclass
class ProgressConfig(ClassifierOptions):
    """Score the checkpoints of a text-to-digit training (the reference run's settings)."""

    run_dir: str = option(DEFAULT_RUN_DIR, "training output folder: pipeline/ and checkpoints/epoch-N/")
    epochs: list[int] | None = option(None, "checkpoints to score, by epoch (None: every one kept)")
    samples: int = option(100, "seeds per check ('a <digit>' and 'a <colour> <digit>'), as in the design study")
    guidance_scale: float = option(5.0, "classifier-free guidance scale of the checks")
    num_inference_steps: int = option(20, "DDIM steps of the checks")
    QUICK: ClassVar[dict] = {"samples": 10, "num_inference_steps": 2}


def run(config: ProgressConfig, ctx: Context) -> Path:
    run_dir = Path(config.run_dir)
    pipe = load_guided_pipeline(run_dir / "pipeline", ctx.device)
    record = read_training_record(run_dir / "pipeline")
    if record is None:
        raise DataError(f"{run_dir / 'pipeline'}: no training record (train with python -m "
                        "vae_diffusion.guidance.train)")
    training = record["config"]
    found = dict(list_checkpoints(run_dir / "checkpoints"))
    epochs = config.epochs or sorted(found)
    missing = [e for e in epochs if e not in found]
    if not found or missing:
        raise DataError(f"{run_dir / 'checkpoints'}: no checkpoint epoch-N for epoch(s) "
                        f"{missing or 'any'} (train with --checkpoints-to-keep 0 to keep every epoch)")
    histories = {epoch: read_history(found[epoch]) for epoch in epochs}  # every checkpoint checked before scoring
    revisions = sorted({same_run(found[epoch], history, training) for epoch, history in histories.items()} - {None})
    if len(revisions) > 1:
        raise DataError(f"{run_dir / 'checkpoints'}: checkpoints of runs started from different revisions "
                        f"({', '.join(revisions)})")
    model = TextConditionedDenoiser(pipe.unet, pipe.text_encoder)
    classifier = load_classifier(config.classifier, ctx.device)
    seeds = experiment_seeds(config.seed, config.samples)
    points = []
    for epoch in epochs:
        history = histories[epoch]
        with torch.no_grad():
            for parameter, ema in zip(model.parameters(), load_ema_weights(found[epoch]), strict=True):
                parameter.copy_(ema.to(parameter.device))
        scores = follows_prompts(pipe, classifier, seeds, config.guidance_scale, config.num_inference_steps)
        point = {"epoch": epoch, "images_seen": epoch * training["steps_per_epoch"] * training["batch_size"],
                 "training_minutes": history["seconds"] / 60, "resumes": history["resumes"],
                 "epoch_loss": history["epoch_losses"][-1], **scores}
        logger.info("epoch %d (%.1f min): digit read %.0f%%, colour obeyed %.0f%%, no digit %d/%d", epoch,
                    point["training_minutes"], 100 * point["digit_rate"], 100 * point["colour_obeyed_rate"],
                    point["no_digit_count"], point["n_samples"])
        points.append(point)
    save_figure(plot_progress(points), results_dir() / "guidance" / "progress.png")
    return ctx.record("guidance", "progress", {"checkpoints": points, "image_seeds": seeds,
                                               "run_revision": revisions[0] if revisions else None,
                                               "training_config": training}, config=config.as_dict())


def same_run(checkpoint: Path, history: dict, training: dict) -> str | None:
    """The start revision of the run that wrote ``checkpoint`` (None for a checkpoint written before runs kept
    their identity); a DataError when its identity's config is not that of the pipeline's training record
    ``training`` (less the keys one stretch of a run may change, ``core.identity.RUN_LOCAL_KEYS``)."""
    identity = history.get("identity")
    if identity is None:
        return None
    recorded = run_identity(training, identity["revision"])["config"]
    differ = sorted(k for k in recorded.keys() | identity["config"].keys()
                    if recorded.get(k) != identity["config"].get(k))
    if differ:
        raise DataError(f"{checkpoint}: written by another run than the pipeline's (settings differ: "
                        f"{', '.join(differ)})")
    return identity["revision"]


if __name__ == "__main__":
    sys.exit(main(run, ProgressConfig, prog="python -m vae_diffusion.guidance.progress", doc=__doc__))
