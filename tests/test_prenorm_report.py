"""The study's figures and summary are made from run files; here from tiny synthetic ones."""
import json

import pytest

from fairseq_ext.analysis import prenorm_report


def write_run(folder, norm, depth, warmup, layers, exit_code=0):
    folder.mkdir(parents=True)
    (folder / "meta.json").write_text(json.dumps({
        "name": folder.name, "norm": norm, "depth": depth, "warmup_updates": warmup, "exit_code": exit_code,
        "wall_time_s": 1.5, "seed": 1, "lr": 5e-3, "max_update": 20}))
    lines = []
    for step in (0, 10, 20):
        record = {"step": step, "loss": 9.0, "grad_x": [0.1 * (k + 1) for k in range(layers + 1)],
                  "grad_param": [0.0 if step else 0.2] + [0.3] * (layers - 1), "ratio_x": 0.5, "ratio_param": 0.1}
        if step:
            record["update_rel_total"] = 0.01
        if step in (0, 20):
            record["jacobian_rms"] = [1.5 - 0.1 * k for k in range(layers + 1)]
        lines.append(json.dumps(record))
    (folder / "gradnorm.jsonl").write_text("\n".join(lines) + "\n")
    log = [f'2026 | INFO | train_inner | {{"loss": "{9 - u / 10}", "num_updates": "{u}"}}' for u in (10, 20)]
    log.append('2026 | INFO | valid | {"valid_loss": "8.5", "valid_ppl": "362", "valid_num_updates": "20"}')
    (folder / "train.log").write_text("\n".join(log) + "\n")


def test_report_writes_summary_and_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    runs = tmp_path / "runs"
    for norm in ("postnorm", "prenorm"):
        for depth, layers in (("shallow", 2), ("deep", 4)):
            for warmup in (0, 5):
                write_run(runs / f"{norm}_{depth}_warmup{warmup}", norm, depth, warmup, layers,
                          exit_code=1 if (norm, depth, warmup) == ("postnorm", "deep", 0) else 0)
    (tmp_path / "dict.txt").write_text("a 50\nb 30\nc 20\n")
    out = tmp_path / "figures"
    prenorm_report.main(prenorm_report.parse_args(["--runs-dir", str(runs), "--dict", str(tmp_path / "dict.txt"),
                                                   "--out-dir", str(out), "--quick"]))
    summary = json.loads((tmp_path / "results" / "prenorm" / "summary.json").read_text())
    assert len(summary["runs"]) == 8
    entry = {e["name"]: e for e in summary["runs"]}
    assert entry["postnorm_deep_warmup0"]["diverged"] and not entry["prenorm_deep_warmup0"]["diverged"]
    assert entry["prenorm_deep_warmup5"]["final_valid_ppl"] == pytest.approx(2 ** 8.5)
    assert entry["prenorm_deep_warmup5"]["layers"] == 4 and entry["prenorm_deep_warmup5"]["updates"] == 20
    for name in ("gradnorm_heatmaps", "gradnorm_param_heatmaps", "ratio_vs_steps", "gradnorm_at_init",
                 "loss_curves", "jacobian_vs_depth"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert (tmp_path / "results" / "prenorm" / "jacobian_depth.json").exists()


def test_unigram_entropy(tmp_path):
    (tmp_path / "dict.txt").write_text("a 1\nb 1\nc 1\nd 1\n")
    assert prenorm_report.unigram_entropy_bits(tmp_path / "dict.txt") == pytest.approx(2.0)
