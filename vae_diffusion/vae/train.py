"""Train the MLP VAE on dynamically binarized MNIST (Q9), record samples (Q10) and evaluate log p(x).

    python -m vae_diffusion.vae.train                 # z=20, 80 epochs, samples at 0/10/80, IS k=5000
    python -m vae_diffusion.vae.train --quick         # same code path on a subset, about a minute on CPU
    python -m vae_diffusion.vae.train --resume        # continue from checkpoints/vae/<name>.pt exactly

All randomness of epoch e (shuffling, binarization, reparameterization noise) comes from generators seeded
by (seed, e), and the global torch RNG states are checkpointed too, so a run resumed at an epoch
boundary reproduces an uninterrupted one. Writes ``results/vae/<name>.json`` (``$RESULTS_DIR`` overrides
``results/``), figures next to it, TensorBoard events under ``--log-dir`` and a checkpoint each epoch.
"""
from __future__ import annotations

import argparse
import sys
import logging
import time
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

from mvadl.cli import add_seed_argument, resolve_device, run_cli, seed_everything
from mvadl.data import add_data_dir_argument
from mvadl.io import atomic_path
from mvadl.results import describe_device, results_dir, write_results
from vae_diffusion.vae import figures, losses
from vae_diffusion.vae.data import BINARIZATION, TEST_BINARIZATION_SEED, binarize, fixed_binarization, pixel_probabilities
from vae_diffusion.vae.likelihood import evaluate_elbo, importance_sampled_log_px
from vae_diffusion.vae.model import VAE

logger = logging.getLogger("vae.train")
PART = "vae"
SAMPLE_NOISE_SEED = 2024  # the fixed 64 prior draws z shown at every sample epoch
NUM_SAMPLES_SHOWN = 64
NUM_RECONSTRUCTIONS = 16
#: Options that must match when resuming (epochs may be extended).
RESUME_MUST_MATCH = ("batch_size", "lr", "lr_decay", "iw_samples", "seed", "train_subset", "test_subset")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m vae_diffusion.vae.train", description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--epochs", type=int, default=80, help="total number of training epochs")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--z-dim", type=int, default=20, help="latent size D")
    p.add_argument("--hidden", type=int, nargs="+", default=[1024, 1024],
                   help="hidden widths of the encoder MLP (the decoder mirrors them)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--lr-decay", type=float, default=0.97, help="learning-rate factor applied after every epoch")
    p.add_argument("--iw-samples", type=int, default=1,
                   help="K of the training objective: 1 = ELBO with analytic KL (eq. 17), K>1 = IWAE bound")
    p.add_argument("--is-samples", type=int, default=5000, help="k of the final importance-sampled log p(x)")
    p.add_argument("--is-batch-size", type=int, default=100, help="test images per importance-sampling batch")
    p.add_argument("--is-chunk-size", type=int, default=500, help="importance samples per forward pass")
    p.add_argument("--sample-epochs", type=int, nargs="*", default=[0, 10, 80],
                   help="epochs after which the 8x8 sample grid is recorded (0 = before training); "
                        "the last epoch is always recorded")
    p.add_argument("--train-subset", type=int, default=None, help="use only the first N training images")
    p.add_argument("--test-subset", type=int, default=None, help="use only the first N test images")
    p.add_argument("--name", default="metrics",
                   help="results name: results/vae/<name>.json; figures of a name other than 'metrics' "
                        "are prefixed with '<name>_'")
    p.add_argument("--figures", action=argparse.BooleanOptionalAction, default=True,
                   help="write sample/reconstruction/curve figures at the end")
    p.add_argument("--checkpoint-dir", default="checkpoints/vae", help="checkpoint <name>.pt, rewritten each epoch")
    p.add_argument("--log-dir", default="runs/vae", help="TensorBoard event files go to <log-dir>/<name>")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint of --name")
    p.add_argument("--stop-after", type=int, default=None,
                   help="stop after this many epochs in this invocation (resume later with --resume)")
    p.add_argument("--device", default="auto", help="'auto' (cuda if available), 'cpu' or 'cuda'")
    p.add_argument("--quick", action="store_true",
                   help="smoke run of the same code: 2 epochs, 2000 train / 500 test images, "
                        "hidden 256 256, IS k=100")
    add_seed_argument(p)
    add_data_dir_argument(p)
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.hidden, args.is_samples = 2, [256, 256], 100
        args.train_subset = args.train_subset or 2000
        args.test_subset = args.test_subset or 500
    if args.epochs < 1 or args.batch_size < 1 or args.iw_samples < 1 or args.is_samples < 1:
        p.error("--epochs, --batch-size, --iw-samples and --is-samples must be positive")
    return args


