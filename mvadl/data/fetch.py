"""Download (when online) and verify every dataset the project uses.

    python -m mvadl.data.fetch [--data-dir DIR] [--datasets mnist multi30k wikitext-2] [--offline]

Files already present are verified, never re-downloaded; a failed download leaves nothing behind, and
missing files are listed in one error that says how to point ``DATA_DIR`` at a folder that holds them.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

from mvadl.data.catalog import DATASETS
from mvadl.data.download import ensure_datasets
from mvadl.data.root import data_root
from mvadl.runner import Context, ToolConfig, main, option

#: The names --datasets accepts.
DatasetName = Literal[tuple(DATASETS)]


@dataclass
class FetchConfig(ToolConfig):
    """Download (when online) and verify the datasets under the data root."""

    data_dir: str | None = option(None, "root folder of the datasets (default: $DATA_DIR, else ./data); it holds "
                                           "mnist/, multi30k/ and wikitext-2/ as written by scripts/get_data.sh")
    datasets: list[DatasetName] = option(list(DATASETS), "datasets to fetch and verify")
    offline: bool = option(False, "never download; only verify what is there")


def run(config: FetchConfig, ctx: Context) -> int:
    root = data_root(config.data_dir)
    paths = ensure_datasets(root, config.datasets, offline=config.offline)
    print(f"{len(paths)} files verified under {root}: {', '.join(config.datasets)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(run, FetchConfig, prog="python -m mvadl.data.fetch", doc=__doc__))
