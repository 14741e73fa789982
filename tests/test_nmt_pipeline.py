"""Multilingual translation end to end on a toy corpus: prepare -> task/model checks -> train -> generate.

The toy corpus (tests/nmt_toy_corpus.py) has the Multi30k layout, so the real commands run on it: ``prepare``
(joint SentencePiece, one dictionary, fairseq-preprocess), ``bash scripts/train_multilingual.sh direct --quick
--eval-bleu`` (fairseq-train with ``--user-dir fairseq_ext``, once per session) and fairseq-generate into a
requested language.
"""
from __future__ import annotations

import re
import shutil
from argparse import Namespace
from pathlib import Path

import pytest
import torch

from mvadl.runner import main, parse_config
from nlp_experiments.fairseq_runs import USER_DIR as PLUGIN_DIR
from nlp_experiments.translation import generation, training
from nlp_experiments.translation.train_log import training_metrics
from tests.conftest import usage_error
from tests.nmt_toy_corpus import DIRECT_PAIRS, ONE_THREAD, TOY_TRAIN_ARGS, run_command, write_toy_multi30k

pytest_plugins = ["tests.nmt_toy_corpus"]

USER_DIR = str(PLUGIN_DIR)


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


def test_prepare_writes_one_shared_dictionary_and_is_idempotent(toy_data_bin, capsys):
    from nlp_experiments.translation.prepare import PrepareConfig, run

    dicts = {lang: (toy_data_bin / f"dict.{lang}.txt").read_text() for lang in ("en", "de", "fr")}
    assert dicts["en"] == dicts["de"] == dicts["fr"] == (toy_data_bin / "dict.txt").read_text()
    for pair in ("en-de", "en-fr", "de-fr"):
        for split in ("train", "valid", "test"):
            assert (toy_data_bin / f"{split}.{pair}.{pair[:2]}.bin").is_file()
    assert (toy_data_bin / "spm.model").is_file() and (toy_data_bin / "langid.json").is_file()
    assert (toy_data_bin / "raw" / "test.fr").read_text().splitlines()[0].endswith(" .")
    stamp = (toy_data_bin / ".stamp").read_text()
    assert main(run, PrepareConfig, ["--data-dir", str(toy_data_bin.parent), "--out-dir", str(toy_data_bin),
                                     "--vocab-size", "80", "--device", "cpu"]) == 0
    assert (toy_data_bin / ".stamp").read_text() == stamp and "up to date" in capsys.readouterr().err
    assert parse_config(PrepareConfig, ["--quick"]).vocab_size == 1000  # QUICK, unless given explicitly
    assert parse_config(PrepareConfig, ["--quick", "--vocab-size", "80"]).vocab_size == 80


def test_batches_carry_the_right_language_tokens(toy_data_bin, one_torch_thread):
    args, task = build_task(toy_data_bin)
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


def test_all_embeddings_are_one_tensor(toy_data_bin, one_torch_thread):
    cfg, task = build_task(toy_data_bin)
    model = task.build_model(cfg.model)
    shared = model.encoder.embed_tokens.weight
    assert model.decoder.embed_tokens.weight is shared
    assert model.decoder.output_projection.weight is shared
    assert shared.shape == (len(task.source_dictionary), 256)
    assert (len(model.encoder.layers), len(model.decoder.layers)) == (3, 3)
    assert model.encoder.layers[0].self_attn.num_heads == 4 and model.encoder.layers[0].fc1.out_features == 1024
    small_cfg, small = build_task(toy_data_bin, "--encoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64")
    small_model = small.build_model(small_cfg.model)
    assert small_model.decoder.embed_tokens.embedding_dim == 32  # flags override the architecture's defaults


