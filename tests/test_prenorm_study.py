"""The pre/post-norm study on the runner: plan, fairseq-train command, resume, records, summary, figures, errors.

fairseq-train is faked here (it writes the files a real run writes, with chosen losses), so the whole driver
runs in-process in seconds; tests/test_prenorm_gradnorm.py runs the real fairseq-train through the same code.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mvadl import REPO_ROOT
from mvadl.data import DataError
from mvadl.runner import Context, main, parse_config
from nlp_experiments.fairseq_runs import USER_DIR
from nlp_experiments.prenorm import redraw, report, study, training
from nlp_experiments.prenorm.plan import RunSpec, collapse_runs, grid_runs, later_runs, names, study_runs
from nlp_experiments.prenorm.records import FailedRun, load_run, record_run
from nlp_experiments.prenorm.summary import choose_main_setting
from tests.conftest import usage_error

# The arguments scripts/prenorm_study.sh (before this driver) gave fairseq-train for the reference study, read
# from a running reference run's command line (run postnorm_deep_lr3e-3_wu1000_s1), plus the
# per-run --save-dir that --no-save still probes.
REFERENCE_ARGS = (
    "data-bin/wikitext-2 --user-dir fairseq_ext --task language_modeling --arch mva_lm_postnorm_deep "
    "--adaptive-softmax-cutoff 2000,10000 --adaptive-input --adaptive-input-cutoff 2000,10000 "
    "--tie-adaptive-weights --tie-adaptive-proj --dropout 0.0 --criterion mva_cross_entropy_gradnorm "
    "--gradnorm-log-interval 20 --gradnorm-jsonl runs/prenorm/postnorm_deep_lr3e-3_wu1000_s1/gradnorm.jsonl "
    "--jacobian-probe-interval 500 --jacobian-probe-samples 2 --tokens-per-sample 128 --sample-break-mode none "
    "--batch-size 8 --optimizer adam --adam-betas (0.9,_0.98) --lr 3e-3 --lr-scheduler polynomial_decay "
    "--warmup-updates 1000 --total-num-update 3000 --max-update 3000 --validate-interval-updates 1000 "
    "--validate-interval 1000 --no-save --save-dir runs/prenorm/postnorm_deep_lr3e-3_wu1000_s1/checkpoints "
    "--seed 1 --cpu --num-workers 0 --no-progress-bar --log-format json --log-interval 20").split()
QUICK_ARGS = {"--gradnorm-log-interval": "2", "--jacobian-probe-interval": "10", "--max-update": "20",
              "--total-num-update": "20", "--validate-interval-updates": "10", "--max-valid-steps": "2",
              "--log-interval": "2"}


def test_fairseq_train_command_is_the_reference_one():
    config = parse_config(study.StudyConfig, [])
    command = training.train_command(config, RunSpec("postnorm", "deep", "3e-3", 1000, 1),
                                     Path(config.runs_dir) / "postnorm_deep_lr3e-3_wu1000_s1", "cpu")
    assert command[1:3] == ["-m", "fairseq_cli.train"]
    expected = [a.replace("_", " ") if a.startswith("(") else a for a in REFERENCE_ARGS]
    expected[expected.index("--user-dir") + 1] = str(USER_DIR)
    assert command[3:] == expected
    quick = parse_config(study.StudyConfig, ["--quick"])
    command = training.train_command(quick, RunSpec("prenorm", "shallow", "3e-3", 5, 2), Path("r"), "cpu")
    options = {a: command[i + 1] for i, a in enumerate(command) if a.startswith("--")}
    assert {k: options.get(k) for k in QUICK_ARGS} == QUICK_ARGS and "--validate-interval" not in options
    assert (options["--arch"], options["--lr"], options["--warmup-updates"], options["--seed"]) == (
        "mva_lm_prenorm_shallow", "3e-3", "5", "2")
    gpu = training.train_command(quick, RunSpec("prenorm", "deep", "3e-3", 5, 2), Path("r"), "cuda:1")
    assert "--cpu" not in gpu and gpu[gpu.index("--device-id") + 1] == "1"


def test_plan_order_skip_and_late_cells():
    config = parse_config(study.StudyConfig, ["--grid-skip", "1e-3:200", "3e-3:0", "--grid-late", "3e-3:200",
                                              "1e-3:200", "--collapse-setting", "None"])
    assert names(grid_runs(config)) == [
        "postnorm_deep_lr1e-3_wu0_s1", "prenorm_deep_lr1e-3_wu0_s1", "postnorm_deep_lr1e-3_wu1000_s1",
        "prenorm_deep_lr1e-3_wu1000_s1", "postnorm_deep_lr3e-3_wu1000_s1", "prenorm_deep_lr3e-3_wu1000_s1"]
    assert names(later_runs(config, ("1e-3", 1000))) == [
        "postnorm_shallow_lr1e-3_wu1000_s1", "prenorm_shallow_lr1e-3_wu1000_s1",
        "postnorm_deep_lr1e-3_wu1000_s2", "prenorm_deep_lr1e-3_wu1000_s2",
        "postnorm_deep_lr1e-3_wu1000_s3", "prenorm_deep_lr1e-3_wu1000_s3",
        "postnorm_deep_lr3e-3_wu200_s1", "prenorm_deep_lr3e-3_wu200_s1"]  # 1e-3:200 is skipped as well
    quick = parse_config(study.StudyConfig, ["--quick"])
    assert (quick.lrs, quick.warmups, quick.seeds, quick.runs_dir, quick.max_update, quick.collapse_setting) == (
        ["3e-3"], [0, 5], [1, 2], "runs/prenorm_quick", 20, "3e-3:0")  # the collapse setting: a cell of its grid
    assert len(names(grid_runs(quick) + later_runs(quick, ("3e-3", 5)))) == 14  # 4 + 4 + 4 shallow + 2 deep


#: The runs the default options add at the collapse setting (3e-3 without warm-up), after the main contrast.
COLLAPSE_RUNS = [*(f"{norm}_shallow_lr3e-3_wu0_s{seed}" for seed in (1, 2, 3) for norm in ("postnorm", "prenorm")),
                 *(f"{norm}_deep_lr3e-3_wu0_s{seed}" for seed in (2, 3) for norm in ("postnorm", "prenorm"))]


def test_plan_runs_deep_and_shallow_at_the_collapse_setting_after_the_main_contrast():
    config = parse_config(study.StudyConfig, [])
    assert config.collapse_setting == "3e-3:0"
    main_setting = ("3e-3", 1000)
    runs = names(study_runs(config, main_setting))
    assert len(runs) == 28 and len(set(runs)) == 28
    assert runs[:12] == names(grid_runs(config)) and "postnorm_deep_lr3e-3_wu0_s1" in runs[:12]
    assert runs[12:18] == [  # the main contrast, as before
        "postnorm_shallow_lr3e-3_wu1000_s1", "prenorm_shallow_lr3e-3_wu1000_s1", "postnorm_deep_lr3e-3_wu1000_s2",
        "prenorm_deep_lr3e-3_wu1000_s2", "postnorm_deep_lr3e-3_wu1000_s3", "prenorm_deep_lr3e-3_wu1000_s3"]
    assert runs[18:] == names(collapse_runs(config, main_setting)) == COLLAPSE_RUNS
    # a late collapse cell: its seed-1 pair runs with the late cells, last
    late = parse_config(study.StudyConfig, ["--grid-late", "3e-3:0"])
    assert names(later_runs(late, main_setting))[6:] == COLLAPSE_RUNS + [
        "postnorm_deep_lr3e-3_wu0_s1", "prenorm_deep_lr3e-3_wu0_s1"]
    # the collapse setting is the main setting: each run once, the main contrast's first
    same = names(later_runs(config, ("3e-3", 0)))
    assert same == ["postnorm_shallow_lr3e-3_wu0_s1", "prenorm_shallow_lr3e-3_wu0_s1", "postnorm_deep_lr3e-3_wu0_s2",
                    "prenorm_deep_lr3e-3_wu0_s2", "postnorm_deep_lr3e-3_wu0_s3", "prenorm_deep_lr3e-3_wu0_s3",
                    "postnorm_shallow_lr3e-3_wu0_s2", "prenorm_shallow_lr3e-3_wu0_s2",
                    "postnorm_shallow_lr3e-3_wu0_s3", "prenorm_shallow_lr3e-3_wu0_s3"]
    for off in ("None", ""):
        config = parse_config(study.StudyConfig, ["--collapse-setting", off])
        assert collapse_runs(config, main_setting) == [] and len(study_runs(config, main_setting)) == 18


def test_bad_options_are_usage_errors(capsys):
    for argv, message in ((["--grid-skip", "1e-3"], "grid cell '1e-3' is not LR:WARMUP"),
                          (["--lrs", "fast"], "grid cell 'fast:0' is not LR:WARMUP"),
                          (["--collapse-setting", "3e-3"], "grid cell '3e-3' is not LR:WARMUP")):
        assert message in usage_error(capsys, lambda argv=argv: parse_config(study.StudyConfig, argv))


# ------------------------------------------------------------------------------------------- fake fairseq
#: Final validation loss (bits) of the fake deep seed-1 grid; other runs: 8.5. (3e-3, 0) post-norm "diverges".
VALID = {("postnorm", "1e-3", 0): 9.0, ("postnorm", "1e-3", 5): 8.2, ("postnorm", "3e-3", 0): 11.0,
         ("postnorm", "3e-3", 5): 10.0, ("prenorm", "1e-3", 0): 8.1, ("prenorm", "1e-3", 5): 8.0,
         ("prenorm", "3e-3", 0): 7.9, ("prenorm", "3e-3", 5): 7.8}


#: How fairseq-train's log ends when it stops a run for non-finite gradients (trainer.train_step, fairseq 0.12).
NAN_STOP = ('Traceback (most recent call last):\n  File "fairseq/trainer.py", line 970, in train_step\n'
            '    raise FloatingPointError("gradients are Nan/Inf")\nFloatingPointError: gradients are Nan/Inf')
#: ... and when the process ran out of memory: a failure, not a finding.
OOM_STOP = ('Traceback (most recent call last):\n  File "fairseq/trainer.py", line 921, in train_step\n'
            '    loss, sample_size_i, logging_output = self.task.train_step(\n'
            'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB')


def fake_run_files(gradnorm: Path, log: Path, layers: int, lr: str, max_update: int, final_valid: float,
                   ending: str = "") -> None:
    """What a fairseq-train run with the criterion writes: gradient records every 10 updates (Jacobian probes
    at 0 and 20), a json log with the config line, train_inner every 10 updates and one validation, then
    ``ending`` (how the log of a failed or stopped run ends)."""
    lines = []
    for step in (0, 10, 20):
        record = {"step": step, "loss": 9.0, "grad_x": [0.1 * (k + 1) for k in range(layers + 1)],
                  "grad_param": [0.0 if step else 0.2] + [0.3] * (layers - 1), "ratio_x": 0.5 / (step + 1),
                  "ratio_param": 0.1}
        if step:
            record["update_rel_total"] = 0.01
        if step in (0, 20):
            record["jacobian_rms"] = [1.5 - 0.1 * k for k in range(layers + 1)]
        lines.append(json.dumps(record))
    gradnorm.write_text("\n".join(lines) + "\n")
    text = ["2026 | INFO | fairseq_cli.train | {'_name': None, 'common': {'seed': 1}, 'model': {'_name': 'x', "
            f"'activation_fn': relu, 'decoder_layers': {layers}}}, 'optimization': {{'max_update': {max_update}, "
            f"'lr': [{lr}]}}}}"]
    text += [f'2026 | INFO | train_inner | {{"loss": "{9 - u / 10}", "num_updates": "{u}", "wpb": "16", '
             f'"lr": "0.001"}}' for u in (10, 20)]
    text.append(f'2026 | INFO | valid | {{"valid_loss": "{final_valid}", "valid_num_updates": "20"}}')
    log.write_text("\n".join(text + ([ending] if ending else [])) + "\n")


class FakeFairseq:
    """Stands in for ``run_logged`` in nlp_experiments.prenorm.training: fairseq-preprocess makes a data-bin,
    fairseq-train writes the files of a run (with the losses of VALID). Records the runs it trained.

    Post-norm at (3e-3, 0) diverges (fairseq-train stops it for non-finite gradients, exit 1); the runs in
    ``crashed`` run out of memory (exit 1); those in ``broken`` write a broken gradient record."""

    def __init__(self):
        self.trained: list[str] = []
        self.broken: set[str] = set()
        self.crashed: set[str] = set()

    def __call__(self, command, log, *, env=None, check=True, **_):
        args = {a: command[i + 1] for i, a in enumerate(command[:-1]) if a.startswith("--")}
        log.parent.mkdir(parents=True, exist_ok=True)
        if command[2] == "fairseq_cli.preprocess":
            dest = Path(args["--destdir"])
            dest.mkdir(parents=True)
            (dest / "dict.txt").write_text("a 6\nb 1\nc 1\n")
            (dest / "test.bin").write_bytes(b"")
            log.write_text("binarized\n")
            return 0
        assert command[2] == "fairseq_cli.train" and env["OMP_NUM_THREADS"] == "1" and not check
        _, _, norm, depth = args["--arch"].split("_")
        lr, warmup, seed = args["--lr"], int(args["--warmup-updates"]), int(args["--seed"])
        name = RunSpec(norm, depth, lr, warmup, seed).name
        self.trained.append(name)
        final_valid = VALID.get((norm, lr, warmup), 8.5) + 0.1 * (seed - 1)
        diverges = (norm, lr, warmup) == ("postnorm", "3e-3", 0)
        ending = NAN_STOP if diverges else OOM_STOP if name in self.crashed else ""
        fake_run_files(Path(args["--gradnorm-jsonl"]), log, 2 if depth == "shallow" else 4, lr,
                       int(args["--max-update"]), final_valid, ending)
        if name in self.broken:
            Path(args["--gradnorm-jsonl"]).write_text('{"step": 0}\n{not json\n')
        return 1 if ending else 0


@pytest.fixture(scope="module")
def wikitext(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wikitext_data")
    (root / "wikitext-2").mkdir()
    for split in ("train", "valid", "test"):
        (root / "wikitext-2" / f"{split}.txt").write_text("a b a c a a\n")
    return root


def study_argv(tmp: Path, wikitext: Path) -> list[str]:
    return ["--data-dir", str(wikitext), "--data-bin", str(tmp / "bin"), "--runs-dir", str(tmp / "runs"),
            "--lrs", "1e-3", "3e-3", "--warmups", "0", "5", "--seeds", "1", "2", "--max-update", "20",
            "--jacobian-depths", "1", "2", "--jacobian-seeds", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory, wikitext):
    """The study, run once with the fake fairseq-train, in a temporary RESULTS_DIR."""
    tmp = tmp_path_factory.mktemp("study")
    fake = FakeFairseq()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESULTS_DIR", str(tmp / "results"))
        patch.setattr(training, "run_logged", fake)
        assert main(study.run, study.StudyConfig, study_argv(tmp, wikitext)) == 0
    return tmp, fake, tmp / "results" / "prenorm"


#: The runs of the fake study after its grid: the main contrast at (1e-3, 5), where max(8.2, 8.0) is the lowest
#: worse-of-two, then the collapse runs at (3e-3, 0).
LATER = ["postnorm_shallow_lr1e-3_wu5_s1", "prenorm_shallow_lr1e-3_wu5_s1", "postnorm_deep_lr1e-3_wu5_s2",
         "prenorm_deep_lr1e-3_wu5_s2", "postnorm_shallow_lr3e-3_wu0_s1", "prenorm_shallow_lr3e-3_wu0_s1",
         "postnorm_shallow_lr3e-3_wu0_s2", "prenorm_shallow_lr3e-3_wu0_s2", "postnorm_deep_lr3e-3_wu0_s2",
         "prenorm_deep_lr3e-3_wu0_s2"]


def test_study_runs_grid_then_main_setting(finished_study):
    _, fake, _ = finished_study
    grid = [f"{n}_deep_lr{lr}_wu{w}_s1" for lr in ("1e-3", "3e-3") for w in (0, 5) for n in ("postnorm", "prenorm")]
    assert sorted(fake.trained[:8]) == sorted(grid) and sorted(fake.trained[8:]) == sorted(LATER)  # 2 at a time
    assert fake.trained.index("prenorm_deep_lr1e-3_wu5_s2") < fake.trained.index("postnorm_deep_lr3e-3_wu0_s2")


def test_records_have_provenance_and_compact_series(finished_study):
    tmp, _, out = finished_study
    record = json.loads((out / "runs/prenorm_deep_lr1e-3_wu5_s1.json").read_text())
    assert record["seed"] == 1 and record["wall_time_s"] >= 0 and record["git_revision"] != "unknown"
    assert record["config"]["lr"] == 1e-3 and record["config"]["fairseq"]["model"]["decoder_layers"] == 4
    assert record["config"]["arch"] == "mva_lm_prenorm_deep" and record["config"]["max_update"] == 20
    assert record["updates"] == 20 and record["tokens_seen"] == 320 and record["final_valid_loss"] == 8.0
    meta = json.loads((tmp / "runs/prenorm_deep_lr1e-3_wu5_s1/meta.json").read_text())
    assert list(meta) == ["name", "norm", "depth", "warmup_updates", "exit_code", "wall_time_s", "seed", "lr",
                          "max_update", "tokens_per_sample", "batch_size"]
    assert (meta["name"], meta["exit_code"], meta["lr"], meta["batch_size"]) == ("prenorm_deep_lr1e-3_wu5_s1", 0,
                                                                                  1e-3, 8)
    text = (out / record["series_file"]).read_text()
    assert "\n" not in text.strip() and ", " not in text  # compact
    series = json.loads(text)
    assert series["step"] == [0, 10, 20] and len(series["grad_x"][0]) == 5 and series["jacobian"]["step"] == [0, 20]
    assert series["valid"] == {"update": [20], "loss": [8.0]}
    diverged = json.loads((out / "runs/postnorm_deep_lr3e-3_wu0_s1.json").read_text())
    assert diverged["diverged"] and diverged["exit_code"] == 1  # stopped for non-finite gradients: recorded
    assert not record["diverged"]


def test_summary(finished_study):
    _, fake, out = finished_study
    summary = json.loads((out / "summary.json").read_text())
    assert [e["name"] for e in summary["runs"]] == [  # the plan's order, whatever order the runs ended in
        *(f"{n}_deep_lr{lr}_wu{w}_s1" for lr in ("1e-3", "3e-3") for w in (0, 5) for n in ("postnorm", "prenorm")),
        *LATER]
    entry = {e["name"]: e for e in summary["runs"]}
    assert entry["postnorm_deep_lr3e-3_wu0_s1"]["diverged"] and not entry["prenorm_deep_lr3e-3_wu0_s1"]["diverged"]
    e = entry["prenorm_deep_lr1e-3_wu5_s1"]
    assert e["final_valid_ppl"] == pytest.approx(2 ** 8.0) and e["layers"] == 4 and e["updates"] == 20
    assert e["lr"] == 1e-3 and e["seed"] == 1 and e["tokens_seen"] == 320 and e["norm"] == "pre"
    assert summary["config"]["unigram_entropy_bits"] == pytest.approx(1.061278, rel=1e-5)  # counts 6, 1, 1
    assert entry["prenorm_deep_lr3e-3_wu5_s1"]["failed_to_train"]  # 7.8 bits >= the unigram entropy
    assert summary["main_setting"] == {"lr": 1e-3, "warmup_updates": 5}
    contrast = summary["main_contrast"]
    assert contrast["post"]["seeds"] == [1, 2] and contrast["post"]["final_valid_loss"] == pytest.approx([8.2, 8.3])
    assert contrast["post_minus_pre_bits"]["mean"] == pytest.approx(0.2)
    assert len(summary["grid"]) == 4 and summary["grid"][0]["post_valid_ppl"] == pytest.approx(2 ** 9.0)
    jacobian = json.loads((out / "jacobian_depth.json").read_text())
    assert jacobian["config"]["depths"] == [1, 2] and len(jacobian["records"]) == 4
    record = next(r for r in jacobian["records"] if (r["norm"], r["depth"]) == ("prenorm", 2))
    means = summary["jacobian_depth_means"]["prenorm"]  # the study's means over seeds (here one seed)
    assert means["2"]["spectral_norm"] == pytest.approx(record["spectral_norm"]) and means["2"]["seeds"] == [0]
    assert sorted(p.name for p in out.glob("*.png")) == sorted(
        f"{stem}.png" for stem in ("grid_valid_ppl", "gradnorm_heatmaps", "gradnorm_heatmaps_main",
                                   "gradnorm_param_heatmaps", "gradnorm_param_heatmaps_main", "ratio_vs_steps",
                                   "ratio_param_vs_steps", "gradnorm_at_init", "loss_curves", "jacobian_vs_depth",
                                   "collapse_deep_vs_shallow"))


def test_summary_records_deep_against_shallow_at_the_collapse_setting(finished_study):
    """The study's collapse_contrast: both depths and norms at (3e-3, 0) with seeds 1-2, fake post-norm diverging
    there at either depth (so it did not train), the per-seed deep - shallow with its direction."""
    _, _, out = finished_study
    contrast = json.loads((out / "summary.json").read_text())["collapse_contrast"]
    assert (contrast["lr"], contrast["lr_text"], contrast["warmup_updates"], contrast["seeds"]) == (
        3e-3, "3e-3", 0, [1, 2])
    for depth in ("deep", "shallow"):
        for norm in ("post", "pre"):
            block = contrast[depth][norm]
            assert block["seeds"] == [1, 2] and block["missing_seeds"] == []
            assert [run["name"] for run in block["runs"]] == [f"{norm}norm_{depth}_lr3e-3_wu0_s{s}" for s in (1, 2)]
            assert {"grad_ratio_final", "grad_ratio_min", "first_update_grad_ratio_below_1e-3", "final_valid_loss",
                    "final_valid_ppl", "trained"} <= set(block["runs"][0])
    assert all(run["diverged"] and not run["trained"] for run in contrast["deep"]["post"]["runs"])
    assert contrast["deep"]["pre"]["runs"][1]["final_valid_loss"] == pytest.approx(7.9 + 0.1)
    assert contrast["deep"]["pre"]["runs"][0]["first_update_grad_ratio_below_1e-3"] is None
    pre = contrast["deep_minus_shallow"]["pre"]["valid_loss_bits"]
    assert pre["seeds"] == [1, 2] and pre["values"] == pytest.approx([7.9 - 7.9, 8.0 - 8.0])
    ratio = contrast["deep_minus_shallow"]["pre"]["log10_grad_ratio_final"]
    assert ratio["n"] == 2 and ratio["values"] == pytest.approx([0.0, 0.0])  # the fake writes the same r


def test_redraw_of_a_study_without_the_collapse_runs(finished_study, tmp_path, monkeypatch, capsys):
    """An older study (the grid, the main contrast, no collapse runs): --summary-only still writes the summary,
    with the collapse runs' seeds missing, and the redraw leaves their figure out with a log line."""
    tmp, _, out = finished_study
    old = tmp_path / "results"
    shutil.copytree(out.parent, old)
    for name in COLLAPSE_RUNS:  # those of seeds 1-2 exist
        (old / f"prenorm/runs/{name}.json").unlink(missing_ok=True)
    (old / "prenorm/collapse_deep_vs_shallow.png").unlink()
    monkeypatch.setenv("RESULTS_DIR", str(old))
    argv = ["--data-bin", str(tmp / "bin"), "--lrs", "1e-3", "3e-3", "--warmups", "0", "5", "--seeds", "1", "2"]
    assert main(redraw.run, redraw.RedrawConfig, [*argv, "--summary-only"]) == 0
    assert "no record of 6 of the collapse runs (3e-3:0), left out" in capsys.readouterr().err
    summary = json.loads((old / "prenorm/summary.json").read_text())
    first = json.loads((out / "summary.json").read_text())
    assert [e["name"] for e in summary["runs"]] == [e["name"] for e in first["runs"]][:12]
    assert summary["main_contrast"] == first["main_contrast"]
    contrast = summary["collapse_contrast"]
    assert contrast["shallow"]["post"]["missing_seeds"] == [1, 2] and contrast["shallow"]["post"]["runs"] == []
    assert contrast["deep"]["post"]["seeds"] == [1] and contrast["deep"]["post"]["missing_seeds"] == [2]
    assert contrast["deep_minus_shallow"]["post"]["valid_loss_bits"]["direction"] is None
    assert main(redraw.run, redraw.RedrawConfig, argv) == 0
    assert "collapse_deep_vs_shallow.png: not drawn" in capsys.readouterr().err
    assert not (old / "prenorm/collapse_deep_vs_shallow.png").exists() and (old / "prenorm/loss_curves.png").exists()
    assert main(redraw.run, redraw.RedrawConfig, [*argv, "--collapse-setting", "None", "--summary-only"]) == 0
    assert json.loads((old / "prenorm/summary.json").read_text())["collapse_contrast"] is None


