"""User data in the layout of Keras's ``mnist.npz``: ``x_train, y_train, x_test, y_test``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from cyclr.app.userdata import fail

KEYS = ("x_train", "y_train", "x_test", "y_test")


def _images(path, name: str, x: np.ndarray) -> np.ndarray:
    if x.dtype.kind not in "uif" or x.dtype == np.bool_:
        fail(path, f"{name} must hold uint8 or float values; received dtype {x.dtype}")
    if x.ndim not in (2, 3, 4):
        fail(path, f"{name} must be (N, L), (N, H, W) or (N, H, W, C); received shape {x.shape}")
    if x.ndim == 4 and x.shape[-1] not in (1, 3, 4):
        fail(
            path, f"{name} must be channels-last with 1, 3 or 4 channels; received shape {x.shape}"
        )
    if x.shape[0] == 0:
        fail(path, f"{name} is empty; received shape {x.shape}")
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    if x.dtype.kind in "iu":
        fail(path, f"{name} must be uint8 (0-255) or float; received dtype {x.dtype}")
    x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        fail(path, f"{name} holds NaN or infinite values")
    return x


def _labels(path, name: str, y: np.ndarray, n: int) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        fail(path, f"{name} must be a vector of class indices; received shape {y.shape}")
    if y.shape[0] != n:
        fail(path, f"{name} has {y.shape[0]} labels for {n} samples")
    if y.dtype.kind not in "iu" and (
        y.dtype.kind != "f" or not np.all(np.isfinite(y)) or np.any(y != np.round(y))
    ):
        fail(path, f"{name} must hold integer class indices; received dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.min() < 0:
        fail(path, f"{name} holds a negative label ({int(y.min())})")
    return y


def load_npz(data):
    """Load and check ``data``, an ``.npz``: returns ``(x_train, y_train, x_test, y_test)``.

    uint8 images become float32 in ``[0, 1]``; float images are kept as they
    are; a channel axis is optional. Pickled objects are refused
    (``allow_pickle=False``).

    Raises:
      ValueError: a missing file, missing keys, or bad shapes, dtypes or labels,
        naming ``data`` and the key.
    """
    path = Path(data)
    if not path.is_file():
        fail(path, "no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in KEYS if k not in archive.files]
            if missing:
                fail(
                    path,
                    f"missing key(s) {', '.join(missing)}; "
                    f"found {', '.join(archive.files) or 'none'}"
                    f" (expected {', '.join(KEYS)}, as in Keras's mnist.npz)",
                )
            arrays = {k: archive[k] for k in KEYS}
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        fail(path, f"not a readable .npz file ({exc})")
    except ValueError as exc:
        if str(exc).startswith("data="):
            raise
        fail(path, f"cannot be read without pickle ({exc})")
    x_train = _images(path, "x_train", arrays["x_train"])
    x_test = _images(path, "x_test", arrays["x_test"])
    if x_train.shape[1:] != x_test.shape[1:]:
        fail(
            path,
            f"x_train samples are {x_train.shape[1:]} but x_test samples are {x_test.shape[1:]}",
        )
    y_train = _labels(path, "y_train", arrays["y_train"], len(x_train))
    y_test = _labels(path, "y_test", arrays["y_test"], len(x_test))
    classes = int(y_train.max()) + 1
    if classes < 2:
        fail(path, "y_train holds a single class; need at least 2")
    if y_test.max() >= classes:
        fail(
            path,
            f"y_test holds label {int(y_test.max())} but y_train only has classes 0..{classes - 1}",
        )
    return x_train, y_train, x_test, y_test