def test_per_pair_validation_metrics_are_corpus_scores_over_batches(toy_data_bin, one_torch_thread):
    """Per-pair loss, BLEU, chrF and off-target rate; BLEU/chrF of a validation in two batches are the corpus
    scores of all its translations (sacreBLEU's corpus_score), not a mean of batch scores."""
    from fairseq import utils
    from fairseq.logging import metrics

    from nlp_experiments.translation.metrics import corpus_score

    torch.manual_seed(0)
    args, task = build_task(toy_data_bin, "--encoder-embed-dim", "32", "--encoder-ffn-embed-dim", "64",
                            "--encoder-layers", "1", "--decoder-layers", "1", "--eval-pair-bleu",
                            "--eval-pair-generation-args", '{"beam": 1, "max_len_a": 0, "max_len_b": 5}')
    model, criterion = task.build_model(args.model), task.build_criterion(args.criterion)
    task.load_dataset("valid")
    valid = task.dataset("valid")
    halves = [valid.collater([valid[i] for i in range(start, len(valid), 2)]) for start in (0, 1)]
    logs = []
    task.begin_valid_epoch(1, model)
    with metrics.aggregate(new_root=True) as agg:
        for half in halves:
            loss, sample_size, log = task.valid_step(half, model, criterion)
            pooled_loss, pooled_size, _ = super(type(task), task).valid_step(half, model, criterion)
            assert float(loss) == pytest.approx(float(pooled_loss), rel=1e-4) and sample_size == pooled_size
            task.reduce_metrics([log], criterion)
            logs.append(log)
        values = agg.get_smoothed_values()
    pairs = DIRECT_PAIRS.split(",")
    for prefix in ("loss", "bleu", "chrf", "off_target"):
        assert all(f"{prefix}_{pair}" in values for pair in pairs), prefix
        per_pair = [values[f"{prefix}_{pair}"] for pair in pairs]
        assert values[f"{prefix}_mean"] == pytest.approx(sum(per_pair) / len(per_pair), abs=1e-3)
    assert all(0.0 <= values[f"off_target_{pair}"] <= 1.0 for pair in pairs)
    assert utils.item(values["loss"]) > 0
    translations = [t for log in logs for t in log["pair_translations:de-fr"]]  # both batches
    assert len(translations) == 24 and task.validation_translations["de-fr"] == translations
    hypotheses, references = [h for h, _ in translations], [r for _, r in translations]
    assert values["chrf_de-fr"] == pytest.approx(round(corpus_score("chrf", hypotheses, references), 2))
    assert values["bleu_de-fr"] == pytest.approx(round(corpus_score("bleu", hypotheses, references), 2))
    task.begin_valid_epoch(2, model)  # the next validation starts afresh
    with metrics.aggregate(new_root=True):
        task.reduce_metrics([logs[0]], criterion)
    assert task.validation_translations["de-fr"] == logs[0]["pair_translations:de-fr"]


def test_training_logs_per_pair_scores_and_records_the_run(toy_training):
    valid_lines = [line for line in toy_training["stdout"].splitlines() if " | valid | {" in line]
    assert valid_lines and all(f'"valid_bleu_{p}": ' in valid_lines[-1] for p in DIRECT_PAIRS.split(","))
    assert '"valid_loss_mean"' in valid_lines[-1] and '"valid_off_target_mean"' in valid_lines[-1]
    assert any((toy_training["runs"] / "direct" / "tb" / "valid").glob("events.out.tfevents.*"))
    record = toy_training["record"]
    assert record["updates"] == 4 and record["lang_pairs"] == DIRECT_PAIRS.split(",")
    assert record["resumed_from_updates"] == 0 and record["resumes"] == 0 and record["train_wps"] > 0
    assert record["validation"] == training_metrics(toy_training["runs"] / "direct" / "train.log")[
        "validation"] and record["validation"][-1]["updates"] == 4
    assert record["config"]["arch"] == "mva_transformer_multi30k" and record["config"]["max_update"] == 4
    assert record["config"]["lr"] == 2e-3 and record["seed"] == 1 and record["device"].startswith("cpu")
    assert record["git_revision"] != "unknown"
    assert (toy_training["results"] / "nmt" / "training_direct.json").read_text() == (
        toy_training["runs"] / "direct" / "training.json").read_text()
    assert toy_training["checkpoint"].is_file()
    assert record["averaged_updates"] == [2, 4] and (toy_training["save_dir"] / "checkpoint_averaged.pt").is_file()