def test_warmup_contrast_sets_no_warmup_against_the_longest_per_learning_rate():
    from nlp_experiments.prenorm.summary import warmup_contrast

    def entry(lr, warmup, loss, norm="post", seed=1):
        return {"norm": norm, "depth": "deep", "seed": seed, "lr": lr, "warmup_updates": warmup,
                "final_valid_loss": loss}

    contrast = warmup_contrast([entry(1e-3, 0, 9.0), entry(1e-3, 200, 8.9), entry(1e-3, 1000, 8.5),
                                entry(3e-3, 0, 8.0), entry(3e-3, 1000, 8.5), entry(3e-3, 0, 7.0, "pre"),
                                entry(1e-3, 0, 5.0, seed=2)])
    assert [(c["lr"], c["warmup_without"], c["warmup_with"], c["without_minus_with_bits"]["direction"])
            for c in contrast] == [(1e-3, 0, 1000, "higher"), (3e-3, 0, 1000, "lower")]
    assert contrast[0]["without_minus_with_bits"]["values"] == pytest.approx([0.5])


def test_jacobian_means_average_each_norm_and_depth_over_seeds():
    from nlp_experiments.prenorm.summary import jacobian_means

    def record(norm, depth, seed, value):
        return {"norm": norm, "depth": depth, "seed": seed, "spectral_norm": value, "rms_singular_value": 1.0,
                "min_singular_value": value / 10, "distance_from_identity": 0.5}

    means = jacobian_means([record("prenorm", 1, 0, 1.0), record("prenorm", 1, 1, 3.0),
                            record("postnorm", 1, 0, 2.0), record("prenorm", 4, 0, 5.0)])
    assert means["prenorm"]["1"] == {"seeds": [0, 1], "spectral_norm": 2.0, "rms_singular_value": 1.0,
                                     "min_singular_value": pytest.approx(0.2), "distance_from_identity": 0.5}
    assert means["prenorm"]["max_min_singular_value"] == 0.5 and set(means["postnorm"]) == {
        "1", "max_min_singular_value"}


