"""The shared runner: options from the config dataclass, --quick overrides, seeds, the error boundary."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from mvadl.data import DataError
from mvadl.runner import Context, ExperimentConfig, main, option, parse_config
from mvadl.seeding import derive_seed


@dataclass
class ToyConfig(ExperimentConfig):
    """Toy experiment.

    Longer description.
    """

    epochs: int = option(80, "total epochs")
    hidden: list[int] = option([1024, 1024], "hidden widths")
    lr: float = option(1e-3, "learning rate")
    name: str = option("metrics", "results name", choices=["metrics", "other"])
    subset: int | None = option(None, "first N images only")
    figures: bool = option(True, "draw figures")
    QUICK: ClassVar[dict] = {"epochs": 2, "hidden": [8]}


def test_options_come_from_the_dataclass():
    config = parse_config(ToyConfig, ["--epochs", "5", "--hidden", "3", "4", "--no-figures", "--subset", "7"])
    assert config == ToyConfig(epochs=5, hidden=[3, 4], figures=False, subset=7)
    assert parse_config(ToyConfig, []) == ToyConfig()
    with pytest.raises(SystemExit):
        parse_config(ToyConfig, ["--name", "nope"])


def test_quick_overrides_defaults_but_not_explicit_options():
    assert parse_config(ToyConfig, ["--quick"]) == ToyConfig(quick=True, epochs=2, hidden=[8])
    assert parse_config(ToyConfig, ["--quick", "--epochs", "3"]).epochs == 3


def test_help_lists_defaults(capsys):
    with pytest.raises(SystemExit):
        parse_config(ToyConfig, ["--help"], prog="toy")
    out = capsys.readouterr().out
    assert "usage: toy" in out and "total epochs (default: 80)" in out and "(default: 1024 1024)" in out


def test_main_runs_with_context_and_maps_data_errors(capsys):
    seen = {}

    def run(config: ToyConfig, ctx: Context):
        seen["device"], seen["seed"] = ctx.device.type, ctx.seed("epoch", 1)
        return 3

    assert main(run, ToyConfig, ["--seed", "4", "--device", "cpu"]) == 3
    assert seen == {"device": "cpu", "seed": derive_seed(4, "epoch", 1)}

    def broken(config, ctx):
        raise DataError("data/mnist: MNIST folder not found")

    assert main(broken, ToyConfig, []) == 1
    assert capsys.readouterr().err == "error: data/mnist: MNIST folder not found\n"


def test_bugs_keep_their_traceback():
    def buggy(config, ctx):
        raise FileNotFoundError("a bug, not bad input")

    with pytest.raises(FileNotFoundError):
        main(buggy, ToyConfig, [])


def test_derive_seed_is_stable_and_separates_streams():
    assert derive_seed(5) == 5
    assert derive_seed(0, "epoch", 1) == derive_seed(0, "epoch", 1) != derive_seed(0, "epoch", 2)
    assert derive_seed(0, "epoch", 1) != derive_seed(1, "epoch", 1)
    assert derive_seed(0, "epoch", 1) == 3489776262458619241  # fixed forever: resumed runs rely on it
    with pytest.raises(TypeError):
        derive_seed(0, 1.5)


@dataclass
class CheckedConfig(ExperimentConfig):
    epochs: int = option(1, "epochs")

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError(f"--epochs must be >= 1, got {self.epochs}")


def test_invalid_values_are_one_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_config(CheckedConfig, ["--epochs", "0"], prog="toy")
    assert exit_info.value.code == 2
    assert "toy: error: --epochs must be >= 1, got 0" in capsys.readouterr().err