def epoch_generators(seed: int, epoch: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """(CPU generator for the shuffle, device generator for binarization and noise) of one epoch."""
    base = seed * 1_000_003 + epoch * 2
    return torch.Generator().manual_seed(base), torch.Generator(device=device).manual_seed(base + 1)


def train_epoch(model: VAE, optimizer: torch.optim.Optimizer, train_probs: torch.Tensor, args, epoch: int,
                device: torch.device) -> dict[str, float]:
    """One pass over a fresh binarization of the training set; returns the mean training bound."""
    model.train()
    shuffle_gen, noise_gen = epoch_generators(args.seed, epoch, device)
    order = torch.randperm(len(train_probs), generator=shuffle_gen)
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # bound, recon, kl (sums)
    for start in tqdm(range(0, len(order), args.batch_size), desc=f"epoch {epoch}", leave=False,
                      mininterval=2.0):
        probs = train_probs[order[start:start + args.batch_size].to(train_probs.device)]
        x = binarize(probs, noise_gen)  # dynamic binarization: a fresh draw each epoch
        if args.iw_samples == 1:
            recon, kl = model.elbo_terms(x, noise_gen)
            loss = losses.negative_elbo_loss(recon, kl)  # eq. 17, analytic KL (eq. 12)
            stats = torch.stack([(recon - kl).sum(), recon.sum(), kl.sum()])
        else:
            loss = losses.iwae_loss(model.log_importance_weights(x, args.iw_samples, noise_gen))
            stats = torch.stack([-loss * len(x), torch.zeros((), device=device), torch.zeros((), device=device)])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        totals += stats.detach().double()
    bound, recon, kl = (totals / len(order)).tolist()
    return {"train_elbo": bound, "train_recon_log_likelihood": recon, "train_kl": kl}


def active_units(model: VAE, x: torch.Tensor, device: torch.device, threshold: float = 0.01) -> int:
    """Latent dimensions d with Cov_x(E_q[z_d]) > threshold (Burda et al. 2016): the ones the model uses."""
    with torch.no_grad():
        mu = torch.cat([model.encoder(b.to(device))[0].cpu() for b in x.split(1000)])
    return int((mu.var(dim=0) > threshold).sum())


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from (run without --resume first, "
                                "or check --checkpoint-dir and --name)")
    return torch.load(path, map_location="cpu", weights_only=True)


def rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def main(args: argparse.Namespace) -> dict:
    device = resolve_device(args.device)
    seed_everything(args.seed)
    check_count = args.train_subset is None and args.test_subset is None
    train_probs = pixel_probabilities("train", args.data_dir, check_count=check_count,
                                      limit=args.train_subset).to(device)
    test_x = fixed_binarization(pixel_probabilities("test", args.data_dir, check_count=check_count,
                                                    limit=args.test_subset), TEST_BINARIZATION_SEED)
    model = VAE(z_dim=args.z_dim, hidden=args.hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.lr_decay)
    fixed_z = torch.randn(NUM_SAMPLES_SHOWN, args.z_dim, generator=torch.Generator().manual_seed(SAMPLE_NOISE_SEED))
    checkpoint_path = Path(args.checkpoint_dir) / f"{args.name}.pt"
    history: list[dict] = []
    sample_grids: dict[int, torch.Tensor] = {}
    start_epoch = 1

    if args.resume:
        state = load_checkpoint(checkpoint_path)
        saved = state["args"]
        mismatched = [k for k in RESUME_MUST_MATCH if saved.get(k) != getattr(args, k)]
        if state["model_config"] != model.config or mismatched:
            raise SystemExit(f"{checkpoint_path}: checkpoint was made with other settings "
                             f"(model {state['model_config']}, options {[(k, saved.get(k)) for k in mismatched]})")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, sample_grids = state["history"], state["sample_grids"]
        set_rng_state(state["rng"], device)
        start_epoch = state["epoch"] + 1
        logger.info("resumed from %s after epoch %d", checkpoint_path, state["epoch"])
    else:
        sample_grids[0] = model.pixel_means(fixed_z.to(device)).cpu()

    writer = SummaryWriter(str(Path(args.log_dir) / args.name), purge_step=start_epoch)
    last_epoch = args.epochs if args.stop_after is None else min(args.epochs, start_epoch - 1 + args.stop_after)
    for epoch in tqdm(range(start_epoch, last_epoch + 1), desc="VAE training", initial=start_epoch - 1,
                      total=args.epochs):
        t0 = time.perf_counter()
        record = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
                  **train_epoch(model, optimizer, train_probs, args, epoch, device)}
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        record["train_seconds"] = time.perf_counter() - t0
        scheduler.step()
        test = evaluate_elbo(model, test_x, device=device)
        record.update({f"test_{k}": v for k, v in test.items()})
        history.append(record)
        if epoch in args.sample_epochs or epoch == args.epochs:
            sample_grids[epoch] = model.pixel_means(fixed_z.to(device)).cpu()
        for key in ("elbo", "kl", "recon_log_likelihood"):
            writer.add_scalar(f"train/{key}", record[f"train_{key}"], epoch)
            writer.add_scalar(f"test/{key}", record[f"test_{key}"], epoch)
        writer.add_scalar("train/lr", record["lr"], epoch)
        writer.flush()
        logger.info("epoch %d: train bound %.2f, test ELBO %.2f (KL %.2f), %.1f s", epoch, record["train_elbo"],
                    record["test_elbo"], record["test_kl"], record["train_seconds"])
        save_checkpoint(checkpoint_path, {
            "epoch": epoch, "model": model.state_dict(), "model_config": model.config,
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "history": history, "sample_grids": sample_grids, "rng": rng_state(device), "args": vars(args)})
    writer.close()
    if not history or history[-1]["epoch"] < args.epochs:
        logger.info("stopped after epoch %d of %d; continue with --resume", last_epoch, args.epochs)
        return {}

    t0 = time.perf_counter()
    log_px = importance_sampled_log_px(model, test_x, args.is_samples, batch_size=args.is_batch_size,
                                       chunk_size=args.is_chunk_size, device=device, progress=True)
    is_seconds = time.perf_counter() - t0
    final = history[-1]
    metrics = {
        "z_dim": args.z_dim, "hidden": args.hidden, "epochs": args.epochs, "iw_samples": args.iw_samples,
        "binarization": BINARIZATION, "test_binarization_seed": TEST_BINARIZATION_SEED,
        "num_test_images": len(test_x),
        "test_elbo": final["test_elbo"], "test_recon_log_likelihood": final["test_recon_log_likelihood"],
        "test_kl": final["test_kl"], "train_elbo": final["train_elbo"],
        "test_nll_is": -log_px.mean().item(), "test_nll_is_std_error": (log_px.std() / len(log_px) ** 0.5).item(),
        "is_samples": args.is_samples, "is_seconds": is_seconds,
        "seconds_per_epoch": sum(h["train_seconds"] for h in history) / len(history),
        "active_units": active_units(model, test_x, device),
        "history": history,
    }
    path = write_results(PART, args.name, config=vars(args), metrics=metrics, seed=args.seed,
                         wall_time_s=sum(h["train_seconds"] for h in history) + is_seconds,
                         device=describe_device(device))
    logger.info("test ELBO %.2f nats, test NLL (IS, k=%d) %.2f nats -> %s", metrics["test_elbo"],
                args.is_samples, metrics["test_nll_is"], path)
    if args.figures:
        with torch.no_grad():
            inputs = test_x[:NUM_RECONSTRUCTIONS].to(device)
            recons = model.pixel_means(model.encoder(inputs)[0]).cpu()
        arrays = figures.save_arrays(results_dir() / PART, args.name, sample_grids, inputs.cpu(), recons)
        figures.make_figures(results_dir() / PART, args.name, arrays)
    return metrics


if __name__ == "__main__":
    sys.exit(run_cli(main, parse_args))
