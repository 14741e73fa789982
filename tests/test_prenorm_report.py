"""The study's records, figures and summary are made from run files; here from tiny synthetic ones."""
import json

import pytest

from fairseq_ext.analysis import prenorm_report
from mvadl.data.errors import DataError


def write_run(folder, norm, depth, lr, warmup, seed, layers, exit_code=0, final_valid=8.0):
    """A run folder as scripts/prenorm_study.sh leaves it: meta.json, gradnorm.jsonl, train.log."""
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({
        "name": folder.name, "norm": norm, "depth": depth, "warmup_updates": warmup, "exit_code": exit_code,
        "wall_time_s": 1.5, "seed": seed, "lr": float(lr), "max_update": 20, "tokens_per_sample": 8,
        "batch_size": 2}))
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
    (folder / "gradnorm.jsonl").write_text("\n".join(lines) + "\n")
    log = ["2026 | INFO | fairseq_cli.train | {'_name': None, 'common': {'seed': 1}, 'model': {'_name': 'x', "
           "'activation_fn': relu, 'decoder_layers': %d}, 'optimization': {'max_update': 20, 'lr': [%s]}}"
           % (layers, lr)]
    log += [f'2026 | INFO | train_inner | {{"loss": "{9 - u / 10}", "num_updates": "{u}", "wpb": "16", '
            f'"lr": "0.001"}}' for u in (10, 20)]
    log.append(f'2026 | INFO | valid | {{"valid_loss": "{final_valid}", "valid_num_updates": "20"}}')
    (folder / "train.log").write_text("\n".join(log) + "\n")


@pytest.fixture()
def study(tmp_path, monkeypatch):
    """Records of a 2 x 2 deep grid, a second seed at (1e-3, 5) and the shallow pair, in a temporary RESULTS_DIR."""
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    runs, names = tmp_path / "runs", []
    valid = {("postnorm", "1e-3", 0): 9.0, ("postnorm", "1e-3", 5): 8.2, ("postnorm", "3e-3", 0): 11.0,
             ("postnorm", "3e-3", 5): 10.0, ("prenorm", "1e-3", 0): 8.1, ("prenorm", "1e-3", 5): 8.0,
             ("prenorm", "3e-3", 0): 7.9, ("prenorm", "3e-3", 5): 7.8}
    specs = [(n, "deep", lr, w, 1, 4) for (n, lr, w) in valid] + \
            [(n, "deep", "1e-3", 5, 2, 4) for n in ("postnorm", "prenorm")] + \
            [(n, "shallow", "1e-3", 5, 1, 2) for n in ("postnorm", "prenorm")]
    for norm, depth, lr, warmup, seed, layers in specs:
        name = f"{norm}_{depth}_lr{lr}_wu{warmup}_s{seed}"
        write_run(runs / name, norm, depth, lr, warmup, seed, layers,
                  exit_code=1 if (norm, lr, warmup) == ("postnorm", "3e-3", 0) else 0,
                  final_valid=valid.get((norm, lr, warmup), 8.5) + 0.1 * (seed - 1))
        prenorm_report.record_run(runs / name)
        names.append(name)
    return tmp_path, names


def test_record_run_writes_provenance_and_compact_series(study):
    root, names = study
    record = json.loads((root / "results/prenorm/runs/prenorm_deep_lr1e-3_wu5_s1.json").read_text())
    assert record["seed"] == 1 and record["wall_time_s"] == 1.5 and "git_revision" in record
    assert record["config"]["lr"] == 1e-3 and record["config"]["fairseq"]["model"]["decoder_layers"] == 4
    assert record["updates"] == 20 and record["tokens_seen"] == 320 and record["final_valid_loss"] == 8.0
    text = (root / "results/prenorm" / record["series_file"]).read_text()
    assert "\n" not in text.strip() and ", " not in text  # compact
    series = json.loads(text)
    assert series["step"] == [0, 10, 20] and len(series["grad_x"][0]) == 5 and series["jacobian"]["step"] == [0, 20]
    assert series["valid"] == {"update": [20], "loss": [8.0]}