def test_study_resumes_run_by_run_and_redraw_gives_the_same_summary(finished_study, wikitext, monkeypatch):
    """Again: every run and the Jacobian analysis are skipped (their records exist); a deleted record is redone.
    The redraw gives the same summary from the records alone."""
    tmp, _, out = finished_study
    monkeypatch.setenv("RESULTS_DIR", str(tmp / "results"))
    drawn = []
    monkeypatch.setattr(report, "save_study_figures", lambda *args: drawn.append(args))
    fake = FakeFairseq()
    monkeypatch.setattr(training, "run_logged", fake)
    first = json.loads((out / "summary.json").read_text())
    jacobian = (out / "jacobian_depth.json").read_text()
    (out / "runs/prenorm_shallow_lr1e-3_wu5_s1.json").unlink()
    assert main(study.run, study.StudyConfig, study_argv(tmp, wikitext)) == 0
    assert fake.trained == ["prenorm_shallow_lr1e-3_wu5_s1"] and (out / "jacobian_depth.json").read_text() == jacobian
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["main_contrast"] == first["main_contrast"] and resumed["grid"] == first["grid"]
    argv = ["--data-bin", str(tmp / "bin"), "--runs-dir", str(tmp / "runs"), "--lrs", "1e-3", "3e-3",
            "--warmups", "0", "5", "--seeds", "1", "2"]
    assert main(redraw.run, redraw.RedrawConfig, argv) == 0
    redrawn = json.loads((out / "summary.json").read_text())
    for summary in (resumed, redrawn):
        summary.pop("created_utc"), summary.pop("git_revision")
    assert redrawn == resumed
    assert len(drawn) == 2 and [r["name"] for r in drawn[1][0]] == [e["name"] for e in redrawn["runs"]]
    assert drawn[1][1] == redrawn["runs"] and drawn[1][3] == ("1e-3", 5)  # entries, main setting


