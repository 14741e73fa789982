"""``make verify`` (python -m mvadl.verify): the verdicts and their tolerance, a model not shipped yet, what the run
may write, on tiny check functions in place of the real ones; the real check list's records and keys, and the
translation checks of a model added to the table of shipped models; the translation and pivot re-computation
with a stand-in translator; the VAE's and the DDPM's re-computations against the records their own runs made on
tiny models; the quick run on the shipped models (slow)."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mvadl import REPO_ROOT
from mvadl.data import DataError
from mvadl.runner import main, parse_config
from mvadl.verify import checks as verify_checks
from mvadl.verify import shipped
from mvadl.verify.__main__ import VerifyConfig, run
from mvadl.verify.checks import Check, VerifyEnv, compare, lookup, run_checks
from nlp_experiments.translation.artifacts import SHIPPED_MODELS, ShippedModel, shipped_dir
from nlp_experiments.translation.languages import (
    DIRECTIONS,
    MODEL_PAIRS,
    PIVOT_DIRECTIONS,
    evaluation_directions,
    pivot_name,
)
from tests.conftest import usage_error

# --- the record's key, the verdict ----------------------------------------------------------------------------------


def test_lookup_follows_names_and_selects_list_items():
    record = {"scores": {"direct": {"6400": {"test": {"en-de": {"bleu": 35.5}}}}},
              "cells": [{"scheduler": "DDIM", "steps": 10, "fid": 2.0}, {"scheduler": "DDIM", "steps": 20, "fid": 1.0}],
              "concepts": [{"negative_prompt": "gray background", "shares": {"concept_with": {"share": 0.1}}}]}
    assert lookup(record, "scores.direct.6400.test.en-de.bleu") == 35.5
    assert lookup(record, "cells[scheduler=DDIM,steps=20].fid") == 1.0
    assert lookup(record, "concepts[negative_prompt=gray background].shares.concept_with.share") == 0.1
    with pytest.raises(KeyError, match="no 'chrf'"):
        lookup(record, "scores.direct.6400.test.en-de.chrf")
    with pytest.raises(KeyError, match="2 items"):
        lookup(record, "cells[scheduler=DDIM].fid")
    with pytest.raises(KeyError, match="0 items"):
        lookup(record, "cells[scheduler=DDIM,steps=5].fid")


@pytest.mark.parametrize(("recorded", "recomputed", "tolerance", "verdict"), [
    (35.54, 35.54, 0.2, "pass"),
    (35.54, 35.74, 0.2, "pass"),  # on the boundary: passes
    (35.54, 35.34, 0.2, "pass"),
    (35.54, 35.75, 0.2, "FAIL"),
    (35.54, 35.33, 0.2, "FAIL"),
    (0.9952, 0.9947, 0.0005, "pass"),
    (0.9952, 0.9946, 0.0005, "FAIL"),
    (1.0, math.nan, 0.2, "FAIL"),
    (1.0, 5.0, None, "not compared"),
])
def test_a_difference_beyond_the_tolerance_fails(recorded, recomputed, tolerance, verdict):
    assert compare(recorded, recomputed, tolerance) == verdict


# --- the run, on tiny checks -----------------------------------------------------------------------------------------


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A record under RESULTS_DIR, one artefact folder, runs/verify in the temp folder, and a factory of checks."""
    results = tmp_path / "results"
    (results / "part").mkdir(parents=True)
    (results / "part" / "record.json").write_text(json.dumps({"metrics": {"value": 1.0}, "value": 1.0,
                                                              "cells": [{"name": "a", "fid": 2.0}]}))
    artifact = tmp_path / "artifacts" / "model" / "v1"
    artifact.mkdir(parents=True)
    monkeypatch.setenv("RESULTS_DIR", str(results))
    monkeypatch.setattr(verify_checks, "VERIFY_DIR", tmp_path / "runs" / "verify")
    monkeypatch.setattr(verify_checks, "ARTIFACTS_DIR", tmp_path / "artifacts")

    def check(name: str, value: float | Exception, *, folder: Path = artifact, key: str = "value",
              tolerance: float = 0.1, quick_tolerance: float | None = 0.5, group: str = "tiny") -> Check:
        def recompute(env: VerifyEnv, found: Path, record: dict) -> float:
            assert found == folder and record["value"] == 1.0
            (env.workdir / name).mkdir(parents=True, exist_ok=True)
            (env.workdir / name / "output.txt").write_text("written by the check")
            if isinstance(value, Exception):
                raise value
            return value

        return Check(name, group, f"{name}'s value", str(folder), "part/record.json", key, tolerance, recompute,
                     quick_tolerance=quick_tolerance)

    check.tmp = tmp_path
    check.artifact = artifact
    return check


