"""Learning curves, the significance tests between translation models, and the shipped model.

Fast tests use the toy data-bin (tests/nmt_toy_corpus.py) and system outputs written here; the slow ones run
the real commands (fairseq-generate per direction) on the session's toy model.
"""
from __future__ import annotations

import argparse
import gzip
import json
import re
import sys

import pytest
import torch

from mvadl import REPO_ROOT
from mvadl.data import DataError
from mvadl.runner import main
from nlp_experiments.translation.averaging import average_last, load_checkpoint
from nlp_experiments.translation.comparisons import ComparisonsConfig, find_outputs, planned_comparisons
from nlp_experiments.translation.comparisons import run as compare
from nlp_experiments.translation.curves import CurvesConfig, hypotheses_path, read_hypotheses, write_hypotheses
from nlp_experiments.translation.scoring import read_references
from nlp_experiments.translation.ship import ShipConfig, inference_checkpoint
from nlp_experiments.translation.translate import DEFAULT_SHIPPED, TranslateConfig
from tests.conftest import usage_error
from tests.nmt_toy_corpus import run_command

pytest_plugins = ["tests.nmt_toy_corpus"]


def save_checkpoint(path, weight: float, updates: int):
    w = torch.full((2, 2), weight)
    torch.save({"model": {"w": w, "tied": w, "steps": torch.tensor(updates)},
                "cfg": {"model": {"arch": "toy"}}, "args": argparse.Namespace(arch="toy"),
                "optimizer_history": [{"num_updates": updates}], "last_optimizer_state": {"m": torch.ones(3)}}, path)


def test_average_up_to_a_point(tmp_path):
    for epoch, updates, weight in ((1, 200, 9.0), (1, 400, 1.0), (2, 600, 2.0), (3, 800, 6.0)):
        save_checkpoint(tmp_path / f"checkpoint_{epoch}_{updates}.pt", weight, updates)
    out = tmp_path / "avg600.pt"
    assert average_last(tmp_path, 2, until=600, output=out) == [400, 600]
    averaged = load_checkpoint(out)["model"]
    assert torch.equal(averaged["w"], torch.full((2, 2), 1.5))
    assert averaged["tied"].untyped_storage().data_ptr() == averaged["w"].untyped_storage().data_ptr()
    with pytest.raises(DataError, match="no interval checkpoint at update 500"):
        average_last(tmp_path, 2, until=500, output=out)
    with pytest.raises(DataError, match=r"2 interval checkpoints \(.*\) up to update 400, 3 needed"):
        average_last(tmp_path, 3, until=400, output=out)
    with pytest.raises(DataError, match="cannot average the last 0"):  # found[-0:] would be every checkpoint
        average_last(tmp_path, 0)


@pytest.mark.parametrize("argv, message", [
    (["--models", "zeroshot", "nope"], "invalid choice 'nope' for argument '--models'"),
    (["--models", "zeroshot,direct"], "invalid choice 'zeroshot,direct'"),  # a list of words, not one with commas
    (["--pivot", "typo"], "invalid choice 'typo' for argument '--pivot'"),
    (["--average-last", "0"], "--average-last must be at least 1"),
    (["--points", "3200", "1600"], "--points: increasing"),
    (["--splits", "train"], "--splits takes test and/or valid"),
])
def test_curves_refuses_bad_options_before_any_work(argv, message, capsys):
    assert message in usage_error(capsys, lambda: main(lambda config, ctx: pytest.fail("ran"), CurvesConfig, argv))


