"""A toy multi-parallel corpus in the Multi30k layout: en/de/fr captions built word by word from a small
lexicon of real words, so they look like their language (for the language identifier) and are aligned.

Also the session fixtures of the translation tests (a pytest plugin: ``pytest_plugins = ["tests.nmt_toy_corpus"]``
in tests/test_nmt_*.py and tests/test_fairseq_plugin.py): ONE data-bin and ONE fairseq-train run per test
session, made as the user makes them, shared by every test that needs them.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from mvadl import REPO_ROOT
from tests.conftest import write_lines_gz

LEXICON = {  # concept: (en, de, fr, cs)
    "a": ("a", "ein", "un", "jeden"), "the": ("the", "der", "le", "ten"), "dog": ("dog", "Hund", "chien", "pes"),
    "cat": ("cat", "Katze", "chat", "kočka"), "man": ("man", "Mann", "homme", "muž"),
    "woman": ("woman", "Frau", "femme", "žena"), "child": ("child", "Kind", "enfant", "dítě"),
    "red": ("red", "roter", "rouge", "červený"), "blue": ("blue", "blauer", "bleu", "modrý"),
    "small": ("small", "kleiner", "petit", "malý"), "runs": ("runs", "rennt", "court", "běží"),
    "sits": ("sits", "sitzt", "assis", "sedí"), "plays": ("plays", "spielt", "joue", "hraje"),
    "on": ("on", "auf", "sur", "na"), "in": ("in", "im", "dans", "ve"),
    "street": ("street", "Straße", "rue", "ulici"), "water": ("water", "Wasser", "eau", "vodě"),
    "grass": ("grass", "Gras", "herbe", "trávě"), "with": ("with", "mit", "avec", "s"),
    "ball": ("ball", "Ball", "balle", "míčem"), "and": ("and", "und", "et", "a"),
    "white": ("white", "weißer", "blanc", "bílý"), "near": ("near", "neben", "près", "u"),
    "house": ("house", "Haus", "maison", "domu"),
}
#: The columns of LEXICON; the toy corpus of the shared fixtures has the first three (the reference languages).
ALL_LANGS = ("en", "de", "fr", "cs")
LANGS = ALL_LANGS[:3]


def toy_captions(n: int, seed: int, langs: tuple[str, ...] = LANGS) -> dict[str, list[str]]:
    """``n`` aligned captions per language: subject (+adjective) verb preposition place, with a period."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        concepts = [rng.choice(["a", "the"]), *rng.sample(["red", "blue", "small", "white"], rng.randint(0, 1)),
                    rng.choice(["dog", "cat", "man", "woman", "child"]), rng.choice(["runs", "sits", "plays"]),
                    *([rng.choice(["with", "near"]), "a", "ball"] if rng.random() < 0.3 else []),
                    rng.choice(["on", "in", "near"]), "the", rng.choice(["street", "water", "grass", "house"])]
        rows.append(concepts)
    return {lang: [" ".join(LEXICON[c][ALL_LANGS.index(lang)] for c in row).capitalize() + " ." for row in rows]
            for lang in langs}


def write_toy_multi30k(root: Path, sizes=(("train", 300), ("val", 24), ("test_2016_flickr", 24)),
                       langs: tuple[str, ...] = LANGS) -> Path:
    """Write ``root/multi30k/{split}.{lang}.gz``; returns ``root``."""
    for offset, (split, n) in enumerate(sizes):
        for lang, lines in toy_captions(n, seed=offset, langs=langs).items():
            write_lines_gz(root / "multi30k" / f"{split}.{lang}.gz", lines)
    return root


# ------------------------------------------------------------------------------------------------ fixtures
DIRECT_PAIRS = "en-de,de-en,en-fr,fr-en,de-fr,fr-de"
#: The quick training of the shared fixture: 4 updates of small batches (seconds on a CPU core).
TOY_TRAIN_ARGS = ["--quick", "--eval-bleu", "--max-update", "4", "--max-tokens", "600", "--save-interval-updates", "2",
                  "--average-last", "2"]


#: Tiny models on a shared 2-core machine: one thread per process (several threads per tiny matrix product
#: made a 4-update fairseq-train take 90 s instead of 5 s here).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run_command(command: list[str], env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command from the repository root with this Python as PY (one thread); fail the test with its
    output."""
    proc = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PY": sys.executable, **ONE_THREAD, **(env or {})})
    if check:
        assert proc.returncode == 0, f"{command[:3]} failed:\n{(proc.stdout + proc.stderr)[-4000:]}"
    return proc


@pytest.fixture(scope="session")
def toy_data_bin(tmp_path_factory) -> Path:
    """``prepare`` (export, SentencePiece, fairseq-preprocess) of the toy corpus; its root holds multi30k/."""
    from nlp_experiments.translation.data_bin import prepare_data_bin

    root = write_toy_multi30k(tmp_path_factory.mktemp("toy_multi30k"))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in ONE_THREAD.items():
            patch.setenv(name, value)  # for the fairseq-preprocess subprocesses
        assert prepare_data_bin(root, list(LANGS), root / "bin", vocab_size=80)
    return root / "bin"


@pytest.fixture(scope="session")
def toy_training(toy_data_bin, tmp_path_factory) -> dict:
    """``bash scripts/train_multilingual.sh direct --quick --eval-bleu`` (4 updates) on the toy data-bin."""
    runs = tmp_path_factory.mktemp("nmt_runs")
    proc = run_command(["bash", "scripts/train_multilingual.sh", "direct", *TOY_TRAIN_ARGS, "--data-bin",
                        str(toy_data_bin), "--save-dir", str(runs / "ckpt" / "direct"), "--runs-dir", str(runs)],
                       {"RESULTS_DIR": str(runs / "results")})
    return {"runs": runs, "stdout": proc.stdout, "stderr": proc.stderr, "save_dir": runs / "ckpt" / "direct",
            "checkpoint": runs / "ckpt" / "direct" / "checkpoint_best.pt",
            "record": json.loads((runs / "direct" / "training.json").read_text()),
            "results": runs / "results"}
