"""Scoring of fairseq-generate outputs, reading fairseq-train logs back, and the evaluation's results file."""
from __future__ import annotations

import json

import pytest
import sacrebleu

from mvadl.data import DataError
from mvadl.runner import main
from nlp_experiments.translation import generation
from nlp_experiments.translation import scoring as sd
from nlp_experiments.translation.langid import CharNgramLanguageIdentifier
from nlp_experiments.translation.languages import (
    DIRECTIONS,
    MODEL_PAIRS,
    evaluation_directions,
    model_label,
    models_to_evaluate,
    pivot_name,
)
from nlp_experiments.translation.train_log import interval_wps, training_metrics
from tests.nmt_toy_corpus import toy_captions


def generate_output_text(hypotheses, order=None) -> str:
    """Lines as fairseq-generate prints them (S/T/H/D/P), in a shuffled id order like batching gives."""
    order = order or list(range(len(hypotheses)))[::-1]
    lines = []
    for i in order:
        lines += [f"S-{i}\tsrc", f"T-{i}\tref", f"H-{i}\t-0.5\t{hypotheses[i]}", f"D-{i}\t-0.5\t{hypotheses[i]}",
                  f"P-{i}\t-0.1 -0.2"]
    return "\n".join(lines + ["Generate test with beam=5: BLEU = 1.0"]) + "\n"


def write_generate_output(path, hypotheses, order=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generate_output_text(hypotheses, order), encoding="utf-8")
    return path


def test_read_generate_output_restores_corpus_order(tmp_path):
    hyps = ["Un chien .", "Deux hommes .", "Une voiture rouge ."]
    assert sd.read_generate_output(write_generate_output(tmp_path / "g.txt", hyps, order=[2, 0, 1])) == hyps
    (tmp_path / "bad.txt").write_text("D-0\t-1\ta\nD-2\t-1\tb\n")
    with pytest.raises(DataError, match="bad.txt: hypothesis ids are not"):
        sd.read_generate_output(tmp_path / "bad.txt")
    (tmp_path / "none.txt").write_text("H-0\t-1\ta\n")
    with pytest.raises(DataError, match="none.txt: no 'D-' lines .*post-process sentencepiece"):
        sd.read_generate_output(tmp_path / "none.txt")
    with pytest.raises(DataError, match="missing.txt: no fairseq-generate output"):
        sd.read_generate_output(tmp_path / "missing.txt")


def test_score_direction_is_sacrebleu_and_off_target():
    identifier = CharNgramLanguageIdentifier.fit(toy_captions(200, seed=0))
    refs = toy_captions(10, seed=3)["fr"]
    hyps = refs[:5] + toy_captions(10, seed=3)["de"][5:]  # half the outputs in the wrong language
    scores = sd.score_direction(hyps, refs, "fr", identifier)
    assert scores["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=0.01)
    assert scores["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=0.01)
    assert scores["off_target"] == 0.5
    assert scores["output_languages"] == {"de": 0.5, "en": 0.0, "fr": 0.5}
    with pytest.raises(ValueError, match="hypotheses for"):
        sd.score_direction(hyps[:3], refs, "fr")


def test_score_models_fails_on_any_missing_input(tmp_path):
    """No silently smaller table: a missing generation or reference file, or a short one, is an error."""
    refs = toy_captions(4, seed=0)["fr"]
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "test.fr").write_text("\n".join(refs) + "\n")
    write_generate_output(tmp_path / "gen" / "direct" / "test" / "en-fr.txt", refs)
    scores = sd.score_models(tmp_path / "gen", tmp_path / "raw", {"direct": ["en-fr"]}, splits=["test"])
    assert scores["direct"]["en-fr"]["bleu"] == 100.0
    with pytest.raises(DataError, match="direct/test/de-fr.txt: no fairseq-generate output"):
        sd.score_models(tmp_path / "gen", tmp_path / "raw", {"direct": ["en-fr", "de-fr"]}, splits=["test"])
    with pytest.raises(DataError, match="raw/valid.fr: reference sentences not found"):
        write_generate_output(tmp_path / "gen" / "direct" / "valid" / "en-fr.txt", refs)
        sd.score_models(tmp_path / "gen", tmp_path / "raw", {"direct": ["en-fr"]})
    write_generate_output(tmp_path / "gen" / "direct" / "test" / "en-fr.txt", refs[:3])
    with pytest.raises(DataError, match="en-fr.txt: 3 hypotheses for the 4 sentences of .*test.fr"):
        sd.score_models(tmp_path / "gen", tmp_path / "raw", {"direct": ["en-fr"]}, splits=["test"])


def test_plot_scores_marks_missing_cells():
    scores = {"zeroshot": {"en-de": {"bleu": 30.0, "off_target": 0.01}},
              "direct": {"en-de": {"bleu": 31.5, "off_target": 0.0}, "de-fr": {"bleu": 20.0, "off_target": 0.1}}}
    fig = sd.plot_scores(scores)
    heat_maps = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heat_maps] == ["BLEU (test 2016 flickr)", "off-target rate (share of outputs)"]
    texts = [t.get_text() for t in heat_maps[0].texts]
    assert len(texts) == 2 * len(DIRECTIONS) and "31.5" in texts and "n/a" in texts
    assert [t.get_text() for t in heat_maps[0].get_xticklabels()] == ["zeroshot", "direct"]