def test_curves_reuse_nothing_made_with_other_settings(tmp_path, monkeypatch):
    """A resumed point reuses the averaged checkpoint and the generations only when their stamps name the same
    settings: another --average-last re-averages and re-translates, another --beam re-translates."""
    import dataclasses
    import os

    import nlp_experiments.translation.curves as curves

    save_dir = tmp_path / "ckpt" / "direct"
    save_dir.mkdir(parents=True)
    for updates in (2, 4):
        (save_dir / f"checkpoint_1_{updates}.pt").write_bytes(b"x")
        os.utime(save_dir / f"checkpoint_1_{updates}.pt", (1e9, 1e9))  # older than anything written below
    calls = []

    def average(paths, output):
        calls.append(("average", tuple(p.name for p in paths)))
        output.write_bytes(b"averaged")

    def generate(command, output):
        calls.append(("generate", output.parent.parent.name, command[command.index("--beam") + 1]))
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("D-0\t-0.1\tsome text\n")

    def pivot_generate(first_pass, checkpoint, data_bin, pivot_lang, target_lang, beam, device, output):
        calls.append(("pivot", output.parent.parent.name, str(beam)))
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("D-0\t-0.1\tsome text\n")

    monkeypatch.setattr(curves, "average_checkpoints", average)
    monkeypatch.setattr(curves, "generate", generate)
    monkeypatch.setattr(curves, "generate_command", lambda data_bin, checkpoint, direction, split, beam, batch_size,
                        device: ["--beam", str(beam), "--batch-size", str(batch_size)])
    monkeypatch.setattr(curves, "pivot_generate", pivot_generate)
    config = CurvesConfig(models=["direct"], points=[4], average_last=2, beam=5, splits=["test"], pivot=["direct"],
                          checkpoints=str(tmp_path / "ckpt"), runs_dir=str(tmp_path / "runs"))

    def point(config) -> list:
        calls.clear()
        assert curves.translate_point(config, "direct", 4, True, "cpu")[1] == list(range(4 - 2 * config.average_last
                                                                                         + 2, 5, 2))
        return list(calls)

    first = point(config)
    assert first[0] == ("average", ("checkpoint_1_2.pt", "checkpoint_1_4.pt"))
    assert sum(c[0] == "generate" for c in first) == 6 and sum(c[0] == "pivot" for c in first) == 2
    assert point(config) == []  # same settings: everything reused
    fewer = point(dataclasses.replace(config, average_last=1))
    assert fewer[0] == ("average", ("checkpoint_1_4.pt",)) and len(fewer) == len(first)  # nothing reused
    greedy = point(dataclasses.replace(config, average_last=1, beam=1))
    assert len(greedy) == 8 and {c[2] for c in greedy} == {"1"}  # same average, new beam: every output redone
    assert point(dataclasses.replace(config, average_last=1, beam=1, batch_size=64))[0][0] == "generate"
    assert point(dataclasses.replace(config, average_last=1, beam=1, batch_size=64)) == []


def test_hypotheses_round_trip_byte_identically(tmp_path):
    path = hypotheses_path(tmp_path, "direct", 1600, "test", "de-fr")
    write_hypotheses(path, ["Un chien court .", "Été à Paris ."])
    first = path.read_bytes()
    write_hypotheses(path, ["Un chien court .", "Été à Paris ."])
    assert path.read_bytes() == first and read_hypotheses(path) == ["Un chien court .", "Été à Paris ."]
    with pytest.raises(DataError, match="no system outputs"):
        read_hypotheses(tmp_path / "missing.txt.gz")


def test_planned_comparisons_pair_the_right_systems():
    outputs = {"zeroshot": {1600: {"test": {"en-de", "de-en", "de-fr"}}, 3200: {"test": {"en-de"}}},
               "direct": {1600: {"test": {"en-de", "de-en", "de-fr"}}},
               "zeroshot_pivot_en": {1600: {"test": {"de-fr", "fr-de"}}},
               "bilingual_en_de": {1600: {"test": {"en-de", "de-en"}}}}
    planned = {(p["kind"], p["direction"], p["a"]["system"], p["a"]["updates"], p["b"]["system"], p["b"]["updates"])
               for p in planned_comparisons(outputs)}
    assert planned == {
        ("multilingual_vs_bilingual", "en-de", "zeroshot", 1600, "bilingual_en_de", 1600),
        ("multilingual_vs_bilingual", "de-en", "zeroshot", 1600, "bilingual_en_de", 1600),
        ("multilingual_vs_bilingual", "en-de", "direct", 1600, "bilingual_en_de", 1600),
        ("multilingual_vs_bilingual", "de-en", "direct", 1600, "bilingual_en_de", 1600),
        ("equal_compute", "en-de", "zeroshot", 3200, "bilingual_en_de", 1600),  # de-en: zeroshot@3200 lacks it
        ("direct_vs_pivot", "de-fr", "direct", 1600, "zeroshot_pivot_en", 1600),  # fr-de: direct lacks it
        ("direct_vs_zeroshot", "en-de", "direct", 1600, "zeroshot", 1600),
        ("direct_vs_zeroshot", "de-en", "direct", 1600, "zeroshot", 1600),
    }


def test_a_second_seed_is_compared_with_its_own_runs_and_with_the_reference_seed():
    zeroshot = {3200: {"test": {"en-de", "de-fr"}}}
    outputs = {"zeroshot": zeroshot, "bilingual_en_de": {3200: {"test": {"en-de"}}},
               "zeroshot_pivot_en": {3200: {"test": {"de-fr"}}}, "zeroshot_seed2_pivot_en": {3200: {"test": {"de-fr"}}},
               "zeroshot_seed2": zeroshot, "bilingual_en_de_seed2": {3200: {"test": {"en-de"}}}}
    planned = {(p["kind"], p["seed"], p["direction"], p["a"]["system"], p["b"]["system"])
               for p in planned_comparisons(outputs)}
    assert planned == {
        ("multilingual_vs_bilingual", 1, "en-de", "zeroshot", "bilingual_en_de"),
        ("multilingual_vs_bilingual", 2, "en-de", "zeroshot_seed2", "bilingual_en_de_seed2"),  # never across seeds
        ("seeds", 2, "en-de", "zeroshot_seed2", "zeroshot"),
        ("seeds", 2, "de-fr", "zeroshot_seed2", "zeroshot"),  # the zero-shot directions too
        ("seeds", 2, "de-fr", "zeroshot_seed2_pivot_en", "zeroshot_pivot_en"),  # and the pivot
        ("seeds", 2, "en-de", "bilingual_en_de_seed2", "bilingual_en_de"),
    }