def test_main_setting_is_the_best_common_cell(study):
    _, names = study
    runs = [prenorm_report.load_run(n) for n in names]
    assert prenorm_report.choose_main_setting(runs) == ("1e-3", 5)  # max(8.2, 8.0) is the lowest worse-of-two


def test_report_writes_summary_and_figures(study):
    root, names = study
    out = root / "figures"
    docs = root / "doc.md"
    docs.write_text(f"intro\n{prenorm_report.DOCS_BEGIN}\nold table\n{prenorm_report.DOCS_END}\noutro\n")
    prenorm_report.main(prenorm_report.parse_args(["--runs", *names, "--dict", str(root / "missing_dict.txt"),
                                                   "--out-dir", str(out), "--quick", "--docs", str(docs)]))
    text = docs.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    assert "| 1e-3 | 5 | 294 | 256 |" in text  # grid row: 2**8.2, 2**8.0
    assert (out / "tables.md").read_text() in text
    summary = json.loads((root / "results" / "prenorm" / "summary.json").read_text())
    assert len(summary["runs"]) == len(names)
    entry = {e["name"]: e for e in summary["runs"]}
    assert entry["postnorm_deep_lr3e-3_wu0_s1"]["diverged"] and not entry["prenorm_deep_lr3e-3_wu0_s1"]["diverged"]
    e = entry["prenorm_deep_lr1e-3_wu5_s1"]
    assert e["final_valid_ppl"] == pytest.approx(2 ** 8.0) and e["layers"] == 4 and e["updates"] == 20
    assert e["lr"] == 1e-3 and e["seed"] == 1 and e["tokens_seen"] == 320 and e["norm"] == "pre"
    assert summary["main_setting"] == {"lr": 1e-3, "warmup_updates": 5}
    contrast = summary["main_contrast"]
    assert contrast["post"]["seeds"] == [1, 2] and contrast["post"]["final_valid_loss"] == pytest.approx([8.2, 8.3])
    assert contrast["post_minus_pre_bits"]["mean"] == pytest.approx(0.2)
    assert len(summary["grid"]) == 4 and summary["grid"][0]["post_valid_ppl"] == pytest.approx(2 ** 9.0)
    for name in ("gradnorm_heatmaps", "gradnorm_param_heatmaps", "gradnorm_heatmaps_main", "ratio_vs_steps",
                 "gradnorm_at_init", "loss_curves", "jacobian_vs_depth", "grid_valid_ppl"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert (root / "results" / "prenorm" / "jacobian_depth.json").exists()


def test_missing_or_broken_run_file_fails_naming_it(study, capsys):
    root, names = study
    with pytest.raises(DataError, match="runs/nowhere_deep_lr1e-3_wu0_s1.json"):
        prenorm_report.load_run("nowhere_deep_lr1e-3_wu0_s1")
    series = root / "results/prenorm/series/prenorm_deep_lr1e-3_wu5_s1.json"
    series.write_text("{not json")
    with pytest.raises(DataError, match="series/prenorm_deep_lr1e-3_wu5_s1.json"):
        prenorm_report.load_run("prenorm_deep_lr1e-3_wu5_s1")
    # through the command line: one line, exit status 1
    import sys
    from mvadl.cli import run_cli
    argv = sys.argv
    sys.argv = ["prenorm_report", "--runs", *names, "--out-dir", str(root / "f")]
    try:
        assert run_cli(prenorm_report.main, prenorm_report.parse_args) == 1
    finally:
        sys.argv = argv
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "prenorm_deep_lr1e-3_wu5_s1.json" in err[0]


def test_unigram_entropy(tmp_path):
    (tmp_path / "dict.txt").write_text("a 1\nb 1\nc 1\nd 1\n")
    assert prenorm_report.unigram_entropy_bits(tmp_path / "dict.txt") == pytest.approx(2.0)