@pytest.mark.slow
def test_training_resumes_from_its_checkpoint(toy_data_bin, toy_training, tmp_path):
    """A second call continues from checkpoint_last.pt (fairseq loads it with weights_only) and appends its log."""
    runs = tmp_path / "runs"
    shutil.copytree(toy_training["runs"] / "direct", runs / "direct")
    shutil.copytree(toy_training["save_dir"], tmp_path / "ckpt")
    proc = run_command(["bash", "scripts/train_multilingual.sh", "direct", *TOY_TRAIN_ARGS, "--max-update", "8",
                        "--data-bin", str(toy_data_bin), "--save-dir", str(tmp_path / "ckpt"), "--runs-dir",
                        str(runs)], {"RESULTS_DIR": str(tmp_path / "results")})
    assert re.search(r"Loaded checkpoint \S+checkpoint_last\.pt \(epoch \d+ @ 4 updates\)", proc.stdout)
    record = training.read_training_record(runs / "direct")
    assert record["updates"] == 8 and record["resumed_from_updates"] == 4 and record["resumes"] == 1
    first = training_metrics(toy_training["runs"] / "direct" / "train.log")["training_wall_s"]
    first_log = (toy_training["runs"] / "direct" / "train.log").read_text()
    (tmp_path / "resumed.log").write_text((runs / "direct" / "train.log").read_text()[len(first_log):])
    resumed_segment = training_metrics(tmp_path / "resumed.log")["training_wall_s"]
    assert record["training_wall_s"] == pytest.approx(first + resumed_segment)  # fairseq restarts its clock
    assert [v["updates"] for v in record["validation"]] == [2, 4, 6, 8]  # both runs' validations, one log
    assert record["averaged_updates"] == [6, 8]
    import fairseq_ext  # noqa: F401  (the plugin's compat module allowlists what fairseq checkpoints hold)

    state = torch.load(tmp_path / "ckpt" / "checkpoint_last.pt", weights_only=True)
    assert state["optimizer_history"][-1]["num_updates"] == 8


def test_generate_into_a_requested_language(toy_data_bin, toy_training, tmp_path, monkeypatch, one_torch_thread):
    """fairseq-generate --user-dir translates de->fr; the decoder is forced to start with __fr__."""
    command = generation.generate_command(toy_data_bin, toy_training["checkpoint"], "de-fr", "test", beam=1,
                                            batch_size=32, device="cpu") + ["--max-len-a", "0", "--max-len-b", "8"]
    assert "--cpu" in command and command[command.index("--target-lang") + 1] == "fr"
    output = tmp_path / "de-fr.txt"
    for name, value in ONE_THREAD.items():
        monkeypatch.setenv(name, value)
    generation.generate(command, output)
    assert len([line for line in output.read_text().splitlines() if line.startswith("D-")]) == 24
    assert re.search(r"Generate test with beam=1: BLEU = \d+\.\d+", output.read_text())

    # The same checkpoint in-process: every hypothesis begins with the requested language's token.
    from fairseq import checkpoint_utils

    from fairseq_ext.compat import allow_fairseq_checkpoint_globals

    allow_fairseq_checkpoint_globals()  # what fairseq's torch.load needs (other tests may reset the allowlist)

    models, _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(toy_training["checkpoint"])],
        arg_overrides={"data": str(toy_data_bin), "source_lang": "de", "target_lang": "fr"})
    task.load_dataset("test")
    dataset = task.dataset("test")
    sample = dataset.collater([dataset[i] for i in range(4)])
    generator = task.build_generator(models, Namespace(beam=1, max_len_a=0, max_len_b=5))
    hypotheses = task.inference_step(generator, models, sample)
    fr = task.target_dictionary.index("__fr__")
    assert [h[0]["tokens"][0].item() for h in hypotheses] == [fr] * 4


def test_a_failing_command_is_one_line_naming_its_log(tmp_path):
    import sys

    from nlp_experiments.fairseq_runs import FairseqError, run_logged

    log = tmp_path / "train.log"
    command = [sys.executable, "-m", "no_such_fairseq_tool"]
    with pytest.raises(FairseqError, match=re.escape(f"{log}: no_such_fairseq_tool failed (exit 1): ")
                       + ".*No module named no_such_fairseq_tool"):
        run_logged(command, log)
    assert "No module named" in log.read_text()  # the whole output is kept
    assert run_logged(command, log, check=False) == 1  # or the status, for a caller that records failures


