"""The command line's range test reads the validation loss by default (``--monitor``).

A batch of the validation split (its first ``min(256, n)`` examples) is measured every
2 rungs and the bounds are read from that curve; ``--monitor loss`` reads the training
loss; without enough validation data the run falls back to it and says so.
"""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from cli_helpers import read_csv

import cyclr
from cyclr import RangeTestSettings
from cyclr.app.data import load_data
from cyclr.app.monitor import (
    RANGE_TEST_MIN_VAL_EXAMPLES,
    range_test_monitor,
    range_test_record,
    range_test_validation,
)
from cyclr.rangetest.bounds import FINE_TUNING_DECADES

FIND = ("find", "--framework", "torch", "--num-steps", "100", "--batch-size", "16", "--quiet")


def assert_validated_every_2_rungs(result):
    assert result.settings.monitor == "val_loss"
    measured = np.isfinite(result.val_losses)
    assert measured[::2].all() and not measured[1::2].any()


def test_find_reads_the_validation_loss_by_default(cyclr_cli, tmp_path):
    out = tmp_path / "find"
    proc = cyclr_cli(*FIND, "--out", out)
    assert proc.returncode == 0, proc.stderr
    result = cyclr.RangeTestResult.from_json(out / "range_test.json")
    assert_validated_every_2_rungs(result)
    summary = json.loads((out / "summary.json").read_text())
    bounds = result.bounds(monitor="val_loss")
    assert (summary["base_lr"], summary["max_lr"]) == (bounds.base_lr, bounds.max_lr)
    # digits: 1150 training images, the last 288 of the 1437 held out; the first 256 measured
    assert (summary["monitor"], summary["val_examples"], summary["val_every"]) == (
        "val_loss",
        256,
        2,
    )
    # the library's ladder, for SGD as for Adam, the rungs as asked
    assert (summary["start_lr"], summary["end_lr"], summary["num_steps"]) == (1e-5, 10.0, 100)
    assert (result.settings.start_lr, result.settings.end_lr) == (1e-5, 10.0)
    assert "suggested bounds (val_loss)" in proc.stdout
    assert "note:" not in proc.stdout


