"""Train the MLP VAE on dynamically binarized MNIST (Q9), record samples (Q10) and evaluate log p(x).

    python -m vae_diffusion.vae.train                 # z=20, 80 epochs, samples at 0/10/80, IS k=5000
    python -m vae_diffusion.vae.train --quick         # same code path on a subset, about a minute on CPU
    python -m vae_diffusion.vae.train --resume        # continue from checkpoints/vae/<name>.pt exactly

All randomness of epoch e (shuffling, binarization, reparameterization noise) comes from generators seeded
with derive_seed(seed, "epoch", e, ...), and the global torch RNG states are checkpointed too, so a run
resumed at an epoch boundary reproduces an uninterrupted one. Writes results/vae/<name>.json ($RESULTS_DIR
overrides results/), figures next to it, TensorBoard events under --log-dir and a checkpoint each epoch.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from mvadl.results import results_dir
from mvadl.runner import Context, main, option
from vae_diffusion.core.classifier import ClassifierOptions
from vae_diffusion.core.identity import run_identity
from vae_diffusion.core.precision import AUTOCAST_DTYPES, choose_mixed_precision
from vae_diffusion.vae import run_figures, training
from vae_diffusion.vae.checkpoint import Progress, checkpoint_path, resume, save_checkpoint, stored_mixed_precision
from vae_diffusion.vae.data import BINARIZATION, TEST_BINARIZATION_SEED, train_and_test_sets
from vae_diffusion.vae.likelihood import evaluate_elbo, importance_sampled_log_px
from vae_diffusion.vae.model import VAE

logger = logging.getLogger("vae.train")


@dataclass
class TrainConfig(ClassifierOptions):
    """Train the MLP VAE on dynamically binarized MNIST (defaults: the settings of Q9)."""

    epochs: int = option(80, "total number of training epochs")
    batch_size: int = option(128, "training images per optimizer step")
    z_dim: int = option(20, "latent size D")
    hidden: list[int] = option([1024, 1024], "hidden widths of the encoder MLP (the decoder mirrors them)")
    lr: float = option(1e-3, "Adam learning rate")
    lr_decay: float = option(0.97, "learning-rate factor applied after every epoch")
    iw_samples: int = option(1, "K of the training objective: 1 = ELBO with analytic KL (eq. 17), K>1 = IWAE bound")
    is_samples: int = option(5000, "k of the final importance-sampled log p(x)")
    is_batch_size: int = option(100, "test images per importance-sampling batch")
    is_chunk_size: int = option(500, "importance samples per forward pass")
    sample_epochs: list[int] = option([0, 10, 80], "epochs after which the 8x8 sample grid is recorded "
                                      "(0 = before training); the last epoch is always recorded")
    train_subset: int | None = option(None, "use only the first N training images")
    test_subset: int | None = option(None, "use only the first N test images")
    name: str = option("metrics", "results name: results/vae/<name>.json; figures of a name other than "
                       "'metrics' are prefixed with '<name>_'")
    figures: bool = option(True, "write sample/reconstruction/curve figures at the end")
    checkpoint_dir: str = option("checkpoints/vae", "checkpoint <name>.pt, rewritten each epoch")
    log_dir: str = option("runs/vae", "TensorBoard event files go to <log-dir>/<name>")
    resume: bool = option(False, "continue from the checkpoint of --name")
    stop_after: int | None = option(None, "stop after this many epochs in this invocation (resume later with "
                                    "--resume)")
    data_dir: str | None = option(None, "root folder of the datasets, holding mnist/; None: $DATA_DIR, "
                                  "else ./data")
    mixed_precision: Literal["no", "bf16"] | None = option(None, "autocast precision of training (None: bf16 on a "
                                                                 "GPU; on the CPU the measured choice where the "
                                                                 "CPU has bf16 instructions; a resumed run keeps "
                                                                 "its own); evaluations run in fp32")

    #: The CPU precision ``python -m vae_diffusion.speed`` measured as fastest without changing the loss curve.
    CPU_MIXED_PRECISION: ClassVar[str] = "bf16"

    #: --quick: 2 epochs on 2000 train / 500 test images, hidden 256 256, IS k=100, folders under runs/quick/.
    QUICK: ClassVar[dict] = {"epochs": 2, "hidden": [256, 256], "is_samples": 100, "train_subset": 2000,
                             "test_subset": 500, "checkpoint_dir": "runs/quick/vae/checkpoints",
                             "log_dir": "runs/quick/vae/logs"}

    def __post_init__(self) -> None:
        if min(self.epochs, self.batch_size, self.iw_samples, self.is_samples) < 1:
            raise ValueError("--epochs, --batch-size, --iw-samples and --is-samples must be positive")


def run(config: TrainConfig, ctx: Context) -> dict:
    """Train (or continue training), evaluate, record; returns the metrics ({} when stopped early)."""
    device = ctx.device

    # Data: training pixel probabilities (binarized afresh every epoch), one fixed binarization of the test set
    train_probabilities, test_x = train_and_test_sets(config.data_dir, train_subset=config.train_subset,
                                                      test_subset=config.test_subset)
    train_probabilities = train_probabilities.to(device)

    # Model and optimizer
    model = VAE(z_dim=config.z_dim, hidden=config.hidden).to(device)
    optimizer, scheduler = training.make_optimizer(model, config.lr, config.lr_decay)
    fixed_z = training.fixed_prior_draws(config.z_dim)

    # A fresh start, or exactly where the checkpoint stopped (same settings, precision and revision)
    checkpoint = checkpoint_path(config.checkpoint_dir, config.name)
    mixed_precision = choose_mixed_precision(config.mixed_precision, device, config.CPU_MIXED_PRECISION,
                                             stored=stored_mixed_precision(checkpoint) if config.resume else None)
    recorded_config = {**config.as_dict(), "mixed_precision": mixed_precision}
    identity = run_identity(recorded_config, ctx.revision)
    if config.resume:
        progress = resume(checkpoint, model, optimizer, scheduler, config.as_dict(), device, identity)
        logger.info("resumed from %s after epoch %d", checkpoint, progress.epoch)
    else:
        progress = Progress(sample_grids={0: training.decode_means(model, fixed_z)}, identity=identity)

    # Epochs: train, evaluate on the test set, decode the fixed prior draws, log, checkpoint
    last_epoch = config.epochs if config.stop_after is None else min(config.epochs,
                                                                      progress.epoch + config.stop_after)
    writer = SummaryWriter(str(Path(config.log_dir) / config.name), purge_step=progress.epoch + 1)
    for epoch in tqdm(range(progress.epoch + 1, last_epoch + 1), desc="VAE training", initial=progress.epoch,
                      total=config.epochs):
        record = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
        record.update(training.train_epoch(
            model, optimizer, train_probabilities, batch_size=config.batch_size, iw_samples=config.iw_samples,
            shuffle_generator=ctx.torch_generator("epoch", epoch, "shuffle"),
            noise_generator=ctx.torch_generator("epoch", epoch, "noise", device=device), description=f"epoch {epoch}",
            autocast_dtype=AUTOCAST_DTYPES[mixed_precision]))
        scheduler.step()
        test = evaluate_elbo(model, test_x, seed=ctx.seed("test_elbo"), device=device)  # same noise every epoch
        record.update({f"test_{key}": value for key, value in test.items()})
        progress.epoch = epoch
        progress.history.append(record)
        if epoch in config.sample_epochs or epoch == config.epochs:
            progress.sample_grids[epoch] = training.decode_means(model, fixed_z)
        training.log_epoch(writer, record)
        logger.info("epoch %d: train bound %.2f, test ELBO %.2f (KL %.2f), %.1f s", epoch,
                    record.get("train_iwae_bound", record["train_elbo"]), record["test_elbo"], record["test_kl"],
                    record["train_seconds"])
        save_checkpoint(checkpoint, progress, model, optimizer, scheduler, config.as_dict(), device)
    writer.close()
    if progress.epoch < config.epochs:
        logger.info("stopped after epoch %d of %d; continue with --resume", progress.epoch, config.epochs)
        return {}

    # Final evaluation: importance-sampled log p(x) of every test image, active latent units
    start = time.perf_counter()
    log_px = importance_sampled_log_px(model, test_x, config.is_samples, seed=ctx.seed("importance_sampling"),
                                       batch_size=config.is_batch_size, chunk_size=config.is_chunk_size,
                                       device=device, progress=True)
    is_seconds = time.perf_counter() - start
    history, final = progress.history, progress.history[-1]
    train_seconds = sum(h["train_seconds"] for h in history)
    metrics = {
        "z_dim": config.z_dim, "hidden": config.hidden, "epochs": config.epochs, "iw_samples": config.iw_samples,
        "binarization": BINARIZATION, "test_binarization_seed": TEST_BINARIZATION_SEED,
        "num_test_images": len(test_x),
        "test_elbo": final["test_elbo"], "test_recon_log_likelihood": final["test_recon_log_likelihood"],
        "test_kl": final["test_kl"], "train_elbo": final["train_elbo"],
        **({"train_iwae_bound": final["train_iwae_bound"]} if config.iw_samples > 1 else {}),
        "test_nll_is": -log_px.mean().item(), "test_nll_is_std_error": (log_px.std() / len(log_px) ** 0.5).item(),
        "is_samples": config.is_samples, "is_seconds": is_seconds,
        "seconds_per_epoch": train_seconds / len(history), "resumes": progress.resumes,
        "active_units": training.active_units(model, test_x, device),
        "history": history,
    }
    # wall time = training (over all invocations of a resumed run) + the importance-sampled evaluation
    path = ctx.record("vae", config.name, metrics, config=recorded_config, wall_time_s=train_seconds + is_seconds)
    logger.info("test ELBO %.2f nats, test NLL (IS, k=%d) %.2f nats -> %s", metrics["test_elbo"],
                config.is_samples, metrics["test_nll_is"], path)

    # Samples and reconstructions: arrays and figures next to the results
    if config.figures:
        inputs = test_x[:training.NUM_RECONSTRUCTIONS]
        arrays = run_figures.save_arrays(results_dir() / "vae", config.name, progress.sample_grids, inputs,
                                         training.reconstructions(model, inputs))
        digits = run_figures.record_sample_classes(ctx, results_dir() / "vae", config.name, config.classifier, arrays)
        run_figures.make_figures(results_dir() / "vae", config.name, arrays, digits)
    return metrics


if __name__ == "__main__":
    sys.exit(main(run, TrainConfig, prog="python -m vae_diffusion.vae.train", doc=__doc__))