def verify(monkeypatch, checks: list[Check], *argv: str) -> int:
    monkeypatch.setattr(shipped, "CHECKS", tuple(checks))
    return main(run, VerifyConfig, [*argv, "--device", "cpu"])


def summary(tmp: Path) -> dict:
    return json.loads((tmp / "runs" / "verify" / "summary.json").read_text())


def test_every_verdict_in_the_table_and_a_failure_fails_the_run(tiny, monkeypatch, capsys):
    checks = [tiny("close", 1.05), tiny("far", 1.5), tiny("broken", DataError("data/x: missing")),
              tiny("no-key", 1.0, key="cells[name=b].fid"),
              tiny("unshipped", 1.0, folder=tiny.tmp / "artifacts" / "later" / "v1")]
    assert verify(monkeypatch, checks) == 1
    out = capsys.readouterr().out
    verdicts = {row["check"]: row["verdict"] for row in summary(tiny.tmp)["checks"]}
    assert verdicts == {"close": "pass", "far": "FAIL", "broken": "ERROR", "no-key": "ERROR",
                        "unshipped": "not shipped yet"}
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()}
    assert lines["close"].split()[-4:] == ["1.0000", "1.0500", "±0.1000", "pass"]
    assert lines["far"].split()[-2:] == ["±0.1000", "FAIL"]
    assert "broken: data/x: missing" in out and "0 items of 'cells' have name=b" in out
    assert f"1 not shipped yet: {tiny.tmp / 'artifacts' / 'later' / 'v1'}" in out.splitlines()[-1]
    assert out.splitlines()[-1].startswith("1 passed, 1 failed, 2 could not run;")
    assert "wall time" in out.splitlines()[-1]


def test_a_model_not_shipped_yet_is_counted_apart_and_does_not_fail_the_run(tiny, monkeypatch, capsys):
    later = tiny.tmp / "artifacts" / "later" / "v1"
    assert verify(monkeypatch, [tiny("close", 1.05), tiny("unshipped", 9.0, folder=later)]) == 0
    record = summary(tiny.tmp)
    assert record["counts"] == {"pass": 1, "FAIL": 0, "ERROR": 0, "not compared": 0, "not shipped yet": 1}
    assert record["exit_status"] == 0
    assert not (tiny.tmp / "runs" / "verify" / "unshipped").exists()  # its function never ran
    assert f"not shipped yet: {later}" in capsys.readouterr().out


def test_quick_compares_with_the_quick_tolerance(tiny, monkeypatch, capsys):
    checks = [tiny("subset", 1.4), tiny("size-dependent", 7.0, quick_tolerance=None)]
    assert verify(monkeypatch, checks, "--quick") == 0
    rows = {row["check"]: row for row in summary(tiny.tmp)["checks"]}
    assert rows["subset"]["verdict"] == "pass" and rows["subset"]["tolerance"] == 0.5
    assert rows["size-dependent"]["verdict"] == "not compared"
    assert summary(tiny.tmp)["quick"] is True
    assert verify(monkeypatch, checks) == 1  # the same values fail the whole run's tolerance


def test_only_runs_the_named_checks_and_groups(tiny, monkeypatch, capsys):
    checks = [tiny("a", 1.0, group="first"), tiny("b", 1.0, group="first"), tiny("c", 1.0, group="second")]
    assert verify(monkeypatch, checks, "--only", "c", "first") == 0
    assert [row["check"] for row in summary(tiny.tmp)["checks"]] == ["a", "b", "c"]
    assert verify(monkeypatch, checks, "--only", "second") == 0
    assert [row["check"] for row in summary(tiny.tmp)["checks"]] == ["c"]
    error = usage_error(capsys, lambda: parse_config(VerifyConfig, ["--only", "first", "bleu"]))
    assert "--only: unknown checks ['bleu']" in error


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def test_it_writes_only_under_runs_verify(tiny, monkeypatch, capsys):
    before = files_under(tiny.tmp)
    assert verify(monkeypatch, [tiny("a", 1.0), tiny("b", 1.02)]) == 0
    new = files_under(tiny.tmp) - before
    verify_dir = tiny.tmp / "runs" / "verify"
    assert new == {verify_dir / "a" / "output.txt", verify_dir / "b" / "output.txt", verify_dir / "summary.json"}


