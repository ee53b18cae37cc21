"""The data of a run: a named dataset or a user's ``.npz``, with the seed's validation split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cyclr.app.datasets import DATASETS, load
from cyclr.app.downloads import DOWNLOADS, load_download
from cyclr.app.npz import load_npz

DATASET_NAMES = tuple(DATASETS) + DOWNLOADS


@dataclass
class Data:
    """Train, validation and test arrays; inputs channels-last float32, labels int64."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def is_sequence(self) -> bool:
        """1-D inputs ``(N, L)`` (MNIST-1D) rather than images."""
        return len(self.input_shape) == 1

    def describe(self) -> str:
        return (
            f"{self.name}: {len(self.x_train)} train / {len(self.x_val)} validation / "
            f"{len(self.x_test)} test, inputs {self.input_shape}, {self.num_classes} classes"
        )


def load_data(
    dataset: str = "digits", data: str | None = None, validation_split: float = 0.2
) -> Data:
    """Load ``data`` (an ``.npz`` path) or the dataset called ``dataset``.

    The validation set is the last ``validation_split`` of the training data,
    as Keras's ``fit(validation_split=...)`` takes it in the seed.

    Raises:
      ValueError: an unknown dataset, a bad file, a split outside [0, 1).
      cyclr.app.downloads.DownloadError: a download failed.
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"--validation-split must be in [0, 1); received {validation_split!r}")
    if data is not None:
        x, y, xt, yt = load_npz(data)
        name = str(data)
    elif dataset in DATASETS:
        x, y, xt, yt = load(dataset)
        name = dataset
    elif dataset in DOWNLOADS:
        x, y, xt, yt = load_download(dataset)
        name = dataset
    else:
        raise ValueError(
            f"--dataset must be one of {', '.join(DATASET_NAMES)}; received --dataset={dataset!r}"
        )
    n_val = round(len(x) * validation_split)
    if len(x) - n_val < 1:
        raise ValueError(f"--validation-split={validation_split} leaves no training data")
    cut = len(x) - n_val
    classes = int(max(y.max(), yt.max())) + 1
    return Data(name, x[:cut], y[:cut], x[cut:], y[cut:], xt, yt, classes)