def test_unknown_or_malformed_pairs_fail_clearly(toy_data_bin, capsys):
    from fairseq_ext.tasks.multilingual_translation_eval import check_language_pairs
    from nlp_experiments.translation.train import TrainConfig

    base = dict(data=str(toy_data_bin), langs=["en", "de", "fr"], source_lang=None, target_lang=None,
                train_subset="train")
    with pytest.raises(ValueError, match="'cs' is not in --langs"):
        check_language_pairs(Namespace(**base, lang_pairs="en-de,en-cs"))
    with pytest.raises(ValueError, match="malformed language pair 'en-en'"):
        check_language_pairs(Namespace(**base, lang_pairs="en-en"))
    with pytest.raises(ValueError, match="no dictionary .*dict.cs.txt"):
        check_language_pairs(Namespace(**{**base, "langs": None}, lang_pairs="en-cs"))
    check_language_pairs(Namespace(**base, lang_pairs=DIRECT_PAIRS))
    for argv, message in ((["en-xx"], "invalid choice 'en-xx'"), (["--seed", "2"], "configuration to train")):
        assert message in usage_error(capsys, lambda argv=argv: parse_config(TrainConfig, argv))
    config = parse_config(TrainConfig, ["zeroshot", "--quick", "--lr", "1e-3"])
    assert (config.model, config.lr, config.max_update, config.arch) == (
        "zeroshot", 1e-3, 20, "mva_transformer_multi30k")
    assert parse_config(TrainConfig, ["--seed", "2", "bilingual_en_fr"]).model == "bilingual_en_fr"
    default = parse_config(TrainConfig, ["direct"])
    assert (default.max_update, default.stop_time_hours, default.arch, default.lr, default.seed) == (
        6400, None, "mva_transformer_multi30k_cpu", 2e-3, 1)


def test_train_command_is_the_reference_recipe(tmp_path):
    from nlp_experiments.translation.train import TrainConfig

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "languages.txt").write_text("en\nde\nfr\n")  # what prepare stores with the data
    config = parse_config(TrainConfig, ["zeroshot", "--data-bin", str(tmp_path / "bin")])
    command = training.train_command(config, ("en-de", "de-en"), tmp_path / "ckpt", tmp_path / "run", "cpu")
    text = " ".join(command)
    for expected in ("--task mva_multilingual_translation --lang-pairs en-de,de-en --langs en,de,fr",
                     "--arch mva_transformer_multi30k_cpu --share-all-embeddings", "--lr 0.002 ",
                     "--warmup-updates 800 ", "--max-update 6400 ", "--max-tokens 2048",
                     "--best-checkpoint-metric loss_mean", "--seed 1 ", "--validate-interval-updates 400",
                     "--save-interval-updates 400 --keep-interval-updates 16", "--log-format json"):
        assert expected in text, expected
    assert "--stop-time-hours" not in command  # a fixed number of updates, the same on every machine
    assert command[-1] == "--cpu" and "--eval-pair-bleu" not in command and "--max-valid-steps" not in command
    gpu = training.train_command(config, ("en-de",), tmp_path, tmp_path, "cuda:1")
    assert "--cpu" not in gpu and gpu[-2:] == ["--device-id", "1"]


@pytest.mark.parametrize("module, argv, message", [
    ("train", ["zeroshot", "--average-last", "0"], "--average-last must be at least 1, got 0"),
    ("budget", ["--average-last", "0"], "--average-last must be at least 1, got 0"),
    ("train", ["zeroshot", "--average-last", "5", "--keep-interval-updates", "4"],
     "--average-last 5 is more than the 4 checkpoints --keep-interval-updates keeps"),
    ("train", ["direct", "--max-update", "800"], "--average-last 3 is more than the 2 interval checkpoints that "
                                                 "--max-update 800 with --save-interval-updates 400 writes"),
])
def test_training_refuses_an_average_it_cannot_make_before_training(module, argv, message, capsys):
    """found[-0:] averaged every checkpoint; too few kept or written failed only after the whole training."""
    from nlp_experiments.translation import budget, train

    config_cls = {"train": train.TrainConfig, "budget": budget.BudgetConfig}[module]
    assert message in usage_error(capsys, lambda: main(lambda config, ctx: pytest.fail("trained"), config_cls, argv))


def test_training_may_average_every_checkpoint_fairseq_keeps():
    from nlp_experiments.translation.train import TrainConfig

    config = parse_config(TrainConfig, ["direct", "--keep-interval-updates", "-1", "--average-last", "16"])
    assert (config.keep_interval_updates, config.average_last) == (-1, 16)  # -1: fairseq keeps them all


