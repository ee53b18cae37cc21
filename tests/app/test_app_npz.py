"""``--data FILE.npz`` in the layout of Keras's mnist.npz: uint8/float, with/without channels."""

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from cyclr.app.npz import load_npz


def small_images(channels, dtype, seed=0):
    rng = np.random.default_rng(seed)
    shape = (120, 10, 10) + ((channels,) if channels else ())
    y = rng.integers(0, 3, 150)
    x = np.zeros((150, *shape[1:]), dtype=np.float64)
    for k in range(3):  # a bright square whose place gives the class: learnable
        x[y == k, 3 * k : 3 * k + 3, 3 * k : 3 * k + 3, ...] = 1.0
    x += rng.uniform(0, 0.2, x.shape)
    x /= x.max()
    x = (x * 255).astype(np.uint8) if dtype == "uint8" else x.astype(dtype)
    return dict(x_train=x[:120], y_train=y[:120], x_test=x[120:], y_test=y[120:])


@pytest.mark.parametrize("channels", [None, 1, 3])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_load_npz_layouts(tmp_path, channels, dtype):
    arrays = small_images(channels, dtype)
    np.savez(tmp_path / "d.npz", **arrays)
    x, y, xt, yt = load_npz(tmp_path / "d.npz")
    assert x.dtype == np.float32 and x.shape == arrays["x_train"].shape
    assert xt.dtype == np.float32 and xt.shape == arrays["x_test"].shape
    assert y.dtype == yt.dtype == np.int64
    np.testing.assert_array_equal(y, arrays["y_train"])
    assert x.min() >= 0.0 and x.max() <= 1.0 + 1e-6
    if dtype == "uint8":
        np.testing.assert_array_equal(x, arrays["x_train"] / np.float32(255))
    np.testing.assert_array_equal(yt, arrays["y_test"])


@pytest.mark.parametrize("channels, dtype", [(None, "uint8"), (3, "float32")])
def test_train_on_an_npz(cyclr_cli, tmp_path, channels, dtype):
    np.savez(tmp_path / "d.npz", **small_images(channels, dtype))
    out = tmp_path / "run"
    proc = cyclr_cli(
        "train",
        "--framework",
        "torch",
        "--data",
        tmp_path / "d.npz",
        "--epochs",
        "3",
        "--base-lr",
        "0.01",
        "--max-lr",
        "0.1",
        "--batch-size",
        "16",
        "--out",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 * 6  # 96 training images (20% validation) at batch 16
    assert summary["test_accuracy"] > 0.5  # three classes: chance is 1/3
