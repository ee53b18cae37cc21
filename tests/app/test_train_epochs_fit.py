"""``cyclr train --epochs N`` fits whole cycles into the N epochs and says what it chose.

Issue 28, item 9: ``--epochs 3`` kept the default 4-epoch half cycle and stopped near the top
of the cycle. PyTorch, in process, the built-in MLP on the bundled digits (36 steps an epoch
at batch 32).
"""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from cli_helpers import read_csv

import cyclr
from cyclr.cli import main


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    return tmp_path


def _train(capsys, *extra):
    code = main(
        ["train", "--framework", "torch", "--model", "mlp", "--base-lr", "0.01", "--max-lr",
         "0.1", "--device", "cpu", *extra]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_three_epochs_are_one_whole_cycle_ending_at_base_lr(here, capsys):
    out = _train(capsys, "--epochs", "3", "--out", "run")
    rows = read_csv(here / "run" / "metrics.csv")
    summary = json.loads((here / "run" / "summary.json").read_text())
    config = json.loads((here / "run" / "config.json").read_text())
    # 3 epochs of 36 steps: one cycle of two 54-step halves (1.5 epochs each), not a
    # 4-epoch half cycle cut off near its top
    assert len(rows) == summary["steps"] == 108
    assert summary["step_size"] == config["step_size"] == 54
    assert summary["cycles"] == config["cycles"] == 1
    assert config["epochs_per_half_cycle"] == 1.5 and config["epochs"] == 3
    schedule = cyclr.CyclicSchedule(0.01, 0.1, 54)
    lrs = np.array([float(r["lr"]) for r in rows])
    np.testing.assert_allclose(lrs, schedule(np.arange(108)), rtol=1e-12)
    assert lrs.max() == pytest.approx(0.1) and lrs[-1] == pytest.approx(0.01 + 0.09 / 54)
    assert schedule(108) == pytest.approx(0.01)  # the next step would be at base_lr
    assert not any("cycle boundary" in check for check in summary["checks"])
    assert (
        "--epochs 3: 1 whole cycle, a half cycle of 54 steps (1.5 epochs; the default 4 "
        "epochs would end the run mid-cycle), ending at base_lr" in out
    )


def test_epochs_that_do_not_split_evenly_end_the_last_epoch_early(here, capsys):
    # batch 40: 29 steps an epoch, 87 in 3 epochs; one cycle of 2 x 43 steps ends a step early
    out = _train(capsys, "--epochs", "3", "--batch-size", "40", "--out", "run")
    summary = json.loads((here / "run" / "summary.json").read_text())
    assert summary["steps"] == 86 and summary["step_size"] == 43 and summary["cycles"] == 1
    assert "the last epoch stops 1 step early" in out
    assert not any("cycle boundary" in check for check in summary["checks"])


def test_twenty_epochs_are_three_cycles(here, capsys):
    _train(capsys, "--epochs", "20", "--batch-size", "128", "--out", "run", "--quiet")
    summary = json.loads((here / "run" / "summary.json").read_text())
    # 9 steps an epoch; 20 / (2 * 4) = 2.5 cycles rounds up to 3: 180 steps in half cycles
    # of 30 (3.33 epochs)
    assert summary["steps"] == 180 and summary["step_size"] == 30 and summary["cycles"] == 3


def test_an_explicit_half_cycle_is_kept_and_the_check_warns(here, capsys):
    out = _train(capsys, "--epochs", "3", "--epochs-per-half-cycle", "4", "--out", "run")
    summary = json.loads((here / "run" / "summary.json").read_text())
    assert summary["step_size"] == 144 and summary["steps"] == 108
    assert "check: the run ends 108 steps into cycle 1, not at a cycle boundary" in out
