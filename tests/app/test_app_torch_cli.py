"""``cyclr find | train | compare`` with PyTorch, as real subprocesses on tiny budgets."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cli_helpers import assert_lr_column_is_the_schedule, assert_png, assert_run_folder, read_csv

import cyclr


def test_find_writes_result_plot_and_summary(cyclr_cli, tmp_path):
    out = tmp_path / "find"
    proc = cyclr_cli(
        "find", "--framework", "torch", "--num-steps", "150", "--batch-size", "16", "--out", out
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < summary["base_lr"] < summary["max_lr"]
    # 1150 training images at batch 16: 72 steps per epoch, a half cycle of 4 epochs.
    assert summary["steps_per_epoch"] == 72 and summary["step_size"] == 288
    result = cyclr.RangeTestResult.from_json(out / "range_test.json")
    assert (result.bounds().base_lr, result.bounds().max_lr) == (
        summary["base_lr"],
        summary["max_lr"],
    )
    assert_png(out / "range_test.png")
    assert f"step_size={summary['step_size']}" in proc.stdout
    # no --device: the GPU when PyTorch sees one, else the CPU
    assert summary["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


def test_train_with_range_test_and_cyclical_momentum(cyclr_cli, tmp_path):
    out = tmp_path / "train"
    proc = cyclr_cli(
        "train",
        "--framework",
        "torch",
        "--epochs",
        "4",
        "--num-steps",
        "150",
        "--batch-size",
        "16",
        "--epochs-per-half-cycle",
        "1",
        "--mode",
        "triangular2",
        "--waveform",
        "sine",
        "--cycle-momentum",
        "--seed",
        "3",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    rows = assert_run_folder(out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == 4 * 72 == len(rows)
    schedule = cyclr.CyclicSchedule(
        summary["base_lr"],
        summary["max_lr"],
        summary["step_size"],
        mode="triangular2",
        waveform="sine",
        base_momentum=0.85,
        max_momentum=0.95,
    )
    assert_lr_column_is_the_schedule(rows, schedule, rtol=1e-12)
    np.testing.assert_allclose(
        [float(r["momentum"]) for r in rows], schedule.momentum(np.arange(len(rows))), rtol=1e-12
    )
    epochs = [r for r in rows if r["val_accuracy"]]
    assert [int(r["epoch"]) for r in epochs] == [1, 2, 3, 4]
    # the test set is scored once, after training, on the last row
    assert [r for r in rows if r["test_accuracy"]] == [rows[-1]]
    assert summary["test_accuracy"] == pytest.approx(float(rows[-1]["test_accuracy"]))
    assert summary["test_accuracy"] > 0.5  # chance is 0.1
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 3 and config["mode"] == "triangular2"


def test_train_is_reproducible_with_a_seed(cyclr_cli, tmp_path):
    args = [
        "train",
        "--framework",
        "torch",
        "--epochs",
        "2",
        "--base-lr",
        "0.01",
        "--max-lr",
        "0.1",
        "--model",
        "mlp",
        "--seed",
        "5",
    ]
    for name in ("a", "b"):
        assert cyclr_cli(*args, "--out", tmp_path / name).returncode == 0
    a, b = (read_csv(tmp_path / n / "metrics.csv") for n in ("a", "b"))
    assert [r["loss"] for r in a] == [r["loss"] for r in b]


def test_compare_writes_the_table_csv_and_plot(cyclr_cli, tmp_path):
    out = tmp_path / "cmp"
    proc = cyclr_cli(
        "compare",
        "--framework",
        "torch",
        "--policies",
        "fixed,triangular,adam",
        "--seeds",
        "2",
        "--epochs",
        "2",
        "--num-steps",
        "150",
        "--batch-size",
        "16",
        "--model",
        "mlp",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(out / "compare.csv")
    assert [(r["policy"], r["seed"]) for r in rows] == [
        ("fixed", "0"),
        ("fixed", "1"),
        ("triangular", "0"),
        ("triangular", "1"),
        ("adam", "0"),
        ("adam", "1"),
    ]
    for column in ("policy", "seed", "base_lr", "max_lr", "final_accuracy", "iterations_to_target"):
        assert column in rows[0]
    target = np.mean([float(r["final_accuracy"]) for r in rows if r["policy"] == "fixed"])
    for r in rows:
        if r["iterations_to_target"]:
            assert int(r["iterations_to_target"]) % 72 == 0  # measured at epoch ends
        if float(r["final_accuracy"]) >= target:
            assert r["iterations_to_target"]
    table = (out / "compare.md").read_text()
    assert "| policy |" in table and "| fixed |" in table and "| adam | adam | 0.001 |" in table
    assert_png(out / "compare.png")


def test_train_with_bf16_on_the_cpu_records_the_device_and_precision(cyclr_cli, tmp_path):
    out = tmp_path / "bf16"
    args = ["train", "--framework", "torch", "--model", "mlp", "--base-lr", "0.01",
            "--max-lr", "0.1", "--epochs", "2", "--epochs-per-half-cycle", "1",
            "--quiet"]  # fmt: skip
    proc = cyclr_cli(*args, "--device", "cpu", "--amp", "bf16", "--out", out)
    assert proc.returncode == 0, proc.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["device"] == "cpu" and config["amp"] == "bf16"
    rows = read_csv(out / "metrics.csv")
    # bfloat16 forward passes: the same schedule, other losses than float32's
    full = tmp_path / "fp32"
    assert cyclr_cli(*args, "--device", "cpu", "--out", full).returncode == 0
    assert "amp" not in json.loads((full / "config.json").read_text())
    rows32 = read_csv(full / "metrics.csv")
    assert [r["lr"] for r in rows] == [r["lr"] for r in rows32]
    assert [r["loss"] for r in rows] != [r["loss"] for r in rows32]
    assert abs(float(rows[-1]["test_accuracy"]) - float(rows32[-1]["test_accuracy"])) < 0.1
