"""``cyclr train`` with Keras: epochs on the validation split, the test set scored once.

Issue 28, item 10 on the Keras runner (the PyTorch twin: tests/app/test_train_test_set_once.py).
Runs once per KERAS_BACKEND, in process.
"""

import json

import pytest

keras = pytest.importorskip("keras")

from cli_helpers import read_csv

from cyclr.app.data import load_data
from cyclr.app.keras_runner import KerasRunner
from cyclr.cli import main


def test_the_test_set_is_scored_once_after_training(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    code = main(
        ["train", "--model", "mlp", "--base-lr", "0.01", "--max-lr", "0.1", "--epochs", "2",
         "--batch-size", "64", "--out", "run"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    rows = read_csv(tmp_path / "run" / "metrics.csv")
    ends = [r for r in rows if r["epoch"]]
    assert [int(r["epoch"]) for r in ends] == [1, 2] and all(r["val_accuracy"] for r in ends)
    assert [r for r in rows if r["test_accuracy"] or r["test_loss"]] == [rows[-1]]
    assert not any("test" in line for line in out.splitlines() if line.startswith("epoch "))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    runner = KerasRunner(load_data("digits"), "mlp", 64, 0)
    runner.model = keras.models.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    _, accuracy = runner.evaluate(runner.data.x_test, runner.data.y_test)
    assert summary["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert summary["test_accuracy"] == float(rows[-1]["test_accuracy"])
