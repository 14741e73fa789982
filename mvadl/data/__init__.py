"""Data layer: one root folder (``--data-dir`` / ``$DATA_DIR`` / ``data/``), verified downloads, and
readers that check their input and name the file in every error.

Entry point: ``python -m mvadl.data.fetch`` (download when online and verify every dataset;
``scripts/get_data.sh`` calls it)."""
from mvadl.data.errors import DataError
from mvadl.data.mnist import load_mnist
from mvadl.data.multi30k import read_parallel
from mvadl.data.root import data_root
from mvadl.data.wikitext import wikitext2_path

__all__ = ["DataError", "data_root", "load_mnist", "read_parallel", "wikitext2_path"]