def test_find_fine_tuning_reads_the_same_curve_a_factor_two_lower(cyclr_cli, tmp_path):
    runs = {}
    for name, extra in (("plain", ()), ("tuned", ("--fine-tuning",))):
        proc = cyclr_cli(*FIND, *extra, "--out", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        runs[name] = (
            cyclr.RangeTestResult.from_json(tmp_path / name / "range_test.json"),
            json.loads((tmp_path / name / "summary.json").read_text()),
            proc.stdout,
        )
    (plain, plain_summary, _), (tuned, summary, stdout) = runs["plain"], runs["tuned"]
    assert np.array_equal(plain.val_losses, tuned.val_losses, equal_nan=True)
    assert not plain.settings.fine_tuning and tuned.settings.fine_tuning
    assert summary["fine_tuning"] is True and plain_summary["fine_tuning"] is False
    factor = 10.0**FINE_TUNING_DECADES
    assert summary["max_lr"] == pytest.approx(plain_summary["max_lr"] / factor, rel=1e-9)
    assert summary["base_lr"] == pytest.approx(plain_summary["base_lr"] / factor, rel=1e-9)
    assert (summary["base_lr"], summary["max_lr"]) == tuple(tuned.bounds())
    assert "suggested bounds (val_loss, fine-tuning)" in stdout


def test_find_with_monitor_loss_reads_the_training_loss(cyclr_cli, tmp_path):
    out = tmp_path / "find"
    proc = cyclr_cli(*FIND, "--monitor", "loss", "--out", out)
    assert proc.returncode == 0, proc.stderr
    result = cyclr.RangeTestResult.from_json(out / "range_test.json")
    assert result.settings.monitor == "loss" and result.val_losses is None
    summary = json.loads((out / "summary.json").read_text())
    bounds = result.bounds(monitor="loss")
    assert (summary["base_lr"], summary["max_lr"]) == (bounds.base_lr, bounds.max_lr)
    assert summary["monitor"] == "loss" and "val_every" not in summary


def test_find_without_a_validation_split_falls_back_and_says_so(cyclr_cli, tmp_path):
    out = tmp_path / "find"
    proc = cyclr_cli(*FIND, "--validation-split", "0", "--out", out)
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stdout.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: no validation split (the range test's validation loss needs 32): "
        "reading the training loss (--monitor='loss')"
    ]
    result = cyclr.RangeTestResult.from_json(out / "range_test.json")
    assert result.settings.monitor == "loss" and result.val_losses is None
    assert json.loads((out / "summary.json").read_text())["monitor"] == "loss"


def test_train_records_the_monitor_and_trains_at_the_validation_bounds(cyclr_cli, tmp_path):
    out = tmp_path / "train"
    proc = cyclr_cli(
        "train",
        "--framework",
        "torch",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--num-steps",
        "100",
        "--batch-size",
        "16",
        "--quiet",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    result = cyclr.RangeTestResult.from_json(out / "range_test.json")
    assert_validated_every_2_rungs(result)
    summary = json.loads((out / "summary.json").read_text())
    bounds = result.bounds(monitor="val_loss")
    assert (summary["base_lr"], summary["max_lr"]) == (bounds.base_lr, bounds.max_lr)
    config = json.loads((out / "config.json").read_text())
    assert (config["monitor"], config["val_examples"], config["val_every"]) == ("val_loss", 256, 2)
    assert "val_every" in (out / "report.html").read_text()  # the report shows the config


def test_train_with_given_rates_runs_no_range_test_and_says_nothing(cyclr_cli, tmp_path):
    out = tmp_path / "train"
    proc = cyclr_cli(
        "train",
        "--framework",
        "torch",
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--base-lr",
        "0.01",
        "--max-lr",
        "0.1",
        "--validation-split",
        "0",
        "--quiet",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    assert "note:" not in proc.stdout and not (out / "range_test.json").exists()
    assert "val_every" not in json.loads((out / "config.json").read_text())


def test_compare_records_the_monitor(cyclr_cli, tmp_path):
    out = tmp_path / "cmp"
    proc = cyclr_cli(
        "compare",
        "--framework",
        "torch",
        "--policies",
        "fixed,triangular",
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--num-steps",
        "100",
        "--batch-size",
        "16",
        "--model",
        "mlp",
        "--quiet",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    result = cyclr.RangeTestResult.from_json(out / "range_test_sgd.json")
    assert_validated_every_2_rungs(result)
    config = json.loads((out / "compare_config.json").read_text())
    assert (config["monitor"], config["val_every"]) == ("val_loss", 2)
    assert (config["start_lr"], config["end_lr"], config["num_steps"]) == (1e-5, 10.0, 100)
    bounds = result.bounds(monitor="val_loss")
    (triangular,) = [r for r in read_csv(out / "compare.csv") if r["policy"] == "triangular"]
    assert float(triangular["base_lr"]) == pytest.approx(bounds.base_lr, rel=1e-12)
    assert float(triangular["max_lr"]) == pytest.approx(bounds.max_lr, rel=1e-12)


def test_the_fallback_rule_and_the_validation_batch():
    data = load_data("digits", validation_split=0.2)
    val_loss, loss = RangeTestSettings(monitor="val_loss"), RangeTestSettings(monitor="loss")
    assert range_test_monitor(val_loss, data) == (val_loss, None)
    assert range_test_monitor(loss, data) == (loss, None)
    assert range_test_monitor(RangeTestSettings(), data) == (val_loss, None)
    x, y = range_test_validation(data)
    assert (
        len(x) == 256
        and np.array_equal(x, data.x_val[:256])
        and np.array_equal(y, data.y_val[:256])
    )
    few = load_data("digits", validation_split=0.01)  # 14 examples
    assert len(few.x_val) < RANGE_TEST_MIN_VAL_EXAMPLES
    settings, note = range_test_monitor(val_loss, few)
    assert settings == loss and note is not None and f"only {len(few.x_val)} validation" in note
    assert note.endswith("reading the training loss (monitor='loss')")
    assert range_test_monitor(RangeTestSettings(), few) == (loss, None)  # None: no note
    with pytest.raises(ValueError, match="needs at least 32 validation examples; received 14"):
        range_test_validation(few)
    ladder = {"start_lr": 1e-5, "end_lr": 10.0, "num_steps": 450}
    assert range_test_record(loss, few) == ladder | {"monitor": "loss", "fine_tuning": False}
    tuned = RangeTestSettings(monitor="val_loss", val_every=3, fine_tuning=True)
    assert range_test_record(tuned, data) == ladder | {
        "monitor": "val_loss",
        "fine_tuning": True,
        "val_examples": 256,
        "val_every": 3,
    }
    with pytest.raises(ValueError, match=r"^monitor must be .*; received monitor='val_accuracy'"):
        range_test_monitor(RangeTestSettings(monitor="val_accuracy"), data)
    with pytest.raises(ValueError, match="received start_lr=None"):
        range_test_monitor(RangeTestSettings(start_lr=None), data)
    with pytest.raises(ValueError, match="received monitor=None"):
        range_test_record(RangeTestSettings(), data)