def test_misaligned_or_missing_data_fail_clearly(tmp_path, capsys):
    from mvadl.data import DataError
    from nlp_experiments.translation.export_multi30k import parse_langs
    from nlp_experiments.translation.prepare import PrepareConfig, run
    from tests.conftest import write_lines_gz

    root = write_toy_multi30k(tmp_path / "data", sizes=(("train", 10), ("val", 3), ("test_2016_flickr", 3)))
    write_lines_gz(root / "multi30k" / "train.fr.gz", ["Un chien ."] * 9)
    assert main(run, PrepareConfig, ["--data-dir", str(root), "--out-dir", str(tmp_path / "out"), "--device",
                                     "cpu"]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: misaligned Multi30k files") and "train.fr.gz: 9 lines" in error
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.tmp").exists()
    assert main(run, PrepareConfig, ["--data-dir", str(tmp_path / "nowhere"), "--device", "cpu"]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "nowhere/multi30k: missing (run scripts/get_data.sh or set DATA_DIR)")
    with pytest.raises(DataError, match="unknown language"):
        parse_langs("en,xx")


def test_translate_checks_its_arguments_and_identifies_the_source(toy_data_bin, tmp_path, capsys, monkeypatch):
    """Argument checks, and the fairseq-interactive call it makes (faked here; the slow test runs it)."""
    import subprocess

    from nlp_experiments.translation.translate import TranslateConfig, run

    assert "--to" in usage_error(capsys, lambda: parse_config(TranslateConfig, ["Ein Hund ."]))
    assert "--from and --to are both 'fr'" in usage_error(
        capsys, lambda: parse_config(TranslateConfig, ["--to", "fr", "--from", "fr", "Un chien ."]))
    assert parse_config(TranslateConfig, ["--to", "fr"]).text == []  # none: standard input
    missing = ["--to", "fr", "--checkpoint", str(tmp_path / "none.pt"), "x"]
    assert main(run, TranslateConfig, missing) == 1 and "none.pt: no checkpoint" in capsys.readouterr().err

    calls, real_run = [], subprocess.run

    def fake_run(command, **kwargs):
        if command[0] == "git":  # the run's revision, read when it starts
            return real_run(command, **kwargs)
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout="S-1\tb\nD-1\t-0.1\tdeux\nD-0\t-0.2\tun\n", stderr="")

    monkeypatch.setattr(generation.subprocess, "run", fake_run)
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"")
    monkeypatch.setattr(generation, "model_languages", lambda checkpoint: ("en", "de", "fr"))
    argv = ["--to", "fr", "--checkpoint", str(checkpoint), "--data-bin", str(toy_data_bin), "--device", "cpu",
            "Ein Hund rennt auf der Straße .", "Eine Katze spielt im Wasser ."]
    assert main(run, TranslateConfig, argv) == 0
    assert capsys.readouterr().out.splitlines() == ["un", "deux"]  # in input order
    command = calls[0]
    assert command[command.index("--source-lang") + 1] == "de" and command[command.index("--target-lang") + 1] == "fr"
    assert "--cpu" in command and command[command.index("--path") + 1] == str(checkpoint)
    assert main(run, TranslateConfig, ["--from", "en", *argv]) == 0
    assert calls[1][calls[1].index("--source-lang") + 1] == "en"


@pytest.mark.slow
def test_translate_script_translates(toy_data_bin, toy_training):
    proc = run_command(["bash", "scripts/translate.sh", "--to", "fr", "--data-bin", str(toy_data_bin),
                        "--checkpoint", str(toy_training["checkpoint"]), "--beam", "1",
                        "Ein Hund rennt auf der Straße .", "Eine Katze spielt im Wasser ."])
    assert len(proc.stdout.splitlines()) == 2 and "identified as 'de'" in proc.stderr


@pytest.mark.slow
def test_evaluate_script_quick_on_the_toy_model(toy_data_bin, toy_training, tmp_path):
    """``bash scripts/evaluate_multilingual.sh --quick``: real fairseq-generate per direction, then scores."""
    import json

    from nlp_experiments.translation.scoring import read_generate_output

    runs = tmp_path / "runs"
    shutil.copytree(toy_training["runs"] / "direct", runs / "direct")
    run_command(["bash", "scripts/evaluate_multilingual.sh", "--quick", "--models", "direct", "--splits", "test",
                 "--pivot", "direct", "--data-bin", str(toy_data_bin), "--checkpoints",
                 str(toy_training["save_dir"].parent), "--runs-dir", str(runs)],
                {"RESULTS_DIR": str(tmp_path / "results")})
    result = json.loads((tmp_path / "results" / "nmt" / "evaluation.json").read_text())
    assert set(result["direct"]) == set(DIRECT_PAIRS.split(",")) and result["config"]["beam"] == 1
    assert all(0 <= entry["off_target"] <= 1 and entry["bleu"] >= 0 for entry in result["direct"].values())
    assert result["training"]["direct"]["updates"] == 4 and result["git_revision"] != "unknown"
    assert result["config"]["checkpoint"] == "checkpoint_averaged.pt"  # the last two interval checkpoints
    generated = (runs / "generate" / "checkpoint_averaged" / "direct" / "test" / "de-fr.txt").read_text().splitlines()
    assert len([line for line in generated if line.startswith("D-")]) == 24
    # de->fr and fr->de through English: the de->en output, translated again, scored under its own name
    assert set(result["direct_pivot_en"]) == {"de-fr", "fr-de"} and result["config"]["pivot"] == ["direct"]
    pivot = runs / "generate" / "checkpoint_averaged" / "direct_pivot_en" / "test"
    assert (pivot / "de-fr.txt.pivot.txt").read_text().splitlines() == read_generate_output(
        runs / "generate" / "checkpoint_averaged" / "direct" / "test" / "de-en.txt")
    assert len(read_generate_output(pivot / "fr-de.txt")) == 24