def test_a_file_changed_in_results_or_artifacts_fails_the_run(tiny, monkeypatch, capsys):
    def writes_into(path: Path) -> Check:
        def recompute(env, folder, record):
            path.write_text("overwritten")
            return 1.0

        return Check(f"writes-{path.name}", "tiny", "a misbehaving check", str(tiny.artifact), "part/record.json",
                     "value", 0.1, recompute)

    for target in (tiny.tmp / "results" / "part" / "new.json", tiny.artifact / "model.bin"):
        assert verify(monkeypatch, [writes_into(target)]) == 1
        out = capsys.readouterr().out
        assert f"error: {target} changed during the checks" in out
        assert summary(tiny.tmp)["changed_files"] == [str(target)]
        target.unlink()


def test_the_checks_of_one_model_share_what_they_load(tiny, monkeypatch):
    loads = []

    def recompute(env, folder, record):
        return env.shared("model", lambda: loads.append(1) or 1.0)

    checks = [Check(name, "tiny", name, str(tiny.artifact), "part/record.json", "value", 0.1, recompute)
              for name in ("a", "b", "c")]
    assert verify(monkeypatch, checks) == 0 and loads == [1]


# --- the real check list ---------------------------------------------------------------------------------------------


def test_the_check_list_names_each_number_once_with_its_folder_record_and_tolerance():
    names = [c.name for c in shipped.CHECKS]
    assert len(names) == len(set(names))
    assert {c.group for c in shipped.CHECKS} == {"nmt", "classifier", "q19", "ddpm", "vae"}
    for check in shipped.CHECKS:
        assert check.artifact.startswith("artifacts/") and check.tolerance > 0, check.name
        assert (REPO_ROOT / "results" / check.record).is_file() or not (REPO_ROOT / check.artifact).is_dir()
    nmt = [(c.key.split(".")[1], c.key.split(".")[2], c.key.split(".")[4]) for c in shipped.CHECKS
           if c.group == "nmt"]
    assert nmt == [(system, str(entry.updates), direction) for model, entry in SHIPPED_MODELS.items()
                   for system, directions in ((model, evaluation_directions(model)),
                                              (pivot_name(model), shipped.pivot_directions(model)))
                   for direction in directions]
    assert len(nmt) == sum(len(evaluation_directions(m)) + len(shipped.pivot_directions(m)) for m in SHIPPED_MODELS)


def test_the_key_of_every_shipped_model_is_in_its_committed_record():
    for check in shipped.CHECKS:
        if (REPO_ROOT / check.artifact).is_dir():
            record = json.loads((REPO_ROOT / "results" / check.record).read_text())
            assert math.isfinite(float(lookup(record, check.key))), check.name


def test_each_shipped_translation_model_is_the_one_the_record_keys_name():
    from vae_diffusion.core.artifacts import sha256_file

    for model, entry in SHIPPED_MODELS.items():
        folder = shipped_dir(model, entry.version)
        if folder.is_dir():
            ship = json.loads((folder / "ship.json").read_text())
            assert (ship["model"], ship["updates"]) == (model, entry.updates), model
            assert sha256_file(folder / "model.pt") == entry.sha256, model


#: Three more shipped translation models, as their table entries will read (fake pins).
MORE_MODELS = {"zeroshot": ShippedModel("v1", 6400, "1" * 64), "bilingual_en_de": ShippedModel("v1", 6400, "2" * 64),
               "bilingual_en_fr": ShippedModel("v2", 3200, "3" * 64)}


