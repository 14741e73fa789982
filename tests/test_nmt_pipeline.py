"""Multilingual translation end to end on a toy corpus: prepare -> task/model checks -> train -> generate.

The toy corpus (tests/nmt_toy_corpus.py) has the Multi30k layout, so the real scripts run on it:
``scripts/prepare_multi30k.sh`` (joint SentencePiece, one dictionary), ``scripts/train_multilingual.sh
direct --quick --eval-bleu`` (fairseq-train with ``--user-dir fairseq_ext``) and ``fairseq-generate
--user-dir fairseq_ext`` into a requested language.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from mvadl import REPO_ROOT
from tests.nmt_toy_corpus import write_toy_multi30k

USER_DIR = str(REPO_ROOT / "fairseq_ext")
DIRECT_PAIRS = "en-de,de-en,en-fr,fr-en,de-fr,fr-de"


def run(command: list[str], env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHON": sys.executable, **(env or {})})
    if check:
        assert proc.returncode == 0, f"{command[:3]} failed:\n{(proc.stdout + proc.stderr)[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = write_toy_multi30k(tmp_path_factory.mktemp("toy_multi30k"))
    out = root / "bin"
    run(["bash", "scripts/prepare_multi30k.sh", "--out-dir", str(out), "--vocab-size", "80"], {"DATA_DIR": str(root)})
    return out


def build_task(data_bin: Path, *extra: str, pairs: str = DIRECT_PAIRS):
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, [
        str(data_bin), "--user-dir", USER_DIR, "--task", "mva_multilingual_translation", "--lang-pairs", pairs,
        "--langs", "en,de,fr", "--encoder-langtok", "src", "--decoder-langtok", "--arch", "mva_transformer_multi30k",
        "--criterion", "label_smoothed_cross_entropy", "--label-smoothing", "0.1", "--cpu", *extra])
    cfg = convert_namespace_to_omegaconf(args)  # what fairseq-train does: fills every option's default
    return cfg, tasks.setup_task(cfg.task)


def test_prepare_writes_one_shared_dictionary_and_is_idempotent(prepared):
    dicts = {lang: (prepared / f"dict.{lang}.txt").read_text() for lang in ("en", "de", "fr")}
    assert dicts["en"] == dicts["de"] == dicts["fr"] == (prepared / "dict.txt").read_text()
    for pair in ("en-de", "en-fr", "de-fr"):
        for split in ("train", "valid", "test"):
            assert (prepared / f"{split}.{pair}.{pair[:2]}.bin").is_file()
    assert (prepared / "spm.model").is_file() and (prepared / "langid.json").is_file()
    assert (prepared / "raw" / "test.fr").read_text().splitlines()[0].endswith(" .")
    again = run(["bash", "scripts/prepare_multi30k.sh", "--out-dir", str(prepared), "--vocab-size", "80"],
                {"DATA_DIR": str(prepared.parent)})
    assert "up to date" in again.stdout


def test_batches_carry_the_right_language_tokens(prepared):
    args, task = build_task(prepared)
    dictionary = task.source_dictionary
    langtok = {lang: dictionary.index(f"__{lang}__") for lang in ("en", "de", "fr")}
    assert len(set(langtok.values())) == 3 and dictionary.unk() not in langtok.values()

    task.load_dataset("valid")
    valid = task.dataset("valid")
    assert sorted(valid.lang_pairs) == sorted(DIRECT_PAIRS.split(","))
    batch = valid.collater([valid[i] for i in range(len(valid))])
    for row, pair in enumerate(batch["lang_pair"]):
        src, tgt = pair.split("-")
        assert langtok[src] in batch["net_input"]["src_tokens"][row].tolist()  # --encoder-langtok src
        assert batch["target"][row, 0].item() == langtok[tgt]                 # --decoder-langtok
        assert batch["net_input"]["prev_output_tokens"][row, 1].item() == langtok[tgt]

    task.load_dataset("train")  # fairseq's sampled multi-pair dataset
    train = task.dataset("train")
    seen = set()
    for i in range(0, len(train), 7):
        item = train.collater([train[i]])
        src_tok = [t for t in item["net_input"]["src_tokens"][0].tolist() if t in langtok.values()]
        tgt_tok = item["target"][0, 0].item()
        seen.add((src_tok[0], tgt_tok))
    names = {v: k for k, v in langtok.items()}
    assert {f"{names[s]}-{names[t]}" for s, t in seen} == set(DIRECT_PAIRS.split(","))


def test_all_embeddings_are_one_tensor(prepared):
    cfg, task = build_task(prepared)
    model = task.build_model(cfg.model)
    shared = model.encoder.embed_tokens.weight
    assert model.decoder.embed_tokens.weight is shared
    assert model.decoder.output_projection.weight is shared
    assert shared.shape == (len(task.source_dictionary), 256)
    assert (len(model.encoder.layers), len(model.decoder.layers)) == (3, 3)
    assert model.encoder.layers[0].self_attn.num_heads == 4 and model.encoder.layers[0].fc1.out_features == 1024
    small_cfg, small = build_task(prepared, "--encoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64")
    small_model = small.build_model(small_cfg.model)
    assert small_model.decoder.embed_tokens.embedding_dim == 32  # flags override the architecture's defaults


def test_per_pair_validation_metrics(prepared):
    from fairseq import utils
    from fairseq.logging import metrics

    torch.manual_seed(0)
    args, task = build_task(prepared, "--encoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64",
                            "--encoder-layers", "1", "--decoder-layers", "1", "--eval-pair-bleu",
                            "--eval-pair-generation-args", '{"beam": 1, "max_len_a": 0, "max_len_b": 5}')
    model, criterion = task.build_model(args.model), task.build_criterion(args.criterion)
    task.load_dataset("valid")
    valid = task.dataset("valid")
    batch = valid.collater([valid[i] for i in range(len(valid))])
    loss, sample_size, log = task.valid_step(batch, model, criterion)
    pooled_loss, pooled_size, _ = super(type(task), task).valid_step(batch, model, criterion)
    assert float(loss) == pytest.approx(float(pooled_loss), rel=1e-4) and sample_size == pooled_size
    with metrics.aggregate(new_root=True) as agg:
        task.reduce_metrics([log], criterion)
        values = agg.get_smoothed_values()
    pairs = DIRECT_PAIRS.split(",")
    for prefix in ("loss", "bleu", "chrf", "off_target"):
        assert all(f"{prefix}_{pair}" in values for pair in pairs), prefix
        per_pair = [values[f"{prefix}_{pair}"] for pair in pairs]
        assert values[f"{prefix}_mean"] == pytest.approx(sum(per_pair) / len(per_pair), abs=1e-3)
    assert all(0.0 <= values[f"off_target_{pair}"] <= 1.0 for pair in pairs)
    assert utils.item(values["loss"]) > 0


@pytest.fixture(scope="module")
def trained(prepared, tmp_path_factory):
    runs = tmp_path_factory.mktemp("nmt_runs")
    out = run(["bash", "scripts/train_multilingual.sh", "direct", "--quick", "--eval-bleu", "--data-bin",
               str(prepared), "--save-dir", str(runs / "ckpt" / "direct")], {"RUNS_DIR": str(runs), "QUICK_MAX_UPDATE": "6"})
    return {"runs": runs, "stdout": out.stdout, "checkpoint": runs / "ckpt" / "direct" / "checkpoint_best.pt"}


def test_training_logs_per_pair_scores_to_console_and_tensorboard(trained):
    valid_lines = [line for line in trained["stdout"].splitlines() if "valid on 'valid' subset" in line]
    assert valid_lines and all(f"bleu_{p} " in valid_lines[-1] for p in DIRECT_PAIRS.split(","))
    assert "loss_mean" in valid_lines[-1] and "off_target_mean" in valid_lines[-1]
    assert any((trained["runs"] / "direct" / "tb" / "valid").glob("events.out.tfevents.*"))
    meta = json.loads((trained["runs"] / "direct" / "meta.json").read_text())
    assert meta["updates"] == 6 and meta["lang_pairs"] == DIRECT_PAIRS
    assert trained["checkpoint"].is_file()


def test_generate_into_a_requested_language(prepared, trained):
    """fairseq-generate --user-dir translates de->fr; the decoder is forced to start with __fr__."""
    proc = run([sys.executable, "-m", "fairseq_cli.generate", str(prepared), "--user-dir", USER_DIR,
                "--path", str(trained["checkpoint"]), "--task", "mva_multilingual_translation",
                "--lang-pairs", DIRECT_PAIRS, "--langs", "en,de,fr", "--source-lang", "de", "--target-lang", "fr",
                "--encoder-langtok", "src", "--decoder-langtok", "--gen-subset", "test", "--beam", "1",
                "--max-len-a", "0", "--max-len-b", "8", "--batch-size", "32", "--post-process", "sentencepiece",
                "--scoring", "sacrebleu", "--cpu"])
    assert len([line for line in proc.stdout.splitlines() if line.startswith("D-")]) == 24
    assert re.search(r"Generate test with beam=1: BLEU = \d+\.\d+", proc.stdout + proc.stderr)

    # The same checkpoint in-process: every hypothesis begins with the requested language's token.
    from fairseq import checkpoint_utils

    models, _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(trained["checkpoint"])], arg_overrides={"data": str(prepared), "source_lang": "de", "target_lang": "fr"})
    task.load_dataset("test")
    dataset = task.dataset("test")
    sample = dataset.collater([dataset[i] for i in range(4)])
    generator = task.build_generator(models, Namespace(beam=1, max_len_a=0, max_len_b=5))
    hypotheses = task.inference_step(generator, models, sample)
    fr = task.target_dictionary.index("__fr__")
    assert [h[0]["tokens"][0].item() for h in hypotheses] == [fr] * 4


def test_unknown_or_malformed_pairs_fail_clearly(prepared):
    from fairseq_ext.tasks.multilingual_translation_eval import check_language_pairs

    base = dict(data=str(prepared), langs=["en", "de", "fr"], source_lang=None, target_lang=None,
                train_subset="train")
    with pytest.raises(ValueError, match="'cs' is not in --langs"):
        check_language_pairs(Namespace(**base, lang_pairs="en-de,en-cs"))
    with pytest.raises(ValueError, match="malformed language pair 'en-en'"):
        check_language_pairs(Namespace(**base, lang_pairs="en-en"))
    with pytest.raises(ValueError, match="no dictionary .*dict.cs.txt"):
        check_language_pairs(Namespace(**{**base, "langs": None}, lang_pairs="en-cs"))
    check_language_pairs(Namespace(**base, lang_pairs=DIRECT_PAIRS))
    proc = run(["bash", "scripts/train_multilingual.sh", "en-xx"], check=False)
    assert proc.returncode == 2 and "unknown configuration 'en-xx'" in proc.stderr


def test_misaligned_or_missing_data_fail_clearly(tmp_path):
    from fairseq_ext.preprocessing import export_multi30k
    from tests.conftest import write_lines_gz

    root = write_toy_multi30k(tmp_path / "data", sizes=(("train", 10), ("val", 3), ("test_2016_flickr", 3)))
    write_lines_gz(root / "multi30k" / "train.fr.gz", ["Un chien ."] * 9)
    args = export_multi30k.parse_args(["--data-dir", str(root), "--out-dir", str(tmp_path / "out")])
    assert export_multi30k.main(args) == 1
    proc = run(["bash", "scripts/prepare_multi30k.sh", "--out-dir", str(tmp_path / "out")], {"DATA_DIR": str(root)},
               check=False)
    assert proc.returncode != 0 and "misaligned Multi30k files" in proc.stderr and "train.fr.gz: 9 lines" in proc.stderr
    assert not (tmp_path / "out").exists()
    proc = run(["bash", "scripts/prepare_multi30k.sh"], {"DATA_DIR": str(tmp_path / "nowhere")}, check=False)
    assert proc.returncode == 1 and "missing" in proc.stderr and "multi30k" in proc.stderr
    with pytest.raises(Exception, match="unknown language"):
        export_multi30k.parse_langs("en,xx")


def test_translate_script_checks_its_arguments(tmp_path):
    """Fast checks only; the translation itself is fairseq-interactive on the checkpoint tested above."""
    proc = run(["bash", "scripts/translate.sh", "Ein Hund ."], check=False)
    assert proc.returncode == 2 and "--to LANG is required" in proc.stderr
    proc = run(["bash", "scripts/translate.sh", "--to", "fr", "--checkpoint", str(tmp_path / "none.pt"), "x"],
               check=False)
    assert proc.returncode == 1 and "no checkpoint" in proc.stderr
