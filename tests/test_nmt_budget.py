"""How the translation models spend their budget: checkpoint averaging and the throughput / learning-rate study."""
from __future__ import annotations

import argparse
import json
import sys

import pytest
import torch

from mvadl.data import DataError
from nlp_experiments.translation.averaging import AVERAGED, average_last, interval_checkpoints, load_checkpoint
from nlp_experiments.translation.budget import parse_layout, parse_recipe, steady_wps
from tests.nmt_toy_corpus import run_command

pytest_plugins = ["tests.nmt_toy_corpus"]


def save_checkpoint(path, weight: float, step: int):
    torch.save({"model": {"w": torch.full((2, 2), weight), "steps": torch.tensor(step)},
                "args": argparse.Namespace(arch="toy"), "optimizer_history": [{"num_updates": step}]}, path)


def test_average_of_the_last_interval_checkpoints(tmp_path):
    for epoch, updates, weight in ((1, 200, 9.0), (1, 400, 1.0), (2, 600, 2.0), (3, 1000, 6.0)):
        save_checkpoint(tmp_path / f"checkpoint_{epoch}_{updates}.pt", weight, updates)
    save_checkpoint(tmp_path / "checkpoint_best.pt", 100.0, 0)  # not an interval checkpoint
    assert [u for u, _ in interval_checkpoints(tmp_path)] == [200, 400, 600, 1000]  # by updates, not by name

    assert average_last(tmp_path, 3) == [400, 600, 1000]
    state = load_checkpoint(tmp_path / AVERAGED)
    assert torch.equal(state["model"]["w"], torch.full((2, 2), 3.0))  # (1 + 2 + 6) / 3
    assert state["model"]["steps"].item() == 1000 and state["optimizer_history"][-1]["num_updates"] == 1000

    with pytest.raises(DataError, match=r"4 interval checkpoints .* 5 needed"):
        average_last(tmp_path, 5)
    torch.save({"model": {"other": torch.zeros(1)}}, tmp_path / "checkpoint_4_1200.pt")
    with pytest.raises(DataError, match="checkpoint_4_1200.pt: its parameters differ"):
        average_last(tmp_path, 2)


def test_layouts_and_steady_throughput(tmp_path):
    assert parse_layout("2x1") == (2, 1) and parse_layout("1X2") == (1, 2)
    assert parse_recipe("2e-3@2048") == (0.002, 2048)
    with pytest.raises(ValueError, match="recipe '2e-3': expected LR@MAX_TOKENS"):
        parse_recipe("2e-3")
    for bad in ("2", "0x1", "axb"):
        with pytest.raises(ValueError, match="layout"):
            parse_layout(bad)
    log = tmp_path / "train.log"
    log.write_text("".join(f'| INFO | train_inner | {{"epoch": 1, "num_updates": "{10 * i}", "wps": "{w}"}}\n'
                           for i, w in enumerate((100.0, 300.0, 500.0), 1))
                   + '| INFO | train | {"epoch": 1, "train_wps": "250"}\n')
    assert steady_wps(log) == 400.0  # the first interval (start-up) and the epoch summary left out
    log.write_text('| INFO | train_inner | {"epoch": 1, "num_updates": "10", "wps": "100"}\n')
    with pytest.raises(DataError, match="train.log: 1 log interval"):
        steady_wps(log)


@pytest.mark.slow
def test_budget_study_quick_on_the_toy_corpus(toy_data_bin, tmp_path):
    run_command([sys.executable, "-m", "nlp_experiments.translation.budget", "--quick", "--data-bin", str(toy_data_bin),
                 "--layouts", "2x1", "--batch-sizes", "300", "600", "--max-tokens", "600", "--recipes", "1e-3@600",
                 "--work-dir", str(tmp_path / "work")], {"RESULTS_DIR": str(tmp_path / "results")})
    record = json.loads((tmp_path / "results" / "nmt" / "budget.json").read_text())
    rows = record["metrics"]["throughput"]
    assert [(r["layout"], r["max_tokens"]) for r in rows] == [("2x1", 600), ("2x1", 300)]
    assert all(len(r["tokens_per_s_each"]) == 2 and r["tokens_per_s_total"] > 0 for r in rows)
    (recipe,) = record["metrics"]["recipes"]
    assert (recipe["lr"], recipe["max_tokens"], recipe["updates"]) == (1e-3, 600, 10)
    assert [v["updates"] for v in recipe["validation"]] == [5, 10]
    assert not any((tmp_path / "work").rglob("*.pt"))  # the measurement runs' checkpoints are removed


def test_budget_lists_are_parsed_and_checked_before_any_run(capsys):
    from mvadl.runner import main, parse_config
    from nlp_experiments.translation.budget import BudgetConfig
    from tests.conftest import usage_error

    config = parse_config(BudgetConfig, ["--layouts", "2x1", "1x2", "--batch-sizes", "300", "600", "--recipes"])
    assert config.layouts == ["2x1", "1x2"] and config.batch_sizes == [300, 600] and config.recipes == []
    for argv, message in ((["--layouts", "2x1", "axb"], "layout 'axb'"), (["--recipes", "2e-3"], "recipe '2e-3'"),
                          (["--batch-sizes", "300,600"], "Error parsing --batch-sizes")):
        assert message in usage_error(capsys, lambda argv=argv: main(lambda config, ctx: pytest.fail("ran"),
                                                                     BudgetConfig, argv))