def test_a_translation_model_added_to_the_table_gets_its_checks():
    """One entry of the table gives the model's checks: its folder, every direction it is evaluated on at its
    update count, and the pivot through English for the English-centric model (the model with de-fr data and the
    bilingual ones have none); every name is unique."""
    checks = shipped.nmt_checks({**SHIPPED_MODELS, **MORE_MODELS})
    assert len({c.name for c in checks}) == len(checks) and {c.group for c in checks} == {"nmt"}
    by_model = {}
    for check in checks:
        by_model.setdefault(check.recompute.keywords["model"], []).append(check)
    assert by_model.keys() == {*SHIPPED_MODELS, *MORE_MODELS}
    zeroshot = by_model["zeroshot"]
    assert [c.name for c in zeroshot] == [*(f"nmt-bleu-zeroshot-{d}" for d in DIRECTIONS),
                                          *(f"nmt-bleu-zeroshot_pivot_en-{d}" for d in PIVOT_DIRECTIONS)]
    assert {c.artifact for c in zeroshot} == {"artifacts/nmt_zeroshot/v1"}
    assert [c.key for c in zeroshot][-2:] == ["scores.zeroshot_pivot_en.6400.test.de-fr.bleu",
                                              "scores.zeroshot_pivot_en.6400.test.fr-de.bleu"]
    assert [c.recompute.func for c in zeroshot] == [shipped.translation_bleu] * 6 + [shipped.pivot_bleu] * 2
    assert all(c.recompute.keywords["shipped"] == MORE_MODELS["zeroshot"] for c in zeroshot)
    assert [c.key for c in by_model["bilingual_en_fr"]] == ["scores.bilingual_en_fr.3200.test.en-fr.bleu",
                                                            "scores.bilingual_en_fr.3200.test.fr-en.bleu"]
    assert {c.artifact for c in by_model["bilingual_en_fr"]} == {"artifacts/nmt_bilingual_en_fr/v2"}
    assert len(by_model["bilingual_en_de"]) == 2 and len(by_model["direct"]) == 6
    assert all(c.tolerance == 0.2 and c.quick_tolerance == 5.0 for c in checks)


def test_the_pivot_checks_are_the_curves_records_pivot_systems():
    """A model gets pivot checks exactly when the curves record scores its pivot system, in the same directions;
    every key a shipped model of the final comparisons would get is in the record."""
    scores = json.loads((REPO_ROOT / "results" / "nmt" / "curves.json").read_text())["scores"]
    for model in MODEL_PAIRS:
        recorded = sorted(scores.get(pivot_name(model), {}).get("6400", {}).get("test", {}))
        assert sorted(shipped.pivot_directions(model)) == recorded, model
    record = json.loads((REPO_ROOT / "results" / "nmt" / "curves.json").read_text())
    for check in shipped.nmt_checks({model: ShippedModel("v1", 6400, "0" * 64) for model in MODEL_PAIRS}):
        assert math.isfinite(float(lookup(record, check.key))), check.name


# --- the translation re-computation, with a stand-in for fairseq-interactive -----------------------------------------


@pytest.fixture
def translation_env(tmp_path, monkeypatch):
    """A fake shipped zeroshot folder (SHA256SUMS, ship.json), the toy test set, and a stand-in translator that
    writes ``TARGET:sentence`` and records its calls."""
    from nlp_experiments.translation import generation
    from tests.nmt_toy_corpus import write_toy_multi30k
    from vae_diffusion.core.artifacts import sha256_file, write_sha256sums

    folder = tmp_path / "artifacts" / "nmt_zeroshot" / "v1"
    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"weights")
    (folder / "ship.json").write_text(json.dumps({"model": "zeroshot", "updates": 6400}))
    write_sha256sums(folder)
    calls = []

    def translate(sentences, target, source, checkpoint, data_bin, beam, device):
        assert checkpoint == folder / "model.pt" and data_bin == folder
        calls.append((source, target, list(sentences)))
        return [f"{target}:{s}" for s in sentences]

    monkeypatch.setattr(generation, "translate_sentences", translate)
    env = VerifyEnv(quick=True, device="cpu", data_dir=str(write_toy_multi30k(tmp_path / "data")),
                    workdir=tmp_path / "verify")
    return env, folder, ShippedModel("v1", 6400, sha256_file(folder / "model.pt")), calls


def test_the_pivot_translates_into_english_then_from_those_translations(translation_env):
    from mvadl.data import read_parallel
    from nlp_experiments.translation.metrics import corpus_score

    env, folder, entry, calls = translation_env
    text = read_parallel("test_2016_flickr", ["de", "en", "fr"], root=env.data_dir)
    bleu = shipped.translation_bleu(env, folder, {}, model="zeroshot", shipped=entry, direction="de-en")
    assert bleu == corpus_score("bleu", [f"en:{s}" for s in text["de"]], text["en"])
    pivot = shipped.pivot_bleu(env, folder, {}, model="zeroshot", shipped=entry, direction="de-fr")
    english = [f"en:{s}" for s in text["de"]]
    assert calls == [("de", "en", text["de"]), ("en", "fr", english)]  # the first step's translations reused
    assert pivot == corpus_score("bleu", [f"fr:{s}" for s in english], text["fr"])
    written = (env.workdir / "nmt" / "zeroshot_pivot_en" / "de-fr.txt").read_text().splitlines()
    assert written == [f"fr:{s}" for s in english]
    assert (env.workdir / "nmt" / "zeroshot" / "de-en.txt").read_text().splitlines() == english


