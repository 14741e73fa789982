"""A toy multi-parallel corpus in the Multi30k layout: en/de/fr captions built word by word from a small
lexicon of real words, so they look like their language (for the language identifier) and are aligned."""
from __future__ import annotations

import random
from pathlib import Path

from tests.conftest import write_lines_gz

LEXICON = {  # concept: (en, de, fr)
    "a": ("a", "ein", "un"), "the": ("the", "der", "le"), "dog": ("dog", "Hund", "chien"),
    "cat": ("cat", "Katze", "chat"), "man": ("man", "Mann", "homme"), "woman": ("woman", "Frau", "femme"),
    "child": ("child", "Kind", "enfant"), "red": ("red", "roter", "rouge"), "blue": ("blue", "blauer", "bleu"),
    "small": ("small", "kleiner", "petit"), "runs": ("runs", "rennt", "court"), "sits": ("sits", "sitzt", "assis"),
    "plays": ("plays", "spielt", "joue"), "on": ("on", "auf", "sur"), "in": ("in", "im", "dans"),
    "street": ("street", "Straße", "rue"), "water": ("water", "Wasser", "eau"), "grass": ("grass", "Gras", "herbe"),
    "with": ("with", "mit", "avec"), "ball": ("ball", "Ball", "balle"), "and": ("and", "und", "et"),
    "white": ("white", "weißer", "blanc"), "near": ("near", "neben", "près"), "house": ("house", "Haus", "maison"),
}
LANGS = ("en", "de", "fr")


def toy_captions(n: int, seed: int) -> dict[str, list[str]]:
    """``n`` aligned captions per language: subject (+adjective) verb preposition place, with a period."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        concepts = [rng.choice(["a", "the"]), *rng.sample(["red", "blue", "small", "white"], rng.randint(0, 1)),
                    rng.choice(["dog", "cat", "man", "woman", "child"]), rng.choice(["runs", "sits", "plays"]),
                    *([rng.choice(["with", "near"]), "a", "ball"] if rng.random() < 0.3 else []),
                    rng.choice(["on", "in", "near"]), "the", rng.choice(["street", "water", "grass", "house"])]
        rows.append(concepts)
    return {lang: [" ".join(LEXICON[c][i] for c in row).capitalize() + " ." for row in rows]
            for i, lang in enumerate(LANGS)}


def write_toy_multi30k(root: Path, sizes=(("train", 300), ("val", 24), ("test_2016_flickr", 24))) -> Path:
    """Write ``root/multi30k/{split}.{lang}.gz``; returns ``root``."""
    for offset, (split, n) in enumerate(sizes):
        for lang, lines in toy_captions(n, seed=offset).items():
            write_lines_gz(root / "multi30k" / f"{split}.{lang}.gz", lines)
    return root
