"""Where the data lives: ``--data-dir`` beats ``$DATA_DIR``, which beats the default ``data/``."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_DATA_DIR = "data"


def data_root(cli_value: str | os.PathLike | None = None) -> Path:
    """Resolve the data root: an explicit value, else ``$DATA_DIR``, else ``data/`` (relative to cwd)."""
    if cli_value:
        return Path(cli_value)
    return Path(os.environ.get("DATA_DIR") or DEFAULT_DATA_DIR)


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    """Add the project's standard ``--data-dir`` option (default: ``$DATA_DIR`` or ``data/``)."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help="root folder of the datasets (default: $DATA_DIR, else ./data); "
        "it holds mnist/, multi30k/ and wikitext-2/ as written by scripts/get_data.sh",
    )