def test_a_translation_check_refuses_weights_other_than_the_pinned_ones(translation_env):
    env, folder, entry, calls = translation_env
    other = ShippedModel(entry.version, entry.updates, "0" * 64)
    for recompute, direction in ((shipped.translation_bleu, "en-de"), (shipped.pivot_bleu, "fr-de")):
        with pytest.raises(DataError, match="is not the pinned 0000"):
            recompute(env, folder, {}, model="zeroshot", shipped=other, direction=direction)
    with pytest.raises(DataError, match="not the zeroshot model at 3200 updates"):
        shipped.translation_bleu(env, folder, {}, model="zeroshot", shipped=ShippedModel("v1", 3200, entry.sha256),
                                 direction="en-de")
    assert calls == []


# --- the image models' re-computations against their own runs' records, on tiny models -------------------------------


@pytest.mark.usefixtures("one_torch_thread")
def test_vae_numbers_are_those_its_training_recorded(tiny_mnist, tmp_path, monkeypatch):
    """A tiny VAE trained, shipped as vae_diffusion.ship ships it, and re-scored from the shipped folder: the test
    ELBO and (with the record's k) the importance-sampled NLL are the record's, exactly."""
    from mvadl.runner import Context
    from mvadl.seeding import seed_everything
    from vae_diffusion import ship
    from vae_diffusion.vae import train

    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    config = parse_config(train.TrainConfig, [
        "--data-dir", str(tiny_mnist), "--epochs", "1", "--batch-size", "4", "--hidden", "16", "--z-dim", "3",
        "--is-samples", "20", "--device", "cpu", "--seed", "5", "--train-subset", "12", "--test-subset", "5",
        "--checkpoint-dir", str(tmp_path / "ckpt"), "--log-dir", str(tmp_path / "runs"), "--no-figures"])
    seed_everything(config.seed)
    train.run(config, Context(config=config, device=torch.device("cpu")))
    record_path = tmp_path / "results" / "vae" / "metrics.json"
    ship_config = parse_config(ship.ShipConfig, ["--model", "vae", "--source", str(tmp_path / "ckpt" / "metrics.pt"),
                                                 "--record", str(record_path), "--version", "v1",
                                                 "--artifacts", str(tmp_path / "artifacts")])
    folder = ship.run(ship_config, Context(config=ship_config, device=None))
    record = json.loads(record_path.read_text())
    monkeypatch.setattr(shipped, "VAE_QUICK_IS_SAMPLES", record["is_samples"])
    env = VerifyEnv(quick=True, device=torch.device("cpu"), data_dir=str(tiny_mnist), workdir=tmp_path / "verify")
    assert shipped.vae_test_elbo(env, folder, record) == record["test_elbo"]
    assert shipped.vae_test_nll(env, folder, record) == pytest.approx(record["test_nll_is"], rel=1e-12)