TRAIN_LOG = """\
2026-11-28 10:00:00 | INFO | fairseq.checkpoint_utils | Loaded checkpoint ckpt/checkpoint_last.pt (epoch 1 @ 2 updates)
2026-11-28 10:00:00 | INFO | train_inner | {"epoch": 1, "update": 0.267, "loss": "9.1", "wps": "1500.5", \
"num_updates": "4", "lr": "0.002", "train_wall": "3", "wall": "95"}
2026-11-28 10:00:01 | INFO | valid | {"epoch": 1, "valid_loss": "5.653", "valid_nll_loss": "4.9", "valid_ppl": "29.8", \
"valid_wps": "1500", "valid_num_updates": "4"}
2026-11-28 10:00:01 | INFO | train | {"epoch": 1, "train_loss": "8.9", "train_wps": "1234.5", "train_ups": "0.5", \
"train_num_updates": "4", "train_train_wall": "9", "train_wall": "120"}
2026-11-28 11:00:00 | INFO | fairseq.checkpoint_utils | Loaded checkpoint ckpt/checkpoint_last.pt (epoch 2 @ 4 updates)
2026-11-28 10:00:02 | INFO | valid | {"epoch": 2, "valid_loss": "4.2", "valid_nll_loss": "3.1", "valid_ppl": "8.6", \
"valid_num_updates": "7", "valid_best_loss": "4.2"}
2026-11-28 10:00:02 | INFO | train_inner | {"epoch": 2, "update": 1.2, "loss": "8.1", "wps": "1700.0", \
"num_updates": "7", "lr": "0.002", "train_wall": "2", "wall": "150"}
2026-11-28 10:00:02 | INFO | valid | valid on 'valid' subset, a plain line (ignored)
"""


def test_training_metrics_read_the_json_log(tmp_path):
    """fairseq restarts its wall clock at each load: the run's seconds are each segment's last clock summed
    (0 before the first load's segment here: 120 in the second, 150 in the third)."""
    log = tmp_path / "train.log"
    log.write_text(TRAIN_LOG)
    assert training_metrics(log) == {
        "updates": 7, "train_wps": 1234.5, "resumed_from_updates": 4, "resumes": 2, "training_wall_s": 270.0,
        "validation": [{"epoch": 1, "updates": 4, "valid_loss": 5.653}, {"epoch": 2, "updates": 7, "valid_loss": 4.2}]}
    assert interval_wps(log) == [1500.5, 1700.0]
    log.write_text("2026-11-28 10:00:00 | INFO | fairseq_cli.train | no updates\n")
    with pytest.raises(DataError, match="train.log: no number of updates"):
        training_metrics(log)
    log.write_text('2026-11-28 10:00:00 | INFO | valid | {"epoch": 1, "valid_loss": \n')
    with pytest.raises(DataError, match="train.log:1: broken valid statistics"):
        training_metrics(log)


