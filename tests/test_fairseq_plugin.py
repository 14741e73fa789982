"""The plugin package: import-only layout, the two compatibility fixes (fairseq_ext.compat), and fairseq's own
command-line tools with ``--user-dir fairseq_ext``.

The checkpoint checks use the session's toy multilingual training (tests/nmt_toy_corpus.py). The slow test
runs the plain fairseq pipeline (preprocess, train, resume, generate) with the plugin loaded, as a user's
command would.
"""
from __future__ import annotations

import ast
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mvadl import REPO_ROOT
from tests.nmt_toy_corpus import ONE_THREAD

pytest_plugins = ["tests.nmt_toy_corpus"]

USER_DIR = str(REPO_ROOT / "fairseq_ext")


def test_plugin_package_only_imports_and_registers():
    """``__init__`` is imports only; no module but ``compat`` runs anything at import (besides registering)."""
    init = ast.parse((REPO_ROOT / "fairseq_ext" / "__init__.py").read_text())
    assert all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in init.body[1:])
    assert [alias.name for node in init.body[1:] for alias in node.names] == ["compat", "criterions", "models",
                                                                              "tasks"]
    packages = sorted(p.name for p in (REPO_ROOT / "fairseq_ext").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert packages == ["criterions", "models", "tasks"]  # the tools around the plugin live in nlp_experiments
    for path in sorted((REPO_ROOT / "fairseq_ext").glob("[!_]*/**/*.py")) + [REPO_ROOT / "fairseq_ext" / "compat.py"]:
        calls = [node for node in ast.parse(path.read_text()).body
                 if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]
        expected = ["allow_fairseq_checkpoint_globals", "keep_last_batch"] if path.name == "compat.py" else []
        assert [ast.unparse(call.value.func) for call in calls] == expected, path


def test_text_tools_do_not_import_fairseq():
    """Nothing in nlp_experiments (translation, prenorm, the shared fairseq_runs) imports fairseq or the plugin."""
    code = ("import sys, pkgutil, importlib, nlp_experiments as n\n"
            "for m in pkgutil.walk_packages(n.__path__, 'nlp_experiments.'): importlib.import_module(m.name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fairseq', 'fairseq_cli', 'fairseq_ext')))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_plugin_stands_alone(tmp_path):
    """``--user-dir`` with a copy of the plugin, from another folder, in an interpreter that cannot import this
    project (no PYTHONPATH, the editable install's finder removed): fairseq loads it and registers everything."""
    shutil.copytree(REPO_ROOT / "fairseq_ext", tmp_path / "plugin" / "fairseq_ext",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import sys, importlib.util, argparse\n"
            "sys.meta_path = [f for f in sys.meta_path if '__editable__' not in getattr(f, '__module__', '')]\n"
            "sys.path = [p for p in sys.path if '__editable__' not in p]\n"
            "assert [importlib.util.find_spec(m) for m in ('mvadl', 'nlp_experiments', 'fairseq_ext')] == [None] * 3\n"
            "from fairseq import utils\n"
            "from fairseq.criterions import CRITERION_REGISTRY\n"
            "from fairseq.models import ARCH_MODEL_REGISTRY\n"
            "from fairseq.tasks import TASK_REGISTRY\n"
            "utils.import_user_module(argparse.Namespace(user_dir='plugin/fairseq_ext'))\n"
            "print(sys.modules['fairseq_ext'].__file__)\n"
            "print('mva_multilingual_translation' in TASK_REGISTRY, 'mva_cross_entropy_gradnorm' in CRITERION_REGISTRY,"
            " 'mva_lm_prenorm_deep' in ARCH_MODEL_REGISTRY)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'mvadl', 'nlp_experiments', 'vae_diffusion'}))\n")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split("\n")[-4:] == [str(tmp_path / "plugin/fairseq_ext/__init__.py"), "True True True", "[]",
                                            ""]


def test_plugin_scores_as_the_project_does(tmp_path):
    """The plugin's validation BLEU/chrF and language identifier give the numbers and languages of the project's
    (nlp_experiments.translation.metrics / langid) on the same text and the same saved profile."""
    from fairseq_ext.tasks import pair_scores
    from nlp_experiments.translation import langid, metrics

    assert pair_scores.PROFILE_FORMAT == langid.FORMAT and pair_scores.METRIC_NAMES == metrics.METRIC_NAMES
    hypotheses = ["a dog runs on the grass .", "two men are talking", "ein Hund rennt ."]
    references = ["a dog runs across the grass .", "two men talk .", "a dog is running ."]
    for name in metrics.METRIC_NAMES:
        assert pair_scores.corpus_score(name, hypotheses, references) == metrics.corpus_score(
            name, hypotheses, references) > 0
    assert pair_scores.corpus_score("bleu", [], []) == 0.0
    identifier = langid.CharNgramLanguageIdentifier.fit({
        "en": ["a dog runs on the grass", "two men are talking in the street", "the children play football"],
        "de": ["ein hund rennt auf dem gras", "zwei männer reden auf der straße", "die kinder spielen fußball"],
        "fr": ["un chien court sur l'herbe", "deux hommes parlent dans la rue", "les enfants jouent au football"]})
    path = identifier.save(tmp_path / "langid.json")
    sentences = ["a man plays football", "ein mann spielt fußball", "un homme joue au football", "rue street straße",
                 "zzz", ""]
    assert pair_scores.LanguageProfile(str(path)).predict_many(sentences) == identifier.predict_many(sentences)
    assert pair_scores.LanguageProfile(str(path)).predict_many([]) == []
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": "other/1"}))
    with pytest.raises(ValueError, match="format 'other/1'"):
        pair_scores.LanguageProfile(str(path))


def test_checkpoint_averaging_needs_no_plugin(tmp_path):
    """The averaging loads fairseq checkpoints (an argparse.Namespace inside) in a process without the plugin,
    allowing that class for its own loads only; its list of classes is the plugin's."""
    from fairseq_ext.compat import FAIRSEQ_CHECKPOINT_GLOBALS
    from nlp_experiments.translation.averaging import FAIRSEQ_CHECKPOINT_GLOBALS as AVERAGING_GLOBALS

    assert AVERAGING_GLOBALS == FAIRSEQ_CHECKPOINT_GLOBALS
    code = ("import argparse, sys, torch\n"
            "from pathlib import Path\n"
            "from nlp_experiments.translation.averaging import average_checkpoints\n"
            "paths = [Path(sys.argv[1]) / f'c{i}.pt' for i in (1, 2)]\n"
            "for i, path in enumerate(paths):\n"
            "    torch.save({'model': {'w': torch.full((2,), float(i))}, 'args': argparse.Namespace(lr=i)}, path)\n"
            "average_checkpoints(paths, Path(sys.argv[1]) / 'avg.pt')\n"
            "avg = torch.load(Path(sys.argv[1]) / 'avg.pt', weights_only=False)\n"
            "allowed = argparse.Namespace in torch.serialization.get_safe_globals()\n"
            "print(avg['model']['w'].tolist(), avg['args'].lr, allowed,\n"
            "      sorted({m.split('.')[0] for m in sys.modules} & {'fairseq', 'fairseq_ext'}))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[0.5, 0.5] 1 False []"  # allowed for its loads only; no fairseq imported


@pytest.fixture(scope="module")
def checkpoint_globals(toy_training):
    """In a fresh interpreter (without the plugin): the unsafe globals of the session's checkpoints, and what
    ``torch.load(weights_only=True)`` says about them."""
    checkpoints = sorted(str(p) for p in toy_training["save_dir"].glob("*.pt"))
    code = ("import json, sys, torch\n"
            "unsafe = torch.serialization.get_unsafe_globals_in_checkpoint\n"
            "needed = sorted({g for p in sys.argv[1:] for g in unsafe(p)})\n"
            "try:\n    torch.load(sys.argv[1], weights_only=True); error = ''\n"
            "except Exception as e:\n    error = str(e)\n"
            "print(json.dumps({'needed': needed, 'error': error}))")
    proc = subprocess.run([sys.executable, "-c", code, *checkpoints], capture_output=True, text=True, check=True)
    return {"checkpoints": checkpoints, **json.loads(proc.stdout.strip().splitlines()[-1])}


def test_allowlist_is_exactly_what_checkpoints_hold(checkpoint_globals):
    """Every global a fairseq checkpoint pickles is allowlisted, and nothing more is."""
    from fairseq_ext.compat import FAIRSEQ_CHECKPOINT_GLOBALS

    assert len(checkpoint_globals["checkpoints"]) >= 2  # best and last (and the interval checkpoint)
    allowed = {f"{g.__module__}.{g.__qualname__}" for g in FAIRSEQ_CHECKPOINT_GLOBALS}
    assert set(checkpoint_globals["needed"]) == allowed
    from fairseq_ext.compat import allow_fairseq_checkpoint_globals

    # what importing the plugin runs; called here, since a test before this one may have imported the plugin
    # inside a torch.serialization.safe_globals block, whose exit restores the allowlist as it was before it
    allow_fairseq_checkpoint_globals()

    state = torch.load(checkpoint_globals["checkpoints"][0], weights_only=True)
    assert state["optimizer_history"][-1]["num_updates"] > 0


def test_without_allowlist_weights_only_load_fails(checkpoint_globals):
    """Why compat allowlists: plain torch.load(weights_only=True) refuses a fairseq checkpoint."""
    assert "Unsupported global" in checkpoint_globals["error"]


def test_last_partial_batch_is_kept():
    """fairseq drops a last batch that is not a multiple of --required-batch-size-multiple; we keep it.

    The first assertion is the upstream bug: when it fails, fairseq keeps the tail itself and compat's
    ``keep_last_batch`` can go."""
    import numpy as np
    from fairseq.data import data_utils

    from fairseq_ext.compat import original_batch_by_size

    indices = np.arange(20)
    kwargs = dict(num_tokens_vec=np.full(20, 5), max_sentences=8, required_batch_size_multiple=8)
    assert sum(map(len, original_batch_by_size(indices, None, **kwargs))) == 16  # the upstream bug
    batches = data_utils.batch_by_size(indices, None, **kwargs)
    assert [len(b) for b in batches] == [8, 8, 4]
    assert np.concatenate(batches).tolist() == list(range(20))


# ---------------------------------------------------------------- fairseq's own pipeline with the plugin (slow)
TINY_TRANSFORMER = [
    "--arch", "transformer", "--share-all-embeddings",
    "--encoder-layers", "1", "--decoder-layers", "1",
    "--encoder-embed-dim", "32", "--decoder-embed-dim", "32",
    "--encoder-ffn-embed-dim", "64", "--decoder-ffn-embed-dim", "64",
    "--encoder-attention-heads", "2", "--decoder-attention-heads", "2",
    "--optimizer", "adam", "--lr", "1e-3", "--max-tokens", "400",
    "--cpu", "--num-workers", "0", "--no-progress-bar", "--log-interval", "1", "--seed", "1",
]


def fairseq(module: str, *args: str, cwd: Path) -> str:
    """Run ``python -m fairseq_cli.<module>``; return stdout+stderr, failing the test with it on error."""
    proc = subprocess.run([sys.executable, "-m", f"fairseq_cli.{module}", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **ONE_THREAD})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"fairseq_cli.{module} failed:\n{output[-4000:]}"
    return output


def write_toy_parallel(folder: Path, n: int, seed: int) -> None:
    """A toy 'translation': target = source words reversed, each with a suffix."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(20)]
    src, tgt = [], []
    for _ in range(n):
        sentence = rng.choices(words, k=rng.randint(3, 8))
        src.append(" ".join(sentence))
        tgt.append(" ".join(w + "x" for w in reversed(sentence)))
    (folder / f"{folder.name}.src").write_text("\n".join(src) + "\n")
    (folder / f"{folder.name}.tgt").write_text("\n".join(tgt) + "\n")


@pytest.mark.slow
def test_fairseq_pipeline_with_the_plugin(tmp_path):
    """fairseq-preprocess, fairseq-train --user-dir (4 updates, then resumed to 8), fairseq-generate --user-dir."""
    for split, n in (("train", 160), ("valid", 20), ("test", 20)):
        (tmp_path / split).mkdir()
        write_toy_parallel(tmp_path / split, n, seed=len(split))
    fairseq("preprocess", "--source-lang", "src", "--target-lang", "tgt", "--joined-dictionary",
            "--trainpref", "train/train", "--validpref", "valid/valid", "--testpref", "test/test",
            "--destdir", "bin", "--workers", "1", cwd=tmp_path)
    common = ["bin", "--user-dir", USER_DIR, "--save-dir", "ckpt", "--tensorboard-logdir", "tb", *TINY_TRANSFORMER]
    fairseq("train", *common, "--max-update", "4", cwd=tmp_path)
    resumed = fairseq("train", *common, "--max-update", "8", cwd=tmp_path)
    assert re.search(r"Loaded checkpoint ckpt/checkpoint_last\.pt \(epoch \d+ @ 4 updates\)", resumed)
    import fairseq_ext  # noqa: F401  (compat allowlists fairseq's checkpoint classes)

    state = torch.load(tmp_path / "ckpt" / "checkpoint_last.pt", weights_only=True)
    assert state["optimizer_history"][-1]["num_updates"] == 8
    assert any((tmp_path / "tb").rglob("events.out.tfevents.*"))
    generated = fairseq("generate", "bin", "--user-dir", USER_DIR, "--path", "ckpt/checkpoint_last.pt",
                        "--gen-subset", "test", "--beam", "2", "--batch-size", "8", "--scoring", "sacrebleu",
                        "--cpu", cwd=tmp_path)
    assert re.search(r"Generate test with beam=2: BLEU = \d+\.\d+ .* \(BP = ", generated)
    assert len([line for line in generated.splitlines() if line.startswith("H-")]) == 20  # the last batch too