def test_missing_or_broken_files_fail_naming_them(finished_study, wikitext, tmp_path, monkeypatch, capsys):
    tmp, _, out = finished_study
    root = out.parent
    with pytest.raises(DataError, match="runs/nowhere_deep_lr1e-3_wu0_s1.json: missing"):
        load_run("nowhere_deep_lr1e-3_wu0_s1", root)
    broken = tmp_path / "results"
    shutil.copytree(root, broken)
    series = broken / "prenorm/series/prenorm_deep_lr1e-3_wu5_s1.json"
    series.write_text("{not json")
    with pytest.raises(DataError, match="series/prenorm_deep_lr1e-3_wu5_s1.json: broken series file"):
        load_run("prenorm_deep_lr1e-3_wu5_s1", broken)
    # through the runner: one line naming the file, exit status 1
    monkeypatch.setenv("RESULTS_DIR", str(broken))
    argv = ["--data-bin", str(tmp / "bin"), "--lrs", "1e-3", "3e-3", "--warmups", "0", "5", "--seeds", "1", "2"]
    assert main(redraw.run, redraw.RedrawConfig, argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith(f"error: {series}: broken series")
    series.unlink()
    (broken / "prenorm/jacobian_depth.json").unlink()
    assert main(redraw.run, redraw.RedrawConfig, argv) == 1
    assert capsys.readouterr().err.strip().endswith(f"{series}: missing (series file of run {series.stem})")
    shutil.copy(out / "series/prenorm_deep_lr1e-3_wu5_s1.json", series)
    assert main(redraw.run, redraw.RedrawConfig, argv) == 1
    assert "jacobian_depth.json: missing" in capsys.readouterr().err
    assert main(redraw.run, redraw.RedrawConfig, [*argv[:1], str(tmp_path / "no_bin"), *argv[2:]]) == 1
    assert "no_bin/dict.txt: missing" in capsys.readouterr().err
    # a run folder without its gradient records, or with a broken line, is not recorded
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "r"))
    ctx = Context(config=parse_config(study.StudyConfig, []), device="cpu")
    run_dir = tmp_path / "run"
    shutil.copytree(tmp / "runs/prenorm_deep_lr1e-3_wu5_s1", run_dir)
    (run_dir / "gradnorm.jsonl").write_text('{"step": 0}\n{not json\n')
    with pytest.raises(DataError, match=r"run/gradnorm.jsonl:2: broken gradient-norm record"):
        record_run(run_dir, ctx)
    (run_dir / "gradnorm.jsonl").unlink()
    with pytest.raises(DataError, match=r"run/gradnorm.jsonl: missing"):
        record_run(run_dir, ctx)
    (run_dir / "meta.json").unlink()
    with pytest.raises(DataError, match=r"run/meta.json: missing"):
        record_run(run_dir, ctx)
    assert not (tmp_path / "r").exists()


