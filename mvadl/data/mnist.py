"""MNIST in its original IDX format (LeCun et al.).

IDX layout (big-endian): two zero bytes, a type byte (0x08 = uint8), a byte with the number of
dimensions, then one 32-bit size per dimension, then the data. Read as one 32-bit integer, the first
four bytes are the "magic number": 2049 for labels (1 dimension), 2051 for images (3 dimensions).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mvadl.data._files import read_bytes, require_folder
from mvadl.data.errors import DataError
from mvadl.data.root import data_root

LABELS_MAGIC = 2049
IMAGES_MAGIC = 2051
SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}
IMAGE_SHAPE = (28, 28)


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes, checking magic number, header and payload length."""
    data = read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise DataError(f"{path}: wrong IDX magic number {magic} (expected {expected_magic})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: IDX header truncated ({len(data)} bytes, need {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected_len = header + int(np.prod(shape))
    if len(data) != expected_len:
        raise DataError(f"{path}: IDX payload has {len(data) - header} bytes, "
                        f"header shape {shape} needs {expected_len - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist(split: str, root: str | Path | None = None, *, check_count: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, labels)``: uint8 ``[N, 28, 28]`` in 0..255 and int64 ``[N]`` in 0..9.

    ``check_count`` also demands the official size (60000 train, 10000 test).
    """
    if split not in SPLITS:
        raise DataError(f"unknown MNIST split '{split}' (known: {', '.join(SPLITS)})")
    folder = require_folder(data_root(root) / "mnist", "MNIST")
    images_name, labels_name, official_count = SPLITS[split]
    images = read_idx(folder / images_name, IMAGES_MAGIC)
    labels = read_idx(folder / labels_name, LABELS_MAGIC)
    if images.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{folder / images_name}: images are {images.shape[1:]}, expected {IMAGE_SHAPE}")
    if len(images) != len(labels):
        raise DataError(f"{folder / images_name} has {len(images)} images but "
                        f"{folder / labels_name} has {len(labels)} labels")
    if check_count and len(images) != official_count:
        raise DataError(f"{folder / images_name}: {len(images)} images, MNIST {split} has {official_count}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{folder / labels_name}: label {labels.max()} outside 0..9")
    return images, labels.astype(np.int64)
