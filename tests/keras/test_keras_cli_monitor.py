"""``cyclr find --framework keras`` reads the validation loss by default (``--monitor``).

The range test goes through ``cyclr.keras.find_lr(validation_data=..., val_every=2)``;
the code is the same on every backend, so this runs on TensorFlow only.
"""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import cyclr

BACKEND = keras.backend.backend()
pytestmark = pytest.mark.skipif(
    BACKEND != "tensorflow", reason="shares its Keras code with train; run on one backend"
)
FIND = ("find", "--num-steps", "100", "--batch-size", "16", "--model", "mlp", "--quiet")


def test_find_reads_the_validation_loss_by_default(cyclr_cli, tmp_path):
    out = tmp_path / "find"
    proc = cyclr_cli(*FIND, "--out", out, backend=BACKEND)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = cyclr.RangeTestResult.from_json(out / "range_test.json")
    assert result.settings.monitor == "val_loss"
    measured = np.isfinite(result.val_losses)
    assert measured[::2].all() and not measured[1::2].any()
    summary = json.loads((out / "summary.json").read_text())
    bounds = result.bounds(monitor="val_loss")
    assert (summary["base_lr"], summary["max_lr"]) == (bounds.base_lr, bounds.max_lr)
    assert (summary["framework"], summary["monitor"], summary["val_every"]) == (
        "keras",
        "val_loss",
        2,
    )


def test_find_with_monitor_loss_reads_the_training_loss(cyclr_cli, tmp_path):
    out = tmp_path / "find"
    proc = cyclr_cli(*FIND, "--monitor", "loss", "--out", out, backend=BACKEND)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = cyclr.RangeTestResult.from_json(out / "range_test.json")
    assert result.settings.monitor == "loss" and result.val_losses is None
    summary = json.loads((out / "summary.json").read_text())
    bounds = result.bounds(monitor="loss")
    assert (summary["base_lr"], summary["max_lr"]) == (bounds.base_lr, bounds.max_lr)