def test_split_run_name_inverts_run_name_exactly():
    """Property: every (model, seed) round-trips, with and without the pivot suffix, and every name that
    split_run_name accepts is one run_name writes (an exhaustive loop over small seeds and suffix spellings)."""
    from nlp_experiments.translation.languages import MODEL_PAIRS, pivot_name, run_name, split_run_name

    for model in MODEL_PAIRS:
        for seed in range(0, 1200):
            for name in (run_name(model, seed), pivot_name(run_name(model, seed))):
                assert split_run_name(name) == (model, seed)
        for suffix in ("", "0", "00", "01", "1", "-1", "+2", " 2", "2 ", "1e3", "٣"):
            name = f"{model}_seed{suffix}"
            try:
                parsed = split_run_name(name)
            except ValueError:
                continue
            assert run_name(*parsed) == name, name


def test_holm_adjusts_within_one_kind_point_and_seed_per_metric():
    from nlp_experiments.translation.comparisons import holm_families

    def test(p):
        return {"a": 2.0, "b": 1.0, "difference": 1.0, "low": 0.5, "high": 1.5, "p_value": p, "test": "t", "n": 9}

    def item(kind, updates, seed, p_bleu, p_chrf):
        return {"kind": kind, "seed": seed, "direction": "en-de", "a": {"system": "x", "updates": updates},
                "b": {"system": "y", "updates": updates}, "bleu": test(p_bleu), "chrf": test(p_chrf)}

    compared = [item("direct_vs_zeroshot", 1600, 1, 0.01, 0.04), item("direct_vs_zeroshot", 1600, 1, 0.02, 0.001),
                item("direct_vs_zeroshot", 3200, 1, 0.03, 0.03), item("seeds", 1600, 2, 0.01, 0.01)]
    adjusted = holm_families(compared)
    assert [c["bleu"]["p_holm"] for c in adjusted] == pytest.approx([0.02, 0.02, 0.03, 0.01])
    assert [c["chrf"]["p_holm"] for c in adjusted] == pytest.approx([0.04, 0.002, 0.03, 0.01])
    assert [c["bleu"]["p_value"] for c in adjusted] == [0.01, 0.02, 0.03, 0.01]  # the raw p kept beside it
    assert compared[0]["bleu"].get("p_holm") is None  # the input is left as it was


def test_run_names_keep_a_second_seed_apart():
    from nlp_experiments.translation.languages import evaluation_directions, model_label, run_name, split_run_name

    assert run_name("zeroshot", 1) == "zeroshot" and run_name("zeroshot", 2) == "zeroshot_seed2"
    assert split_run_name("zeroshot_seed2_pivot_en") == ("zeroshot", 2)
    assert split_run_name("bilingual_en_de") == ("bilingual_en_de", 1)
    for name in ("zeroshot_seed1", "zeroshot_seed01", "zeroshot_seed-2", "zeroshot_seed", "zeroshot_seed2x",
                 "direct_seed1_pivot_en", "zeroshot_seed²", "_seed3"):
        with pytest.raises(ValueError, match="not a run name"):
            split_run_name(name)
    with pytest.raises(ValueError, match="non-negative"):
        run_name("zeroshot", -2)
    assert evaluation_directions("bilingual_en_de_seed3") == ("en-de", "de-en")
    assert model_label("zeroshot_seed2_pivot_en") == "zeroshot\nvia en\nseed 2"


