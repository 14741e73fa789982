import gzip

import numpy as np
import pytest

from mvadl.data import DataError, load_mnist
from mvadl.data.mnist import IMAGES_MAGIC, read_idx
from tests.conftest import REAL_DATA_DIR, needs_real_data, write_idx


def test_reads_generated_idx(tiny_mnist):
    images, labels = load_mnist("train", tiny_mnist, check_count=False)
    assert images.shape == (12, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (12,) and labels.max() <= 9


def test_official_count_is_checked(tiny_mnist):
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: 12 images, MNIST train has 60000"):
        load_mnist("train", tiny_mnist)


def test_wrong_magic_names_file(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros((2, 28, 28)), magic=2049)
    with pytest.raises(DataError, match=r"x.gz: wrong IDX magic number 2049 \(expected 2051\)"):
        read_idx(path, IMAGES_MAGIC)


def test_truncated_gzip_names_file(tiny_mnist):
    path = tiny_mnist / "mnist" / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: cannot decompress .*truncated or corrupt"):
        load_mnist("train", tiny_mnist, check_count=False)


def test_short_payload_names_file(tmp_path):
    path = tmp_path / "short.gz"
    with gzip.open(path, "wb") as f:  # header says 3 images, payload holds 2
        f.write((2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (3, 28, 28)) + bytes(2 * 784))
    with pytest.raises(DataError, match=r"short.gz: IDX payload has 1568 bytes, header shape \(3, 28, 28\) needs 2352"):
        read_idx(path, IMAGES_MAGIC)


def test_image_label_count_mismatch(tiny_mnist):
    write_idx(tiny_mnist / "mnist" / "t10k-labels-idx1-ubyte.gz", np.zeros(4))
    with pytest.raises(DataError, match=r"has 5 images but .*t10k-labels-idx1-ubyte.gz has 4 labels"):
        load_mnist("test", tiny_mnist, check_count=False)


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match=r"mnist: MNIST folder not found; run scripts/get_data.sh or set DATA_DIR"):
        load_mnist("train", tmp_path)


def test_unknown_split(tiny_mnist):
    with pytest.raises(DataError, match=r"unknown MNIST split 'valid'"):
        load_mnist("valid", tiny_mnist)


@needs_real_data
def test_real_mnist():
    images, labels = load_mnist("test", REAL_DATA_DIR)
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
