"""End to end: fairseq-preprocess, fairseq-train with our --user-dir (and resume), fairseq-generate.

Runs the real fairseq command-line entry points (``python -m fairseq_cli.*``) on tiny generated
parallel data on the CPU, so the plugin's import path and the checkpoint allowlist are exercised
exactly as a user's command would exercise them.
"""
from __future__ import annotations

import ast
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mvadl import REPO_ROOT

USER_DIR = str(REPO_ROOT / "fairseq_ext")
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
                          capture_output=True, text=True, timeout=300)
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


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Preprocess, train 4 updates, resume to 8, generate; returns the paths and command outputs."""
    root = tmp_path_factory.mktemp("fairseq_e2e")
    for split, n in (("train", 160), ("valid", 20), ("test", 20)):
        (root / split).mkdir()
        write_toy_parallel(root / split, n, seed=len(split))
    fairseq("preprocess", "--source-lang", "src", "--target-lang", "tgt", "--joined-dictionary",
            "--trainpref", "train/train", "--validpref", "valid/valid", "--testpref", "test/test",
            "--destdir", "bin", "--workers", "1", cwd=root)
    common = ["bin", "--user-dir", USER_DIR, "--save-dir", "ckpt", "--tensorboard-logdir", "tb", *TINY_TRANSFORMER]
    first = fairseq("train", *common, "--max-update", "4", cwd=root)
    resumed = fairseq("train", *common, "--max-update", "8", cwd=root)
    generated = fairseq("generate", "bin", "--user-dir", USER_DIR, "--path", "ckpt/checkpoint_last.pt",
                        "--gen-subset", "test", "--beam", "2", "--batch-size", "8", "--scoring", "sacrebleu",
                        "--cpu", cwd=root)
    return {"root": root, "first": first, "resumed": resumed, "generated": generated}


def test_train_resumes_from_its_checkpoint(pipeline):
    assert re.search(r"Loaded checkpoint ckpt/checkpoint_last\.pt \(epoch \d+ @ 4 updates\)", pipeline["resumed"])
    import fairseq_ext  # noqa: F401  (allowlists fairseq's checkpoint classes)
    state = torch.load(pipeline["root"] / "ckpt" / "checkpoint_last.pt", weights_only=True)
    assert state["optimizer_history"][-1]["num_updates"] == 8
    assert any((pipeline["root"] / "tb").rglob("events.out.tfevents.*"))


def test_generate_scores_with_sacrebleu(pipeline):
    assert re.search(r"Generate test with beam=2: BLEU = \d+\.\d+ .* \(BP = ", pipeline["generated"])
    hypotheses = [line for line in pipeline["generated"].splitlines() if line.startswith("H-")]
    assert len(hypotheses) == 20


def test_allowlist_is_exactly_what_checkpoints_hold(pipeline):
    """Every global a fairseq checkpoint pickles is allowlisted, and nothing more is."""
    from fairseq_ext.checkpoint_globals import FAIRSEQ_CHECKPOINT_GLOBALS

    # In a fresh interpreter: once fairseq_ext is imported, allowlisted names are no longer "unsafe".
    code = ("import sys, torch; print(sorted({g for p in sys.argv[1:] "
            "for g in torch.serialization.get_unsafe_globals_in_checkpoint(p)}))")
    checkpoints = [str(p) for p in (pipeline["root"] / "ckpt").glob("*.pt")]
    proc = subprocess.run([sys.executable, "-c", code, *checkpoints], capture_output=True, text=True, check=True)
    needed = set(ast.literal_eval(proc.stdout))
    allowed = {f"{g.__module__}.{g.__qualname__}" for g in FAIRSEQ_CHECKPOINT_GLOBALS}
    assert needed == allowed


def test_without_allowlist_weights_only_load_fails(pipeline):
    """Documents why the plugin allowlists: plain torch.load(weights_only=True) refuses the checkpoint."""
    code = f"import torch; torch.load({str(pipeline['root'] / 'ckpt' / 'checkpoint_last.pt')!r}, weights_only=True)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0 and "Unsupported global" in proc.stderr


def test_last_partial_batch_is_kept():
    """fairseq drops a last batch that is not a multiple of --required-batch-size-multiple; we keep it."""
    import numpy as np
    import fairseq_ext  # noqa: F401
    from fairseq.data import data_utils
    from fairseq_ext.batching_fix import _original_batch_by_size

    indices = np.arange(20)
    kwargs = dict(num_tokens_vec=np.full(20, 5), max_sentences=8, required_batch_size_multiple=8)
    assert sum(map(len, _original_batch_by_size(indices, None, **kwargs))) == 16  # the upstream bug
    batches = data_utils.batch_by_size(indices, None, **kwargs)
    assert [len(b) for b in batches] == [8, 8, 4]
    assert np.concatenate(batches).tolist() == list(range(20))