def test_comparisons_from_kept_outputs(toy_data_bin, tmp_path, monkeypatch):
    """A system that copies the references against one that drops words: the test says which is better, the
    verdict flips when the data do, and two identical systems are level."""
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    refs = {d: read_references(toy_data_bin / "raw", "test", d.split("-")[1]) for d in ("de-fr", "en-de")}
    worse = {d: [" ".join(r.split()[::2]) for r in lines] for d, lines in refs.items()}
    hyps = tmp_path / "hyps"
    for system, texts in (("direct", refs), ("zeroshot_pivot_en", worse), ("zeroshot", refs)):
        for direction in ("de-fr",) if system == "zeroshot_pivot_en" else ("de-fr", "en-de"):
            write_hypotheses(hypotheses_path(hyps, system, 40, "test", direction), texts[direction])
    assert set(find_outputs(hyps)) == {"direct", "zeroshot_pivot_en", "zeroshot"}
    argv = ["--hyps", str(hyps), "--data-bin", str(toy_data_bin), "--n-samples", "200"]
    assert main(compare, ComparisonsConfig, argv) == 0
    record = json.loads((tmp_path / "results" / "nmt" / "comparisons.json").read_text())
    by_kind = {(c["kind"], c["direction"]): c for c in record["comparisons"]}
    assert by_kind[("direct_vs_pivot", "de-fr")]["bleu"]["verdict"] == "higher"
    assert by_kind[("direct_vs_pivot", "de-fr")]["bleu"]["a"] == pytest.approx(100.0)
    assert by_kind[("direct_vs_zeroshot", "en-de")]["bleu"]["verdict"] == "level"
    assert by_kind[("direct_vs_zeroshot", "en-de")]["bleu"]["difference"] == 0.0
    # each comparison is alone in its family here (one kind, one point, one seed): Holm leaves p as it is
    assert all(c[m]["p_holm"] == c[m]["p_value"] for c in record["comparisons"] for m in ("bleu", "chrf"))
    assert record["seed"] == 12345 and record["bootstrap_seed"] == 12345
    curves = json.loads((tmp_path / "results" / "nmt" / "curves.json").read_text())
    assert curves["seed"] is None  # scoring draws nothing at random
    assert curves["scores"]["direct"]["40"]["test"]["de-fr"]["bleu"] == pytest.approx(100.0)
    # what the report reads beside the scores and tests is recorded with them (tests/test_nmt_record_summaries.py)
    assert curves["system_names"]["zeroshot"] == "English-centric model"
    assert curves["zero_shot"]["zeroshot"]["best_bleu"]["de-fr"] == pytest.approx(100.0)
    assert curves["rising"]["to"] is None  # one point: nothing to rise from
    assert record["seed_spread"] == {"comparisons": 0, "significant": 0, "largest_difference": None}
    assert record["other_seeds"] == []

    # the same outputs with the sides swapped: the verdict follows the data
    write_hypotheses(hypotheses_path(hyps, "direct", 40, "test", "de-fr"), worse["de-fr"])
    write_hypotheses(hypotheses_path(hyps, "zeroshot_pivot_en", 40, "test", "de-fr"), refs["de-fr"])
    assert main(compare, ComparisonsConfig, argv) == 0
    record = json.loads((tmp_path / "results" / "nmt" / "comparisons.json").read_text())
    swapped = next(c for c in record["comparisons"] if c["kind"] == "direct_vs_pivot")
    assert swapped["bleu"]["verdict"] == "lower" and swapped["bleu"]["high"] < 0


def test_score_only_rescores_the_kept_outputs_without_checkpoints(toy_data_bin, tmp_path, monkeypatch):
    """--score-only rewrites a curves record from the kept outputs: new scores to 4 decimals, everything the
    translation run recorded kept, the training seed as the record's seed; no checkpoint or run folder needed."""
    from nlp_experiments.translation.curves import run as curves
    from nlp_experiments.translation.languages import DIRECTIONS

    results = tmp_path / "results"
    monkeypatch.setenv("RESULTS_DIR", str(results))
    refs = {d: read_references(toy_data_bin / "raw", "test", d.split("-")[1]) for d in DIRECTIONS}
    for direction, lines in refs.items():
        kept = lines if direction != "de-fr" else [" ".join(r.split()[::2]) for r in lines]
        write_hypotheses(hypotheses_path(results / "nmt" / "hyps", "direct_seed2", 4, "test", direction), kept)
    old_scores = {"direct_seed2": {d: {"bleu": 12.34} for d in DIRECTIONS}}
    old = {"seed": 0, "git_revision": "abc", "wall_time_s": 99.0, "created_utc": "2026-01-01", "device": "cpu",
           "config": {"beam": 5, "splits": ["test"], "points": [4]},
           "metrics": {"model": "direct", "run": "direct_seed2", "systems": ["direct_seed2"], "points": [4],
                       "curve": {"4": {"averaged_updates": [2, 4], "scores": old_scores}},
                       "model_settings": {"arch": "toy"}, "training": {"seed": 2}}}
    (results / "nmt" / "curve_direct_seed2.json").write_text(json.dumps(old))
    argv = ["--score-only", "--models", "direct", "--training-seed", "2", "--data-bin", str(toy_data_bin),
            "--checkpoints", str(tmp_path / "none"), "--runs-dir", str(tmp_path / "none")]
    assert main(curves, CurvesConfig, argv) == 1  # no training record to take the training block from
    training = {"seed": 2, "wall_time_s": 7000.0, "device": "cpu", "git_revision": "def",
                "config": {"arch": "toy", "lr": 2e-3, "max_update": 4, "quick": False},
                "metrics": {"model": "direct", "lang_pairs": list(DIRECTIONS), "updates": 4, "train_wps": 10.0,
                            "resumed_from_updates": 2, "resumes": 1, "validation": [], "averaged_updates": [2, 4]}}
    (results / "nmt" / "training_direct_seed2.json").write_text(json.dumps(training))
    argv = ["--score-only", "--models", "direct", "--training-seed", "2", "--data-bin", str(toy_data_bin),
            "--checkpoints", str(tmp_path / "none"), "--runs-dir", str(tmp_path / "none")]
    assert main(curves, CurvesConfig, argv) == 0
    record = json.loads((results / "nmt" / "curve_direct_seed2.json").read_text())
    scores = record["curve"]["4"]["scores"]["direct_seed2"]
    assert scores["en-de"]["bleu"] == pytest.approx(100.0) and scores["de-fr"]["bleu"] < 100.0
    assert scores["de-fr"]["bleu"] == round(scores["de-fr"]["bleu"], 4) != round(scores["de-fr"]["bleu"], 2)
    assert record["curve"]["4"]["averaged_updates"] == [2, 4] and record["model_settings"] == {"arch": "toy"}
    assert record["translated"] == {"git_revision": "abc", "wall_time_s": 99.0, "created_utc": "2026-01-01",
                                    "device": "cpu"}
    assert record["seed"] == 2 and record["config"]["beam"] == 5 and record["config"]["score_only"] is True
    assert record["training"]["resumes"] == 1 and record["training"]["wall_time_s"] == 7000.0
    # re-scored again, the record still names the run that translated, not the previous re-scoring
    assert main(curves, CurvesConfig, argv) == 0
    again = json.loads((results / "nmt" / "curve_direct_seed2.json").read_text())
    assert again["translated"] == record["translated"] and again["curve"] == record["curve"]