def test_model_configurations():
    assert MODEL_PAIRS["zeroshot"] == ("en-de", "de-en", "en-fr", "fr-en") and MODEL_PAIRS["direct"] == DIRECTIONS
    assert evaluation_directions("zeroshot") == DIRECTIONS and evaluation_directions("bilingual_en_fr") == (
        "en-fr", "fr-en")
    assert evaluation_directions("my_model") == DIRECTIONS
    assert [model_label(m) for m in ("direct", "bilingual_en_fr", pivot_name("zeroshot"))] == [
        "direct", "bilingual\nen-fr", "zeroshot\nvia en"]


# ---------------------------------------------------------------------------------------- evaluate, in-process
def training_record(model: str, seed: int = 1) -> dict:
    """A training record as ``train`` writes it (results record of mvadl.results)."""
    return {"part": "nmt", "name": f"training_{model}", "seed": seed, "device": "cpu (2 cores, x86_64)",
            "wall_time_s": 3600.0, "git_revision": "abc123",
            "config": {"arch": "mva_transformer_multi30k_cpu", "lr": 0.002, "max_update": 6000, "quick": False},
            "metrics": {"model": model, "lang_pairs": list(MODEL_PAIRS[model]), "updates": 1800, "train_wps": 1750.5,
                        "resumed_from_updates": 0, "validation": [{"epoch": 1, "updates": 500, "valid_loss": 6.1}],
                        "averaged_updates": [1400, 1600, 1800]}}


@pytest.fixture
def evaluation_inputs(tmp_path, monkeypatch):
    """A data-bin (references, langid.json, languages.txt), checkpoints and training records of zeroshot, direct
    and bilingual_en_de (the checkpoints are empty files: generation is faked, and so are their languages)."""
    monkeypatch.setattr(generation, "model_languages", lambda checkpoint: ("en", "de", "fr"))
    captions = {split: toy_captions(8, seed=s) for s, split in enumerate(("test", "valid"))}
    data_bin = tmp_path / "bin"
    (data_bin / "raw").mkdir(parents=True)
    for split, by_lang in captions.items():
        for lang, lines in by_lang.items():
            (data_bin / "raw" / f"{split}.{lang}").write_text("\n".join(lines) + "\n")
    (data_bin / "spm.model").write_bytes(b"")
    (data_bin / "languages.txt").write_text("en\nde\nfr\n")
    CharNgramLanguageIdentifier.fit(toy_captions(200, seed=9)).save(data_bin / "langid.json")
    for model in ("zeroshot", "direct", "bilingual_en_de"):
        (tmp_path / "ckpt" / model).mkdir(parents=True)
        (tmp_path / "ckpt" / model / "checkpoint_averaged.pt").write_bytes(b"")
        (tmp_path / "runs" / model).mkdir(parents=True)
        (tmp_path / "runs" / model / "training.json").write_text(json.dumps(training_record(model)))
    return {"root": tmp_path, "captions": captions,
            "argv": ["--data-bin", str(data_bin), "--checkpoints", str(tmp_path / "ckpt"), "--runs-dir",
                     str(tmp_path / "runs"), "--device", "cpu"]}


def fake_fairseq_generate(captions, calls):
    """Stands in for ``run_to_file(fairseq-generate/-interactive ...)``: the references of the target language,
    except that zeroshot answers de<->fr in English."""
    def run_to_file(command, output, log):
        calls.append(command)
        arg = {command[i]: command[i + 1] for i in range(len(command) - 1) if command[i].startswith("--")}
        model, split = output.parent.parent.name, output.parent.name
        wrong = "en" if model == "zeroshot" and {arg["--source-lang"], arg["--target-lang"]} == {"de", "fr"} else None
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(generate_output_text(captions[split][wrong or arg["--target-lang"]]))
        log.write_text("")
    return run_to_file


