import subprocess
import sys

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


def test_entry_point_reports_missing_data_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "vae_diffusion.vae.train", "--quick", "--data-dir", str(tmp_path),
                           "--checkpoint-dir", str(tmp_path / "ck"), "--log-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, env={"RESULTS_DIR": str(tmp_path / "results"),
                                                               "PATH": "/usr/bin:/bin"}, timeout=300)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 'mnist'}: MNIST folder not found; run scripts/get_data.sh or set DATA_DIR "
        "(or --data-dir) to a data root that contains it")
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()
