"""Every file the project reads, where it comes from, and how to recognise a correct copy.

Checksums are those of the canonical distributions (see ``../shared/data/README.md`` for provenance).
A file is accepted when ANY of its listed checks match:

* ``sha256``: of the file as stored (every file has one; a download must match it);
* ``md5``: of the file as stored (the md5s torchvision lists for MNIST);
* ``content_md5``: of the decompressed content of a ``.gz`` file. A gzip file re-made from the same
  content can differ in its header bytes (name, mtime) while holding identical data; MNIST's
  train-images has published md5s for both the ``.gz`` and the uncompressed IDX file, so a copy is
  accepted if its content matches the original uncompressed IDX file.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, relative to the data root."""

    relpath: str
    urls: tuple[str, ...]
    sha256: str
    md5: str | None = None
    content_md5: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    files: tuple[DataFile, ...] = field(default_factory=tuple)


_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)


def _mnist(name: str, sha256: str, md5: str, content_md5: str) -> DataFile:
    return DataFile(f"mnist/{name}", tuple(m + name for m in _MNIST_MIRRORS), sha256, md5, content_md5)


# LeCun, Cortes & Burges, The MNIST database of handwritten digits.
MNIST = Dataset(
    "mnist",
    (
        _mnist("train-images-idx3-ubyte.gz",
               "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
               "f68b3c2dcbeaaa9fbdd348bbdeb94873", "6bbc9ace898e44ae57da46a324031adb"),
        _mnist("train-labels-idx1-ubyte.gz",
               "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
               "d53e105ee54ea40749a09fcbcd1e9432", "a25bea736e30d166cdddb491f175f624"),
        _mnist("t10k-images-idx3-ubyte.gz",
               "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
               "9fb629c4189551a2d022fa330f9573f3", "2646ac647ad5339dbf082846283269ea"),
        _mnist("t10k-labels-idx1-ubyte.gz",
               "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
               "ec29112dd5afa0611ce80d1b7f02629c", "27ae3e4e09519cfbb04c329615203637"),
    ),
)

_MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/"
_MULTI30K_SHA256 = {
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.fr.gz": "622e75069e9f4c577425c4f277116ce66e63a2401c0a2312d90073cb12379a3c",
    "train.cs.gz": "a65adb8b32e3bc664f21ecba7a6e7f6950fd1f405e135f7c312faabdb6255077",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.fr.gz": "ca3106f1a72390591d25f6c45cb4cd39dec4cd3f123e099748a3ce5256c160e9",
    "val.cs.gz": "b63226e05c4bd5dd6a42897d74b86a1b9d2c31498252c572b1ea7f7996927fcc",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.fr.gz": "6d326e188d259fb1d04ac19eae3af956559b3a0b93d7635e56c90987c40c8b90",
    "test_2016_flickr.cs.gz": "200a4a74cc9560f051924abb9803be008d1908d77f747e9141aeb86dfd2797f1",
}
# Elliott et al. 2016 (Multi30K); Elliott et al. 2017 (French); Barrault et al. 2018 (Czech).
MULTI30K = Dataset(
    "multi30k",
    tuple(DataFile(f"multi30k/{n}", (_MULTI30K_URL + n,), sha256=s) for n, s in _MULTI30K_SHA256.items()),
)

_WIKITEXT2_URL = "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/"
# Merity et al. 2016, Pointer Sentinel Mixture Models.
WIKITEXT2 = Dataset(
    "wikitext-2",
    (
        DataFile("wikitext-2/train.txt", (_WIKITEXT2_URL + "train.txt",),
                 sha256="9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
                 md5="34a77ebe59551b3a3b3d8c0a2797c976"),
        DataFile("wikitext-2/valid.txt", (_WIKITEXT2_URL + "valid.txt",),
                 sha256="f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"),
        DataFile("wikitext-2/test.txt", (_WIKITEXT2_URL + "test.txt",),
                 sha256="d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"),
    ),
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (MNIST, MULTI30K, WIKITEXT2)}
