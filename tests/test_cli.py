import pytest

from mvadl.cli import run_cli
from mvadl.data import DataError


def test_run_cli_turns_data_errors_into_one_line(capsys):
    def main(args):
        raise DataError("data/mnist: MNIST folder not found")

    assert run_cli(main, lambda: None) == 1
    assert capsys.readouterr().err == "error: data/mnist: MNIST folder not found\n"


def test_run_cli_exit_status():
    assert run_cli(lambda args: 3, lambda: None) == 3
    assert run_cli(lambda args: {"test_elbo": -90.0}, lambda: None) == 0


def test_run_cli_lets_bugs_raise():
    def main(args):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_cli(main, lambda: None)
