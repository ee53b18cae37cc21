"""``cyclr train`` follows the validation split each epoch and scores the test set once, at the end.

Issue 28, item 10: the report evaluated the test set after every epoch. PyTorch, in process;
the Keras runner's twin is in tests/keras/test_keras_train_runs.py.
"""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cli_helpers import read_csv

from cyclr.app.data import load_data
from cyclr.app.torch_runner import TorchRunner
from cyclr.cli import main


def test_epochs_read_the_validation_split_and_the_test_set_is_scored_once(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    code = main(
        ["train", "--framework", "torch", "--model", "mlp", "--base-lr", "0.01", "--max-lr",
         "0.1", "--epochs", "3", "--device", "cpu", "--out", "run"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    ends = [r for r in rows if r["epoch"]]
    assert [int(r["epoch"]) for r in ends] == [1, 2, 3]
    assert all(r["val_loss"] and r["val_accuracy"] for r in ends)  # the per-epoch curve
    assert [bool(r["test_accuracy"]) for r in rows] == [False] * (len(rows) - 1) + [True]
    assert [bool(r["test_loss"]) for r in rows] == [False] * (len(rows) - 1) + [True]
    epoch_lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 3 and not any("test" in line for line in epoch_lines)
    # the one score is the saved model's on the test split
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    runner = TorchRunner(load_data("digits"), "mlp", 32, 0, device="cpu")
    runner.model.load_state_dict(torch.load(tmp_path / "run" / "model.pt", weights_only=True))
    loss, accuracy = runner.evaluate(runner.data.x_test, runner.data.y_test)
    assert summary["test_accuracy"] == accuracy == float(rows[-1]["test_accuracy"])
    assert np.isclose(summary["test_loss"], loss)
    assert f"test accuracy {accuracy:.4f} after {len(rows)} steps" in out
