"""``cyclr find | train | compare`` with Keras, as real subprocesses on tiny budgets.

``train`` runs on every backend (this file runs once per KERAS_BACKEND); ``find``
and ``compare`` share all their Keras code with it and run on TensorFlow only,
to keep CI short.
"""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cli_helpers import (
    assert_lr_column_is_the_schedule,
    assert_png,
    assert_run_folder,
    read_csv,
)

import cyclr

BACKEND = keras.backend.backend()
tensorflow_only = pytest.mark.skipif(
    BACKEND != "tensorflow", reason="shares its Keras code with train; run on one backend"
)


def test_train_reads_back_the_schedule_from_the_optimizer(cyclr_cli, tmp_path):
    out = tmp_path / "train"
    proc = cyclr_cli(
        "train",
        "--framework",
        "keras",
        "--epochs",
        "2",
        "--num-steps",
        "120",
        "--batch-size",
        "16",
        "--epochs-per-half-cycle",
        "1",
        "--cycle-momentum",
        "--model",
        "mlp",
        "--out",
        out,
        backend=BACKEND,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = assert_run_folder(out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 * 72 == len(rows)
    schedule = cyclr.CyclicSchedule(
        summary["base_lr"],
        summary["max_lr"],
        summary["step_size"],
        base_momentum=0.85,
        max_momentum=0.95,
    )
    # The optimizer computes in float32: ~1e-7 relative.
    assert_lr_column_is_the_schedule(rows, schedule, rtol=1e-6)
    np.testing.assert_allclose(
        [float(r["momentum"]) for r in rows], schedule.momentum(np.arange(len(rows))), rtol=1e-6
    )
    assert json.loads((out / "config.json").read_text())["keras_backend"] == BACKEND
    assert summary["test_accuracy"] > 0.3  # chance is 0.1


@tensorflow_only
def test_find(cyclr_cli, tmp_path):
    out = tmp_path / "find"
    proc = cyclr_cli(
        "find", "--num-steps", "120", "--batch-size", "16", "--out", out, backend=BACKEND
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert 0 < summary["base_lr"] < summary["max_lr"] and summary["framework"] == "keras"
    assert (
        cyclr.RangeTestResult.from_json(out / "range_test.json").bounds().max_lr
        == summary["max_lr"]
    )
    assert_png(out / "range_test.png")


@tensorflow_only
def test_compare(cyclr_cli, tmp_path):
    out = tmp_path / "cmp"
    proc = cyclr_cli(
        "compare",
        "--policies",
        "fixed,onecycle",
        "--seeds",
        "2",
        "--epochs",
        "2",
        "--num-steps",
        "120",
        "--batch-size",
        "16",
        "--model",
        "mlp",
        "--out",
        out,
        backend=BACKEND,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_csv(out / "compare.csv")
    assert [(r["policy"], r["seed"]) for r in rows] == [
        ("fixed", "0"),
        ("fixed", "1"),
        ("onecycle", "0"),
        ("onecycle", "1"),
    ]
    assert "| onecycle |" in (out / "compare.md").read_text()
    assert_png(out / "compare.png")