def fake_run_dir(path: Path, exit_code: int, ending: str = "", losses: tuple[str, str] = ("7", "8.5")) -> Path:
    """A run folder as the study leaves it: meta.json with ``exit_code``, gradient records and a log whose last
    training / validation losses are ``losses`` (fairseq's json log writes numbers with ``"{:g}"``: ``nan``,
    ``inf``) and that ends with ``ending``."""
    path.mkdir(parents=True)
    fake_run_files(path / "gradnorm.jsonl", path / "train.log", 2, "3e-3", 20, 8.5, ending)
    log = (path / "train.log").read_text()
    (path / "train.log").write_text(log.replace('"loss": "7.0"', f'"loss": "{losses[0]}"')
                                    .replace('"valid_loss": "8.5"', f'"valid_loss": "{losses[1]}"'))
    meta = {"name": "postnorm_deep_lr3e-3_wu0_s1", "norm": "postnorm", "depth": "deep", "warmup_updates": 0,
            "exit_code": exit_code, "wall_time_s": 1.0, "seed": 1, "lr": 3e-3, "max_update": 20}
    (path / "meta.json").write_text(json.dumps(meta))
    return path


@pytest.mark.parametrize("exit_code, ending, losses, diverged", [
    (0, "", ("7", "8.5"), False),  # trained to the end
    (1, NAN_STOP, ("7", "8.5"), True),  # fairseq-train stopped it: gradients are Nan/Inf
    (1, "FloatingPointError: Minimum loss scale reached (0.0001). Your loss is probably exploding.", ("7", "8.5"),
     True),  # --fp16: the loss scale ran out
    (0, "", ("nan", "nan"), True),  # a non-finite loss in the log, whatever the exit status
    (0, "", ("7", "inf"), True),
])
def test_diverged_only_on_non_finite_loss_or_fairseq_stop(tmp_path, monkeypatch, exit_code, ending, losses,
                                                           diverged):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    ctx = Context(config=parse_config(study.StudyConfig, []), device="cpu")
    record = json.loads(record_run(fake_run_dir(tmp_path / "run", exit_code, ending, losses), ctx).read_text())
    assert record["diverged"] is diverged and record["exit_code"] == exit_code