def test_examples_follow_the_stated_rule(toy_data_bin, tmp_path, monkeypatch):
    """The example sentences are the first whose zero-shot output is off target while the other two are French,
    each recorded with source, reference, outputs and the language found in each."""
    from nlp_experiments.translation.examples import ExamplesConfig
    from nlp_experiments.translation.examples import run as examples

    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    raw = toy_data_bin / "raw"
    english, french = read_references(raw, "test", "en"), read_references(raw, "test", "fr")
    zero_shot = [fr if i in (0, 2) else en for i, (en, fr) in enumerate(zip(english, french))]  # 0, 2 on target
    pivot = [en if i == 1 else fr for i, (en, fr) in enumerate(zip(english, french))]  # 1: the pivot fails too
    hyps = tmp_path / "hyps"
    for system, lines in (("zeroshot", zero_shot), ("zeroshot_pivot_en", pivot), ("direct", french)):
        write_hypotheses(hypotheses_path(hyps, system, 40, "test", "de-fr"), lines)
    argv = ["--hyps", str(hyps), "--data-bin", str(toy_data_bin), "--updates", "40", "--count", "2"]
    assert main(examples, ExamplesConfig, argv) == 0
    record = json.loads((tmp_path / "results" / "nmt" / "examples.json").read_text())
    assert [e["line"] for e in record["examples"]] == [4, 5] and record["seed"] is None
    first = record["examples"][0]
    assert first["source"] == read_references(raw, "test", "de")[3] and first["reference"] == french[3]
    assert first["outputs"]["zeroshot"] == {"text": english[3], "language": "en"}
    assert first["outputs"]["direct"]["language"] == "fr" and "not identified as French" in record["rule"]


def test_inference_checkpoint_drops_the_optimizer_state(tmp_path):
    source = tmp_path / "checkpoint_1_400.pt"
    save_checkpoint(source, 1.0 / 3.0, 400)
    inference_checkpoint(source, tmp_path / "half.pt", fp16=True)
    inference_checkpoint(source, tmp_path / "full.pt", fp16=False)
    half, full = (load_checkpoint(tmp_path / n) for n in ("half.pt", "full.pt"))
    assert "last_optimizer_state" not in half and half["cfg"] == {"model": {"arch": "toy"}}
    assert half["optimizer_history"] == [{"num_updates": 400}]  # what fairseq's loader reads
    assert half["model"]["w"].dtype == torch.float16 and full["model"]["w"].dtype == torch.float32
    assert half["model"]["steps"].dtype == torch.int64  # integer tensors stay as they are
    assert (half["model"]["w"].float() - full["model"]["w"]).abs().max() < 1e-3
    assert half["model"]["tied"].untyped_storage().data_ptr() == half["model"]["w"].untyped_storage().data_ptr()


@pytest.mark.parametrize("argv, message", [(["--version", "1"], "--version: v<N>"),
                                           (["--timing-sentences", "1"], "--timing-sentences >= 2"),
                                           (["--from-version", "2"], "--from-version: v<N>"),
                                           (["--version", "v2", "--from-version", "v2"], "an earlier version")])
