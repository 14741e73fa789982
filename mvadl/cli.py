"""Pieces every experiment entry point shares: ``--seed``, logging set-up, seeding."""
from __future__ import annotations

import argparse
import logging
import random
import sys
from typing import Any, Callable


def add_seed_argument(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=default, help="random seed (default: %(default)s)")


def setup_logging(level: int = logging.INFO) -> None:
    # force: a library imported earlier (fairseq) may already have configured the root logger at DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True,
                        datefmt="%H:%M:%S")


def resolve_device(name: str = "auto"):
    """``torch.device(name)``, where ``"auto"`` means the GPU when torch sees one, else the CPU."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run_cli(main: Callable[[argparse.Namespace], Any], parse_args: Callable[[], argparse.Namespace]) -> int:
    """Run an entry point: ``if __name__ == "__main__": sys.exit(run_cli(main, parse_args))``.

    ``main``'s return value is the exit status when it is an int (0 otherwise). Bad input that the data
    layer reports (:class:`mvadl.data.DataError`, a missing file) is printed as ONE line,
    ``error: <file>: <problem>``, with exit status 1 instead of a traceback; bugs still raise.
    """
    from mvadl.data.errors import DataError

    setup_logging()
    args = parse_args()
    try:
        status = main(args)
    except (DataError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return status if isinstance(status, int) else 0