@pytest.mark.usefixtures("one_torch_thread")
def test_ddpm_cell_fid_is_the_one_the_scheduler_study_recorded(tiny_mnist, tmp_path, monkeypatch):
    """The scheduler study on a tiny pipeline scored with the shipped classifier, then one of its cells re-sampled
    and re-scored by the verify check from the same folder: the same FID."""
    from diffusers import DDPMPipeline

    from mvadl.runner import Context
    from vae_diffusion.core.classifier import DEFAULT_WEIGHTS
    from vae_diffusion.diffusion import scheduler_study
    from vae_diffusion.diffusion.unet import build_noise_scheduler, build_unet

    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    torch.manual_seed(0)
    folder = tmp_path / "ddpm"
    DDPMPipeline(unet=build_unet(32, (4, 8), layers_per_block=1, norm_num_groups=4),
                 scheduler=build_noise_scheduler(1000)).save_pretrained(str(folder))
    config = parse_config(scheduler_study.SchedulerStudyConfig, [
        "--quick", "--model", str(folder), "--classifier", str(DEFAULT_WEIGHTS), "--data-dir", str(tiny_mnist),
        "--schedulers", "DDIM", "DPM-Solver++ 2M Karras", "--steps", "3", "--n-samples", "4", "--grid-images", "1"])
    record = json.loads(scheduler_study.run(config, Context(config=config, device=torch.device("cpu"))).read_text())
    env = VerifyEnv(quick=True, device=torch.device("cpu"), data_dir=str(tiny_mnist), workdir=tmp_path / "verify")
    for scheduler in ("DDIM", "DPM-Solver++ 2M Karras"):
        fid = shipped.scheduler_cell_fid(env, folder, record, scheduler, 3)
        assert fid == pytest.approx(lookup(record, f"cells[scheduler={scheduler},steps=3].fid"), abs=1e-9)
    with pytest.raises(DataError, match="no scheduler 'Euler'"):
        shipped.scheduler_cell_fid(env, folder, record, "Euler", 3)


@pytest.mark.usefixtures("one_torch_thread")
def test_q19_numbers_are_those_the_negative_prompt_study_recorded(tiny_mnist, tmp_path, monkeypatch):
    """A tiny text-to-digit model trained and studied with two negative prompts, then re-sampled and re-read by the
    verify checks from its pipeline folder: every share and IoU the checks compare is the record's."""
    from tests.runner_helpers import cli
    from vae_diffusion.guidance import negative_prompt, train

    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    assert cli(train, train.TrainConfig, "--quick", "--data-dir", tiny_mnist, "--batch-size", 4, "--epochs", 1,
               "--steps-per-epoch", 2, "--output-dir", tmp_path / "t2d") == 0
    folder = tmp_path / "t2d" / "pipeline"
    assert cli(negative_prompt, negative_prompt.NegativePromptConfig, "--quick", "--model", folder, "--n-samples", 4,
               "--other-concepts", "red", "--sweep", "--colour-samples", 0, "--no-seed-baseline") == 0
    record = json.loads((tmp_path / "results" / "guidance" / "metrics.json").read_text())
    env = VerifyEnv(quick=True, device=torch.device("cpu"), data_dir=None, workdir=tmp_path / "verify")
    for negative in ("white", "red"):
        for key, *_ in shipped.Q19_NUMBERS:
            recorded = lookup(record, f"concepts[negative_prompt={negative}].{key}")
            assert shipped._q19_number(env, folder, record, negative, key) == recorded, (negative, key)
    assert ("q19", "gray background") not in env._shared  # only what was asked for is sampled


def test_a_record_measured_with_an_unshipped_classifier_is_refused():
    with pytest.raises(DataError, match="no shipped classifier"):
        shipped.shipped_classifier("0" * 64)


# --- the quick run on the shipped models ---------------------------------------------------------------------------


@pytest.mark.slow
def test_quick_verify_passes_on_the_shipped_models():
    """``python -m mvadl.verify --quick`` on this checkout's shipped models and the real data (DATA_DIR)."""
    data = os.environ.get("DATA_DIR")
    if not data or not (Path(data) / "multi30k").is_dir() or not (Path(data) / "mnist").is_dir():
        pytest.skip("DATA_DIR with multi30k/ and mnist/ is not set")
    proc = subprocess.run([sys.executable, "-m", "mvadl.verify", "--quick"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads((REPO_ROOT / "runs" / "verify" / "summary.json").read_text())
    assert record["quick"] is True and record["counts"]["FAIL"] == record["counts"]["ERROR"] == 0
    shipped_checks = [c for c in shipped.CHECKS if (REPO_ROOT / c.artifact).is_dir()]
    assert record["counts"]["pass"] + record["counts"]["not compared"] == len(shipped_checks)
    assert "wall time" in proc.stdout.splitlines()[-1]


def test_run_checks_returns_the_outcomes_in_order(tiny):
    env = VerifyEnv(quick=False, device="cpu", data_dir=None, workdir=tiny.tmp / "runs" / "verify")
    outcomes, changed = run_checks([tiny("x", 1.0), tiny("y", 3.0)], env)
    assert [o.check.name for o in outcomes] == ["x", "y"] and [o.verdict for o in outcomes] == ["pass", "FAIL"]
    assert changed == []