def test_ship_refuses_bad_options(argv, message, capsys):
    assert message in usage_error(capsys, lambda: main(lambda config, ctx: pytest.fail("ran"), ShipConfig, argv))


def test_translate_uses_the_shipped_model_by_default():
    checkpoint, data = TranslateConfig(to="fr").checkpoint_and_data()
    assert checkpoint == REPO_ROOT / DEFAULT_SHIPPED / "model.pt" and data == REPO_ROOT / DEFAULT_SHIPPED
    checkpoint, data = TranslateConfig(to="fr", model="zeroshot").checkpoint_and_data()
    assert checkpoint.as_posix().endswith("checkpoints/nmt/zeroshot/checkpoint_best.pt")
    assert data.as_posix().endswith("data-bin/multi30k")
    with pytest.raises(ValueError, match="--from and --to are both 'fr'"):
        TranslateConfig(to="fr", from_lang="fr")


SHIPPED = REPO_ROOT / DEFAULT_SHIPPED


def shipped_folders() -> list:
    """``(model, folder, entry)`` of every model of the table of shipped translation models."""
    from nlp_experiments.translation.artifacts import SHIPPED_MODELS, shipped_dir

    return [pytest.param(model, shipped_dir(model, entry.version), entry, id=model)
            for model, entry in SHIPPED_MODELS.items()]