def test_a_fourth_language_end_to_end(toy_data_bin, toy_training, tmp_path):
    """Czech added as a user would: the toy corpus prepared with four languages, a model trained on it, and a
    translation into Czech (one of the model's languages, never trained into: only the command is tested). The
    language list travels with the data and the model; the 3-language model with the 4-language data (or the
    other way round) is refused in one line naming both lists."""
    import sys

    from tests.nmt_toy_corpus import ALL_LANGS

    root = write_toy_multi30k(tmp_path / "data", langs=ALL_LANGS)
    data_bin, runs = tmp_path / "bin4", tmp_path / "runs"
    run_command([sys.executable, "-m", "nlp_experiments.translation.prepare", "--data-dir", str(root), "--langs",
                 *ALL_LANGS, "--vocab-size", "100", "--out-dir", str(data_bin)])
    assert (data_bin / "languages.txt").read_text().split() == ["en", "de", "fr", "cs"]
    run_command(["bash", "scripts/train_multilingual.sh", "direct", "--quick", "--max-update", "2",
                 "--max-tokens", "600", "--save-interval-updates", "1", "--average-last", "1", "--data-bin",
                 str(data_bin), "--save-dir", str(runs / "ckpt"), "--runs-dir", str(runs)],
                {"RESULTS_DIR": str(runs / "results")})
    checkpoint = runs / "ckpt" / "checkpoint_best.pt"
    assert generation.model_languages(checkpoint) == ("en", "de", "fr", "cs")
    translate = [sys.executable, "-m", "nlp_experiments.translation.translate", "--beam", "1", "--from", "en"]
    proc = run_command([*translate, "--to", "cs", "--checkpoint", str(checkpoint), "--data-bin", str(data_bin),
                        "A dog runs on the street ."])
    assert len(proc.stdout.splitlines()) == 1
    refused = run_command([*translate, "--to", "cs", "--checkpoint", str(checkpoint), "--data-bin",
                           str(toy_data_bin), "A dog ."], check=False)
    assert refused.returncode == 1 and refused.stderr.strip().splitlines()[-1].endswith(
        f"trained with languages en,de,fr,cs, but {toy_data_bin} has en,de,fr (use the data folder the model "
        f"was trained on)")
    wrong_target = run_command([*translate, "--to", "cs", "--checkpoint", str(toy_training["checkpoint"]),
                                "--data-bin", str(toy_data_bin), "A dog ."], check=False)
    assert wrong_target.returncode == 1 and "target language 'cs' is not one of the model's: en, de, fr" in \
        wrong_target.stderr


def test_quick_runs_use_folders_of_their_own():
    """--quick never reads or writes a real run's data-bin, checkpoints or run folders."""
    from nlp_experiments.translation import budget, comparisons, curves, evaluate, prepare, ship, train

    configs = [parse_config(module, ["--quick", *extra]) for module, extra in (
        (prepare.PrepareConfig, []), (train.TrainConfig, ["direct"]), (curves.CurvesConfig, []),
        (comparisons.ComparisonsConfig, []), (evaluate.EvaluateConfig, []), (ship.ShipConfig, []),
        (budget.BudgetConfig, []))]
    for config in configs:
        for name in ("data_bin", "out_dir", "checkpoints", "runs_dir", "work_dir"):
            value = getattr(config, name, None)
            assert value is None or value.startswith("runs/quick/"), (type(config).__name__, name, value)