@pytest.mark.parametrize("exit_code, ending, message", [
    (1, OOM_STOP, r"failed \(exit 1\) without diverging"),  # out of memory: not a result
    (1, "ModuleNotFoundError: No module named 'fairseq_ext.criterions.typo'", "without diverging"),  # a bug
    (1, "FloatingPointError: Fatal error: gradients are inconsistent between workers.", "without diverging"),
    (0, "", "ended without validating"),
])
def test_a_crash_is_not_a_result(tmp_path, monkeypatch, exit_code, ending, message):
    """Any other failure stops the study with the log's tail, and nothing is recorded."""
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    ctx = Context(config=parse_config(study.StudyConfig, []), device="cpu")
    run_dir = fake_run_dir(tmp_path / "run", exit_code, ending)
    if not ending:  # a log without its validation
        log = run_dir / "train.log"
        log.write_text("".join(line for line in log.read_text().splitlines(True) if " | valid | " not in line))
    with pytest.raises(FailedRun, match=message) as error:
        record_run(run_dir, ctx)
    assert str(error.value).endswith("\n" + "\n".join((run_dir / "train.log").read_text().splitlines()[-20:]))
    assert not (tmp_path / "results").exists()


def test_a_failing_run_stops_the_study_after_the_runs_going(wikitext, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    fake = FakeFairseq()
    fake.broken = {"postnorm_deep_lr1e-3_wu5_s1"}
    monkeypatch.setattr(training, "run_logged", fake)
    argv = study_argv(tmp_path, wikitext) + ["--jobs", "1"]
    assert main(study.run, study.StudyConfig, argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "postnorm_deep_lr1e-3_wu5_s1/gradnorm.jsonl:2: broken" in err.splitlines()[-1]
    assert fake.trained == ["postnorm_deep_lr1e-3_wu0_s1", "prenorm_deep_lr1e-3_wu0_s1", "postnorm_deep_lr1e-3_wu5_s1"]
    assert sorted(p.stem for p in (tmp_path / "results/prenorm/runs").glob("*.json")) == [
        "postnorm_deep_lr1e-3_wu0_s1", "prenorm_deep_lr1e-3_wu0_s1"]


def test_a_run_out_of_memory_stops_the_study_with_its_log_tail(wikitext, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    fake = FakeFairseq()
    fake.crashed = {"prenorm_deep_lr1e-3_wu0_s1"}
    monkeypatch.setattr(training, "run_logged", fake)
    assert main(study.run, study.StudyConfig, study_argv(tmp_path, wikitext) + ["--jobs", "1"]) == 1
    err = capsys.readouterr().err
    assert "prenorm_deep_lr1e-3_wu0_s1/train.log: fairseq-train failed (exit 1) without diverging" in err
    assert err.rstrip().endswith("RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert fake.trained == ["postnorm_deep_lr1e-3_wu0_s1", "prenorm_deep_lr1e-3_wu0_s1"]
    assert [p.stem for p in (tmp_path / "results/prenorm/runs").glob("*.json")] == ["postnorm_deep_lr1e-3_wu0_s1"]


def test_missing_wikitext_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    argv = ["--data-dir", str(tmp_path), "--runs-dir", str(tmp_path / "runs"), "--device", "cpu"]
    assert main(study.run, study.StudyConfig, argv) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: {tmp_path}/wikitext-2: WikiText-2 folder not found; run scripts/get_data.sh or set DATA_DIR "
        "(or --data-dir) to a data root that contains it")


def test_main_setting_ignores_missing_cells_and_ties():
    runs = [{"depth": "deep", "seed": 1, "lr_text": lr, "warmup_updates": w, "norm": n, "diverged": False,
             "final_valid_loss": loss} for lr, w, n, loss in (("1e-3", 0, "postnorm", 9.0), ("1e-3", 0, "prenorm", 8.0),
                                                             ("3e-3", 0, "prenorm", 7.0))]
    assert choose_main_setting(runs) == ("1e-3", 0)  # (3e-3, 0) has no post-norm run: its worse is infinite
    with pytest.raises(DataError, match="no deep seed-1 run"):
        choose_main_setting([{**runs[0], "seed": 2}])


@pytest.mark.slow
def test_script_quick_runs_the_study(tmp_path):
    """``bash scripts/prenorm_study.sh --quick``, the README's command, on a tiny WikiText-2 (real fairseq)."""
    rng = random.Random(0)
    words = [f"w{i}" for i in range(10_500)]
    (tmp_path / "data/wikitext-2").mkdir(parents=True)
    text = "\n".join(" ".join(words[i:i + 12]) for i in range(0, len(words), 12)) + "\n"
    (tmp_path / "data/wikitext-2/train.txt").write_text(text)
    for split in ("valid", "test"):
        (tmp_path / f"data/wikitext-2/{split}.txt").write_text(" ".join(rng.choices(words, k=200)) + "\n")
    proc = subprocess.run(
        ["bash", "scripts/prenorm_study.sh", "--quick", "--data-bin", str(tmp_path / "bin"), "--runs-dir",
         str(tmp_path / "runs"), "--tokens-per-sample", "16", "--batch-size", "2", "--max-update", "4",
         "--warmups", "0", "--seeds", "1", "--jacobian-depths", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "DATA_DIR": str(tmp_path / "data"), "PY": sys.executable, "OMP_NUM_THREADS": "1",
             "RESULTS_DIR": str(tmp_path / "results")})  # else --quick: runs/quick/results of the repository
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "results/prenorm"
    summary = json.loads((out / "summary.json").read_text())
    assert [e["name"] for e in summary["runs"]] == [
        "postnorm_deep_lr3e-3_wu0_s1", "prenorm_deep_lr3e-3_wu0_s1", "postnorm_shallow_lr3e-3_wu0_s1",
        "prenorm_shallow_lr3e-3_wu0_s1"]
    assert all(e["updates"] == 4 and e["exit_code"] == 0 for e in summary["runs"])
    assert summary["collapse_contrast"]["shallow"]["post"]["seeds"] == [1]  # the main setting is the collapse one
    assert len(list(out.glob("*.png"))) == 11 and (out / "collapse_deep_vs_shallow.png").is_file()


def test_figures_show_the_records(finished_study):
    """The plot functions on the study's records: the grid figure's points are the final perplexities, a
    heat map is layers x logged updates, panel (b) adds the no-warm-up runs' last probe."""
    import matplotlib.pyplot as plt

    from nlp_experiments.prenorm import figures
    from nlp_experiments.prenorm.plan import study_runs
    from nlp_experiments.prenorm.summary import summarize_run

    _, _, out = finished_study
    config = parse_config(study.StudyConfig, ["--lrs", "1e-3", "3e-3", "--warmups", "0", "5", "--seeds", "1", "2"])
    runs = [load_run(name, out.parent) for name in names(study_runs(config, ("1e-3", 5)))]
    entries = [summarize_run(run, 1.0, 300.0) for run in runs]
    fig = figures.plot_grid(entries, runs, 1.0)
    lines = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].get_lines()}
    assert lines["pre-norm, LR 1e-3"] == pytest.approx([2 ** 8.1, 2 ** 8.0])
    assert lines["post-norm, LR 3e-3"] == pytest.approx([2 ** 11.0, 2 ** 10.0])
    plt.close(fig)
    (grid, labels), _ = figures.heatmap_grids(runs, ("1e-3", 5))
    fig = figures.plot_heatmaps(grid, labels, "grad_x", "t")
    assert labels == ["post, LR 1e-3", "pre, LR 1e-3", "post, LR 3e-3", "pre, LR 3e-3"]
    assert fig.axes[0].get_images()[0].get_array().shape == (5, 3)  # x_0..x_4 x updates 0, 10, 20
    plt.close(fig)
    toy = report.load_jacobian_records(out.parent)
    fig = figures.plot_jacobian_vs_depth(toy, runs, ("1e-3", 5))
    assert [line.get_label() for line in fig.axes[1].get_lines()] == [
        "post-norm, warm-up 5, update 0", "post-norm, warm-up 5, update 20", "pre-norm, warm-up 5, update 0",
        "pre-norm, warm-up 5, update 20", "post-norm, no warm-up, update 20", "pre-norm, no warm-up, update 20"]
    plt.close(fig)


def test_loss_curves_legends_say_in_words_what_markers_and_lines_are(finished_study):
    """Every marker shape of the validation points has a legend entry naming its warm-up length (from the runs),
    the one reference line is the unigram model's, with its level in bits/token and perplexity in the first
    legend, and no title carries a marker code; each panel's legend sits below its axes, off the curves."""
    import matplotlib.pyplot as plt

    from nlp_experiments.prenorm import figures
    from nlp_experiments.prenorm.plan import study_runs
    from nlp_experiments.prenorm.summary import summarize_run

    _, _, out = finished_study
    config = parse_config(study.StudyConfig, ["--lrs", "1e-3", "3e-3", "--warmups", "0", "5", "--seeds", "1", "2"])
    runs = [load_run(name, out.parent) for name in names(study_runs(config, ("1e-3", 5)))]
    fig = figures.plot_loss_curves(runs, ("1e-3", 5), 10.0)
    legends = [[text.get_text() for text in ax.get_legend().get_texts()] for ax in fig.axes]
    assert legends[0] == ["post-norm, no warm-up", "pre-norm, no warm-up", "post-norm, warm-up 5",
                          "pre-norm, warm-up 5", "validation, no warm-up", "validation, warm-up 5",
                          "unigram model\n(10.00 bits/token, perplexity 1024)"]
    assert legends[2][-2:] == ["validation, warm-up 5", "unigram model"]
    assert legends[1] == legends[0][:-1] + ["unigram model"]  # same runs but the LR, which the panel title names
    assert not any("perplexity 256" in text or "300" in text for legend in legends for text in legend)
    for ax in fig.axes:  # a marker's legend entry has that marker; the points of that warm-up use it
        markers = {line.get_label(): line.get_marker() for line in ax.get_lines()}
        points = {line.get_marker() for line in ax.get_lines() if line.get_linestyle() == "None" and
                  len(line.get_xdata())}
        assert {markers[label] for label in markers if label.startswith("validation")} == points
    assert len({line.get_marker() for line in fig.axes[0].get_lines() if line.get_label().startswith("valid")}) == 2
    fig.draw_without_rendering()
    assert all(ax.get_legend().get_window_extent().y1 <= ax.get_window_extent().y0 for ax in fig.axes)
    assert not any("o/s" in ax.get_title() or "^" in ax.get_title() for ax in fig.axes)
    plt.close(fig)
    fig = figures.plot_grid([summarize_run(run, 1.0, 256.0) for run in runs], runs, 1.0)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][-1] == (
        "unigram model (1.00 bits/token, perplexity 2)")
    plt.close(fig)