@pytest.mark.parametrize(("model", "folder", "entry"), shipped_folders())
def test_every_shipped_model_matches_its_checksums_its_pin_and_its_table_entry(model, folder, entry):
    """Every model of the table is in the checkout, its files match SHA256SUMS, its weights the pinned sha256,
    and its ship.json names the model and update count of its entry, in fp16 only within 0.1 BLEU of fp32."""
    from nlp_experiments.translation.artifacts import pinned_sha256, verify_shipped
    from vae_diffusion.core.artifacts import sha256_file

    sums = dict(reversed(line.split("  ")) for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert "model.pt" in sums and all(sha256_file(folder / name) == digest for name, digest in sums.items())
    assert pinned_sha256(folder) == entry.sha256 and verify_shipped(folder, entry.sha256) == folder
    record = json.loads((folder / "ship.json").read_text())
    assert (record["model"], record["updates"]) == (model, entry.updates)
    assert record["weights_dtype"] in ("float16", "float32") and record["total_bytes"] < 20e6
    if record["weights_dtype"] == "float16":
        assert record["largest_fp16_drop"] <= 0.1
    assert json.loads((REPO_ROOT / "results" / "nmt" / f"shipped_{model}.json").read_text()) == record


@pytest.mark.skipif(not (SHIPPED / "model.pt").is_file(), reason="no shipped translation model in this checkout")
def test_shipped_model_is_verified_before_use(tmp_path):
    """translate checks the shipped folder against its SHA256SUMS, and the default against the pinned sha256 of
    its weights: a changed byte, an unlisted file or another model is one line naming the file."""
    import shutil

    from nlp_experiments.translation.artifacts import SHIPPED_MODELS, read_languages, verify_shipped

    assert TranslateConfig(to="fr").verified() == (SHIPPED / "model.pt", SHIPPED)
    assert read_languages(SHIPPED) == ("en", "de", "fr")
    copy = tmp_path / "v2"
    shutil.copytree(SHIPPED, copy, symlinks=True)
    assert verify_shipped(copy, SHIPPED_MODELS["direct"].sha256) == copy
    with pytest.raises(DataError, match="is not the pinned 0000"):
        verify_shipped(copy, "0" * 64)
    (copy / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="notes.txt: not listed in"):
        verify_shipped(copy)
    (copy / "notes.txt").unlink()
    with open(copy / "langid.json", "ab") as f:
        f.write(b" ")
    with pytest.raises(DataError, match="langid.json: sha256 differs from SHA256SUMS"):
        verify_shipped(copy)
    with pytest.raises(DataError, match="langid.json: sha256 differs"):
        TranslateConfig(to="fr", shipped=str(copy)).verified()


def tiny_shipped_folder(folder, weights: bytes = b"weights"):
    """A folder shaped like a shipped translation model for the checks before use (model.pt, languages.txt,
    SHA256SUMS over them); returns it."""
    from vae_diffusion.core.artifacts import write_sha256sums

    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(weights)
    (folder / "languages.txt").write_text("en\nde\nfr\n")
    write_sha256sums(folder)
    return folder


def test_the_pin_of_a_shipped_folder_is_found_by_its_path(tmp_path, monkeypatch):
    from nlp_experiments.translation import artifacts
    from nlp_experiments.translation.artifacts import SHIPPED_MODELS, ShippedModel, pinned_sha256

    assert pinned_sha256(SHIPPED) == SHIPPED_MODELS["direct"].sha256 == pinned_sha256(SHIPPED / ".." / "v3")
    assert pinned_sha256(SHIPPED.parent) is None and pinned_sha256(tmp_path) is None
    assert pinned_sha256(SHIPPED.parent / "v1") is None  # another version of a shipped model: not pinned
    monkeypatch.setattr(artifacts, "ARTIFACTS_DIR", tmp_path)
    monkeypatch.setitem(SHIPPED_MODELS, "zeroshot", ShippedModel("v1", 6400, "1" * 64))
    assert pinned_sha256(tmp_path / "nmt_zeroshot" / "v1") == "1" * 64
    assert pinned_sha256(tmp_path / "nmt_zeroshot" / "v1" / ".." / "v1") == "1" * 64  # resolved paths
    assert pinned_sha256(tmp_path / "nmt_zeroshot" / "v2") is None
    assert pinned_sha256(tmp_path / "nmt_zeroshot" / "v1", models={}) is None


def test_translate_refuses_a_shipped_folder_whose_weights_are_not_its_pin(tmp_path, monkeypatch):
    """A folder of the table is checked against its model's pin, even with SHA256SUMS that agree with its files
    (its weights replaced and the sums written again); the same files elsewhere are checked against their
    SHA256SUMS only."""
    import shutil

    from nlp_experiments.translation import artifacts
    from nlp_experiments.translation.artifacts import SHIPPED_MODELS, ShippedModel
    from vae_diffusion.core.artifacts import sha256_file

    folder = tiny_shipped_folder(tmp_path / "artifacts" / "nmt_zeroshot" / "v1")
    monkeypatch.setattr(artifacts, "ARTIFACTS_DIR", tmp_path / "artifacts")
    monkeypatch.setitem(SHIPPED_MODELS, "zeroshot", ShippedModel("v1", 6400, sha256_file(folder / "model.pt")))
    assert TranslateConfig(to="fr", shipped=str(folder)).verified() == (folder / "model.pt", folder)
    replaced = tiny_shipped_folder(tmp_path / "replaced", weights=b"other weights")
    shutil.rmtree(folder)
    shutil.copytree(replaced, folder)
    with pytest.raises(DataError, match="model.pt: sha256 .* is not the pinned"):
        TranslateConfig(to="fr", shipped=str(folder)).verified()
    assert TranslateConfig(to="fr", shipped=str(replaced)).verified() == (replaced / "model.pt", replaced)


@pytest.mark.parametrize(("model", "folder", "entry"), shipped_folders())
def test_shipped_bleu_is_the_curves_bleu_at_its_update_count(model, folder, entry):
    """Each shipped model's fp32 BLEU (its own translation of the test set when it was shipped) is the learning
    curve's at the same update count, direction by direction, to the 2 decimals ship.json keeps: the shipped
    weights are those of the run behind the report's tables."""
    ship = json.loads((folder / "ship.json").read_text())
    curves = json.loads((REPO_ROOT / "results" / "nmt" / "curves.json").read_text())
    at_point = curves["scores"][ship["model"]][str(ship["updates"])]["test"]
    assert set(ship["test_bleu_fp32"]) == set(at_point)
    for direction, bleu in ship["test_bleu_fp32"].items():
        assert bleu == pytest.approx(at_point[direction]["bleu"], abs=0.005 + 1e-9), direction


@pytest.mark.slow
def test_translate_script_translates_with_the_shipped_model():
    """The README's command on a fresh clone: no training, no DATA_DIR; three lines from standard input."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DATA_DIR"}
    sentences = ["Ein Hund rennt über die Wiese.", "Zwei Männer spielen Fußball.", "Eine Frau liest ein Buch."]
    proc = subprocess.run(["bash", "scripts/translate.sh", "--to", "fr"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600, env={**env, "PY": sys.executable},
                          input="".join(s + "\n" for s in sentences))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and "identified as 'de'" in proc.stderr
    assert re.search(r"\bchien\b", lines[0], re.I), lines  # "Un chien court ..."
    from nlp_experiments.translation.langid import CharNgramLanguageIdentifier

    identifier = CharNgramLanguageIdentifier.load(SHIPPED / "langid.json")
    assert identifier.predict_many(lines) == ["fr"] * 3, lines


@pytest.mark.slow
def test_curves_and_ship_on_the_toy_model(toy_data_bin, toy_training, tmp_path):
    """The real commands on the session's toy model (checkpoints at updates 2 and 4): curves, comparisons, ship."""
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(toy_training["runs"] / "direct", runs / "direct")
    shutil.copytree(toy_training["save_dir"], tmp_path / "ckpt" / "direct")
    env = {"RESULTS_DIR": str(tmp_path / "results")}
    common = ["--data-bin", str(toy_data_bin), "--checkpoints", str(tmp_path / "ckpt"), "--runs-dir", str(runs)]
    run_command([sys.executable, "-m", "nlp_experiments.translation.curves", "--quick", "--models", "direct", "--pivot",
                 "direct", "--points", "2", "4", "--average-last", "1", "--splits", "test", *common], env)
    record = json.loads((tmp_path / "results" / "nmt" / "curve_direct.json").read_text())
    assert record["curve"]["2"]["averaged_updates"] == [2] and record["curve"]["4"]["averaged_updates"] == [4]
    assert set(record["curve"]["4"]["scores"]) == {"direct", "direct_pivot_en"}
    assert record["model_settings"]["encoder_layers"] == 1 and record["model_settings"]["encoder_embed_dim"] == 64
    kept = tmp_path / "results" / "nmt" / "hyps" / "direct" / "4" / "test" / "de-fr.txt.gz"
    assert len(gzip.open(kept, "rt").read().splitlines()) == 24
    run_command([sys.executable, "-m", "nlp_experiments.translation.comparisons", "--quick", "--data-bin",
                 str(toy_data_bin)], env)
    comparisons = json.loads((tmp_path / "results" / "nmt" / "comparisons.json").read_text())
    assert comparisons["comparisons"] == []  # direct alone: nothing to compare with
    assert (tmp_path / "results" / "nmt" / "curves.png").stat().st_size > 10_000

    run_command([sys.executable, "-m", "nlp_experiments.translation.ship", "--quick", "--updates", "4", *common], env)
    shipped = runs / "artifacts" / "nmt_direct" / "v1"
    ship = json.loads((shipped / "ship.json").read_text())
    from nlp_experiments.translation.artifacts import read_languages, verify_shipped

    assert verify_shipped(shipped) and "ship.json" in (shipped / "SHA256SUMS").read_text()  # covered
    assert read_languages(shipped) == ("en", "de", "fr") and ship["seed"] is None and ship["training_seed"] == 1
    assert json.loads((tmp_path / "results" / "nmt" / "shipped_direct.json").read_text()) == ship
    assert set(ship["test_bleu_fp16"]) == set(ship["test_bleu_fp32"]) and len(ship["test_bleu_fp32"]) == 6
    assert (shipped / "dict.de.txt").resolve() == (shipped / "dict.txt").resolve()
    proc = run_command(["bash", "scripts/translate.sh", "--to", "fr", "--shipped", str(shipped), "--beam", "1",
                        "Ein Hund rennt auf der Straße ."])
    assert len(proc.stdout.splitlines()) == 1
    again = run_command([sys.executable, "-m", "nlp_experiments.translation.ship", "--quick", "--updates", "4",
                         *common], env, check=False)
    assert again.returncode != 0 and "never overwritten" in again.stderr

    # the same weights again, as v2, with a record of this code: nothing retrained, the stored precision re-scored
    run_command([sys.executable, "-m", "nlp_experiments.translation.ship", "--quick", "--version", "v2",
                 "--from-version", "v1", *common], env)
    second = runs / "artifacts" / "nmt_direct" / "v2"
    reshipped = json.loads((second / "ship.json").read_text())
    assert verify_shipped(second) and (second / "model.pt").read_bytes() == (shipped / "model.pt").read_bytes()
    assert (second / "training.json").read_bytes() == (shipped / "training.json").read_bytes()
    assert reshipped["reshipped_from"]["folder"] == "nmt_direct/v1" and reshipped["updates"] == 4
    stored = "fp16" if ship["weights_dtype"] == "float16" else "fp32"
    other = "fp32" if stored == "fp16" else "fp16"
    assert reshipped[f"test_bleu_{stored}"] == ship[f"test_bleu_{stored}"]  # measured again, the same
    assert reshipped[f"test_bleu_{other}"] == ship[f"test_bleu_{other}"]  # taken from v1's record, and said so
    assert reshipped["reshipped_from"]["from_its_record"] == f"test_bleu_{other}"


def test_evaluate_refuses_an_unknown_model(capsys):
    from nlp_experiments.translation.evaluate import EvaluateConfig

    for option in ("--pivot", "--models"):
        assert f"invalid choice 'zeroshto' for argument '{option}'" in usage_error(
            capsys, lambda option=option: main(lambda config, ctx: pytest.fail("ran"), EvaluateConfig,
                                               [option, "zeroshto"]))


@pytest.mark.skipif(not (REPO_ROOT / "results" / "nmt" / "shipped_direct.json").is_file(), reason="no shipped model")
def test_readme_quotes_the_measured_translation_times():
    """The README's translation times are those of the shipped model's record (rounded as written there)."""
    timing = json.loads((REPO_ROOT / "results" / "nmt" / "shipped_direct.json").read_text())["translation_timing"]
    readme = " ".join((REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"{timing['one_sentence_s']:.0f} s for one sentence" in readme
    assert f"{timing['per_sentence_s']:.2f} s for each further sentence" in readme