def test_evaluate_generates_every_model_and_direction_and_records_scores(evaluation_inputs, tmp_path, monkeypatch):
    from nlp_experiments.translation.evaluate import EvaluateConfig, run

    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    calls = []
    monkeypatch.setattr(generation, "run_to_file", fake_fairseq_generate(evaluation_inputs["captions"], calls))
    assert main(run, EvaluateConfig, [*evaluation_inputs["argv"], "--quick"]) == 0
    generate, interactive = calls[:2 * (6 + 6 + 2)], calls[2 * (6 + 6 + 2):]
    # splits x (zeroshot, direct: 6 directions; bilingual_en_de: 2), then de->en->fr and fr->en->de with zeroshot
    assert all("--cpu" in c and c[c.index("--beam") + 1] == "1" and "fairseq_cli.generate" in c for c in generate)
    assert all(c[c.index("--path") + 1].endswith("zeroshot/checkpoint_averaged.pt") for c in interactive)
    assert [(c[c.index("--source-lang") + 1], c[c.index("--target-lang") + 1]) for c in interactive] == [
        ("en", "fr"), ("en", "de")] * 2 and all("fairseq_cli.interactive" in c for c in interactive)
    result = json.loads((tmp_path / "results" / "nmt" / "evaluation.json").read_text())
    assert result["config"]["models"] == ["zeroshot", "direct", "bilingual_en_de"] and result["config"]["beam"] == 1
    assert result["config"]["pivot"] == ["zeroshot"] and set(result["zeroshot_pivot_en"]) == {"de-fr", "fr-de"}
    assert result["zeroshot_pivot_en"]["de-fr"]["bleu"] == pytest.approx(100.0)  # the fake's pivot is the reference
    generations = tmp_path / "runs" / "generate" / "checkpoint_averaged"
    assert (generations / "zeroshot_pivot_en" / "test" / "de-fr.txt.pivot.txt").read_text().splitlines() == (
        evaluation_inputs["captions"]["test"]["en"])  # the first pass, zeroshot's de->en output, is the input
    assert result["direct"]["de-fr"]["bleu"] == pytest.approx(100.0)
    assert result["direct"]["de-fr"]["off_target"] == 0.0 and result["zeroshot"]["de-fr"]["off_target"] == 1.0
    assert set(result["direct"]["en-de"]["val"]) == {"bleu", "chrf", "off_target", "output_languages"}
    assert result["zeroshot"]["de-fr"]["output_languages"]["en"] == 1.0
    assert set(result["bilingual_en_de"]) == {"en-de", "de-en"}
    assert result["signatures"]["bleu"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    training = result["training"]["direct"]
    assert (training["updates"], training["train_wps"], training["lang_pairs"], training["arch"]) == (
        1800, 1750.5, ",".join(DIRECTIONS), "mva_transformer_multi30k_cpu")
    assert training["validation"] == [{"epoch": 1, "updates": 500, "valid_loss": 6.1}]
    assert result["seed"] == 1 and result["device"] == "cpu (2 cores, x86_64)"
    assert (tmp_path / "results" / "nmt" / "evaluation.png").stat().st_size > 1000
    assert (tmp_path / "results" / "nmt" / "evaluation_validation.png").stat().st_size > 1000

    calls.clear()  # --no-generate re-scores what is there
    assert main(run, EvaluateConfig, [*evaluation_inputs["argv"], "--no-generate", "--models", "direct",
                                      "--splits", "test", "--name", "rescored"]) == 0
    assert not calls and "val" not in json.loads((tmp_path / "results" / "nmt" / "rescored.json").read_text())[
        "direct"]["en-de"]


def test_evaluate_fails_with_one_line_and_writes_nothing(evaluation_inputs, tmp_path, monkeypatch, capsys):
    from nlp_experiments.translation.evaluate import EvaluateConfig, run

    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    root, argv = evaluation_inputs["root"], evaluation_inputs["argv"]
    assert main(run, EvaluateConfig, [*argv, "--no-generate", "--models", "direct"]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "direct/test/en-de.txt: no fairseq-generate output (run the evaluation's generation step)")
    (root / "runs" / "zeroshot" / "training.json").unlink()
    assert main(run, EvaluateConfig, argv) == 1
    assert "zeroshot/training.json: no training record" in capsys.readouterr().err
    assert main(run, EvaluateConfig, [*argv, "--models", "direct", "bilingual_en_fr"]) == 1
    assert "bilingual_en_fr/checkpoint_averaged.pt: no checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
    (root / "ckpt" / "bilingual_en_de_seed2").mkdir()  # another seed's run is never picked up
    assert models_to_evaluate([], root / "ckpt") == ["zeroshot", "direct", "bilingual_en_de"]
    with pytest.raises(SystemExit):
        main(run, EvaluateConfig, [*argv, "--splits", "train"])