def test_trained_is_the_validation_loss_below_the_unigram_models_not_the_gradient_ratio():
    """A run has trained when its final validation loss is below the training text's unigram model scored on the
    validation text (the entropy of dict.txt when that level is not given); the gradient ratio r it measures plays
    no part, so "r collapses where training fails" is a finding, not a definition."""
    from nlp_experiments.prenorm.summary import summarize_run

    def run(valid, ratio, diverged=False):
        return {"name": "r", "norm": "postnorm", "depth": "deep", "layers": 12, "warmup_updates": 0, "lr": 3e-3,
                "seed": 1, "updates": 20, "max_update": 20, "tokens_seen": 1, "final_train_loss": valid,
                "final_valid_loss": valid, "best_valid_loss": valid, "diverged": diverged,
                "series": {"step": [0, 10], "ratio_x": [1.0, ratio]}, "grad_ratio_init": 1.0,
                "grad_ratio_final": ratio, "grad_ratio_min": ratio, "grad_ratio_max": 1.0,
                "param_grad_ratio_init": 1.0, "param_grad_ratio_final": 1.0, "wall_time_s": 1.0, "device": "cpu",
                "exit_code": 0, "git_revision": "x"}

    at_unigram = summarize_run(run(9.915, 0.5), 10.34, 300.0, unigram_valid_bits=9.9145)
    assert not at_unigram["trains"] and at_unigram["failed_to_train"]  # r of order one, yet not trained
    collapsed = summarize_run(run(9.1, 1e-7), 10.34, 300.0, unigram_valid_bits=9.9145)
    assert collapsed["trains"] and not collapsed["failed_to_train"]  # r collapsed at the end, yet trained
    assert summarize_run(run(9.915, 0.5), 10.34, 300.0)["trains"]  # without the level: the dict.txt entropy
    assert not summarize_run(run(9.0, 0.5, diverged=True), 10.34, 300.0, unigram_valid_bits=9.9145)["trains"]
