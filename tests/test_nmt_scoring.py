"""Scoring of fairseq-generate outputs over directions and models, results file and heat map."""
from __future__ import annotations

import json

import pytest
import sacrebleu

from fairseq_ext.evaluation import score_directions as sd
from fairseq_ext.langid import CharNgramLanguageIdentifier
from tests.nmt_toy_corpus import toy_captions


def write_generate_output(path, hypotheses, order=None):
    """Lines as fairseq-generate prints them (S/T/H/D/P), in a shuffled id order like batching gives."""
    order = order or list(range(len(hypotheses)))[::-1]
    lines = []
    for i in order:
        lines += [f"S-{i}\tsrc", f"T-{i}\tref", f"H-{i}\t-0.5\t{hypotheses[i]}", f"D-{i}\t-0.5\t{hypotheses[i]}",
                  f"P-{i}\t-0.1 -0.2"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines + ["Generate test with beam=5: BLEU = 1.0"]) + "\n", encoding="utf-8")
    return path


def test_read_generate_output_restores_corpus_order(tmp_path):
    hyps = ["Un chien .", "Deux hommes .", "Une voiture rouge ."]
    assert sd.read_generate_output(write_generate_output(tmp_path / "g.txt", hyps, order=[2, 0, 1])) == hyps
    (tmp_path / "bad.txt").write_text("D-0\t-1\ta\nD-2\t-1\tb\n")
    with pytest.raises(ValueError, match="ids are not"):
        sd.read_generate_output(tmp_path / "bad.txt")
    (tmp_path / "none.txt").write_text("H-0\t-1\ta\n")
    with pytest.raises(ValueError, match="post-process sentencepiece"):
        sd.read_generate_output(tmp_path / "none.txt")


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


def test_main_writes_scores_json_and_figure(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    captions = {split: toy_captions(8, seed=s) for s, split in enumerate(("test", "valid"))}
    for split, by_lang in captions.items():
        for lang, lines in by_lang.items():
            (tmp_path / "raw").mkdir(exist_ok=True)
            (tmp_path / "raw" / f"{split}.{lang}").write_text("\n".join(lines) + "\n")
    for model in ("zeroshot", "direct"):
        for split, by_lang in captions.items():
            for direction in sd.DIRECTIONS:
                tgt = direction.split("-")[1]
                wrong = "en" if model == "zeroshot" and direction in ("de-fr", "fr-de") else tgt
                write_generate_output(tmp_path / "gen" / model / split / f"{direction}.txt", by_lang[wrong])
    (tmp_path / "runs" / "direct").mkdir(parents=True)
    (tmp_path / "runs" / "direct" / "meta.json").write_text(json.dumps(
        {"updates": 7, "wall_time_s": 3, "device": "cpu", "seed": 1}))
    (tmp_path / "runs" / "direct" / "train.log").write_text(
        "2026-11-28 10:00:00 | INFO | train | epoch 001 | loss 9.1 | num_updates 4\n"
        "2026-11-28 10:00:01 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 5.653 | nll_loss 4.9 "
        "| ppl 29.8 | wps 1500 | num_updates 4\n"
        "2026-11-28 10:00:02 | INFO | valid | epoch 002 | valid on 'valid' subset | loss 4.2 | nll_loss 3.1 "
        "| ppl 8.6 | num_updates 7 | best_loss 4.2\n")
    CharNgramLanguageIdentifier.fit(toy_captions(200, seed=9)).save(tmp_path / "langid.json")
    args = sd.parse_args(["--generations", str(tmp_path / "gen"), "--references", str(tmp_path / "raw"),
                          "--langid", str(tmp_path / "langid.json"), "--runs", str(tmp_path / "runs")])
    assert sd.main(args) == 0
    result = json.loads((tmp_path / "results" / "nmt" / "scores.json").read_text())
    assert result["direct"]["de-fr"]["bleu"] == pytest.approx(100.0)
    assert result["direct"]["de-fr"]["off_target"] == 0.0 and result["zeroshot"]["de-fr"]["off_target"] == 1.0
    assert set(result["direct"]["en-de"]["val"]) == {"bleu", "chrf", "off_target", "output_languages"}
    assert result["zeroshot"]["de-fr"]["output_languages"]["en"] == 1.0
    assert result["signatures"]["bleu"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert result["training"]["direct"]["updates"] == 7 and result["training"]["zeroshot"] == {}
    assert result["training"]["direct"]["validation"] == [
        {"epoch": 1, "updates": 4, "valid_loss": 5.653}, {"epoch": 2, "updates": 7, "valid_loss": 4.2}]
    assert (tmp_path / "results" / "nmt" / "scores.png").stat().st_size > 1000


def test_plot_scores_marks_missing_cells():
    scores = {"zeroshot": {"en-de": {"bleu": 30.0, "off_target": 0.01}},
              "direct": {"en-de": {"bleu": 31.5, "off_target": 0.0}, "de-fr": {"bleu": 20.0, "off_target": 0.1}}}
    fig = sd.plot_scores(scores)
    heat_maps = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in heat_maps] == ["BLEU (test 2016 flickr)", "off-target rate (share of outputs)"]
    texts = [t.get_text() for t in heat_maps[0].texts]
    assert len(texts) == 2 * len(sd.DIRECTIONS) and "31.5" in texts and "n/a" in texts
    assert [t.get_text() for t in heat_maps[0].get_xticklabels()] == ["zeroshot", "direct"]


def test_help_runs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        sd.parse_args(["--help"])
    assert exit_info.value.code == 0 and "--generations" in capsys.readouterr().out
