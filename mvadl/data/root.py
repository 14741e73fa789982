"""Where the data lives: ``--data-dir`` beats ``$DATA_DIR``, which beats the default ``data/``."""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = "data"


def data_root(cli_value: str | os.PathLike | None = None) -> Path:
    """Resolve the data root: an explicit value, else ``$DATA_DIR``, else ``data/`` (relative to cwd)."""
    if cli_value:
        return Path(cli_value)
    return Path(os.environ.get("DATA_DIR") or DEFAULT_DATA_DIR)

