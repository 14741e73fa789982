import pytest

from mvadl.data import DataError, read_parallel
from tests.conftest import REAL_DATA_DIR, needs_real_data, write_lines_gz


def test_reads_aligned_languages(tiny_multi30k):
    data = read_parallel("train", ["en", "fr"], tiny_multi30k)
    assert data["en"][1] == "two men talk ." and data["fr"][1] == "deux hommes parlent ."


def test_misaligned_files_name_both(tiny_multi30k):
    write_lines_gz(tiny_multi30k / "multi30k" / "val.de.gz", ["ein hund .", "zwei ."])
    with pytest.raises(DataError, match=r"misaligned Multi30k files \(.*val.en.gz: 3 lines, .*val.de.gz: 2 lines\)"):
        read_parallel("val", ["en", "de"], tiny_multi30k)


def test_empty_line_is_an_error(tiny_multi30k):
    write_lines_gz(tiny_multi30k / "multi30k" / "train.de.gz", ["ein hund .", "  ", "auto ."])
    with pytest.raises(DataError, match=r"train.de.gz: line 2 is empty"):
        read_parallel("train", ["en", "de"], tiny_multi30k)


def test_unknown_language(tiny_multi30k):
    with pytest.raises(DataError, match=r"unknown Multi30k language 'es' \(known: en, de, fr, cs\)"):
        read_parallel("train", ["en", "es"], tiny_multi30k)


def test_missing_file_and_folder(tiny_multi30k, tmp_path):
    with pytest.raises(DataError, match=r"train.cs.gz: file not found"):
        read_parallel("train", ["en", "cs"], tiny_multi30k)
    with pytest.raises(DataError, match=r"multi30k: Multi30k folder not found"):
        read_parallel("train", ["en"], tmp_path / "nowhere")


def test_truncated_gzip(tiny_multi30k):
    path = tiny_multi30k / "multi30k" / "val.fr.gz"
    path.write_bytes(path.read_bytes()[:12])
    with pytest.raises(DataError, match=r"val.fr.gz: cannot decompress"):
        read_parallel("val", ["fr"], tiny_multi30k)


def test_invalid_utf8(tiny_multi30k):
    import gzip
    with gzip.open(tiny_multi30k / "multi30k" / "val.fr.gz", "wb") as f:
        f.write(b"caf\xe9\n")
    with pytest.raises(DataError, match=r"val.fr.gz: not valid UTF-8 at byte 3"):
        read_parallel("val", ["fr"], tiny_multi30k)


@needs_real_data
def test_real_multi30k_counts():
    for split, n in (("train", 29000), ("val", 1014), ("test_2016_flickr", 1000)):
        data = read_parallel(split, ["en", "de", "fr", "cs"], REAL_DATA_DIR)
        assert {len(v) for v in data.values()} == {n}
