"""The data of a run: a named dataset or the user's own (``.npz``, an image folder, a CSV).

The validation split is the seed's: the last fraction of the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cyclr.app.datasets import DATASETS, load
from cyclr.app.downloads import DOWNLOADS, load_download
from cyclr.app.npz import load_npz
from cyclr.app.userdata import load_csv, load_image_folder

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
    #: ``'classification'`` (integer labels) or ``'regression'`` (float targets).
    task: str = "classification"

    @property
    def output_size(self) -> int:
        """What a model's last layer must output: the class count, or 1 for regression."""
        return 1 if self.task == "regression" else self.num_classes

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    @property
    def is_sequence(self) -> bool:
        """1-D inputs ``(N, L)`` (MNIST-1D) rather than images."""
        return len(self.input_shape) == 1

    def describe(self) -> str:
        what = "regression" if self.task == "regression" else f"{self.num_classes} classes"
        return (
            f"{self.name}: {len(self.x_train)} train / {len(self.x_val)} validation / "
            f"{len(self.x_test)} test, inputs {self.input_shape}, {what}"
        )


def _shown(data: str | Path | None) -> str:
    """``data`` as an error shows it: the path as a quoted string, or None."""
    return repr(None if data is None else str(data))


def data_kind(data: str | Path) -> str:
    """How ``data`` (:func:`load_data`'s) is read: ``'folder'`` (images), ``'csv'`` or ``'npz'``."""
    path = Path(data)
    if path.is_dir():
        return "folder"
    return "csv" if path.suffix.lower() in (".csv", ".tsv", ".txt") else "npz"


def _check_applies(
    data: str | Path | None,
    kind: str | None,
    label: str | None,
    image_size: tuple[int, int] | None,
    task: str,
) -> None:
    """Options of :func:`load_data` that apply only to some ``data``, refused elsewhere."""
    if label is not None and kind != "csv":
        raise ValueError(
            f"label applies when data is a CSV file; received label={label!r} with "
            f"data={_shown(data)}"
        )
    if image_size is not None and kind != "folder":
        raise ValueError(
            f"image_size applies when data is a folder of images; received "
            f"image_size={image_size!r} with data={_shown(data)}"
        )
    if task == "regression" and kind != "csv":
        raise ValueError(
            "a regression loss needs float targets, from a CSV file as data with its "
            f"label column; received data={_shown(data)}"
        )


def load_data(
    dataset: str = "digits",
    data: str | Path | None = None,
    validation_split: float = 0.2,
    *,
    label: str | None = None,
    image_size: tuple[int, int] | None = None,
    task: str = "classification",
) -> Data:
    """Load ``data`` (an ``.npz``, an image folder, a CSV) or the dataset called ``dataset``.

    The validation set is the last ``validation_split`` of the training data,
    as Keras's ``fit(validation_split=...)`` takes it in the seed.

    Args:
      dataset: a name of :data:`DATASET_NAMES`, used when ``data`` is None.
      data: the user's file or folder (see :mod:`cyclr.app.userdata`, :mod:`cyclr.app.npz`).
      validation_split: the last fraction of the training data held out for validation.
      label: the label column of a CSV.
      image_size: ``(height, width)`` to resize a folder's images to.
      task: ``'classification'`` or ``'regression'`` (float targets; a CSV only).

    Raises:
      ValueError: an unknown dataset, a bad file, a split outside [0, 1), an option
        that does not apply to the data.
      cyclr.app.downloads.DownloadError: a download failed.
    """
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(
            f"validation_split must be in [0, 1); received validation_split={validation_split!r}"
        )
    kind = None if data is None else data_kind(data)
    _check_applies(data, kind, label, image_size, task)
    if data is not None:
        if not Path(data).exists():
            raise ValueError(f"data={_shown(data)}: no such file or folder")
        if kind == "folder":
            x, y, xt, yt = load_image_folder(data, image_size)
        elif kind == "csv":
            x, y, xt, yt = load_csv(data, label, regression=task == "regression")
        else:
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
            f"dataset must be one of {', '.join(DATASET_NAMES)}; received dataset={dataset!r}"
        )
    n_val = round(len(x) * validation_split)
    if len(x) - n_val < 1:
        raise ValueError(
            f"validation_split={validation_split!r} leaves no training data of {len(x)} examples"
        )
    cut = len(x) - n_val
    classes = 1 if task == "regression" else int(max(y.max(), yt.max())) + 1
    return Data(name, x[:cut], y[:cut], x[cut:], y[cut:], xt, yt, classes, task)
