"""Small datasets that load offline, as numpy arrays ``(x_train, y_train, x_test, y_test)``.

Images are channels-last float32 in ``[0, 1]`` of shape ``(N, H, W)`` (grayscale)
or ``(N, H, W, C)``; sequences are ``(N, L)``; labels are int64 class indices.
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import numpy as np

#: The seed of every split made here, so a dataset is the same on every machine.
SPLIT_SEED = 0


@contextmanager
def _global_rng_untouched():
    """Restore numpy's and Python's global RNG state afterwards (mnist1d reseeds them)."""
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def load_digits(test_fraction: float = 0.2):
    """scikit-learn's 8x8 handwritten digits (1797 images, bundled, no download).

    Pixels are scaled from ``0..16`` to ``[0, 1]``; the train/test split is
    stratified and fixed (``SPLIT_SEED``): 1437 / 360 with the default 0.2.

    Returns:
      ``(x_train, y_train, x_test, y_test)``, images ``(N, 8, 8)`` float32.

    Raises:
      ValueError: ``test_fraction`` not in ``(0, 1)``.

    >>> x, y, xt, yt = load_digits()
    >>> x.shape, xt.shape, x.dtype.name, float(x.max())
    ((1437, 8, 8), (360, 8, 8), 'float32', 1.0)
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"test_fraction must be in (0, 1); received test_fraction={test_fraction!r}"
        )
    data = sklearn_digits()
    x = (data.images / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=SPLIT_SEED
    )
    return x_train, y_train, x_test, y_test


def load_mnist1d():
    """MNIST-1D (Greydanus 2020), generated locally with the package's default arguments.

    4000 training and 1000 test sequences of length 40, 10 classes; the
    generator is deterministic (seed 42 in its defaults). It is built with
    ``make_dataset`` rather than ``get_dataset``, which downloads and silently
    falls back to regenerating. The global numpy/Python RNG states are left as
    they were.

    Returns:
      ``(x_train, y_train, x_test, y_test)``, sequences ``(N, 40)`` float32.

    >>> x, y, xt, yt = load_mnist1d()
    >>> x.shape, xt.shape, sorted(set(y.tolist())) == list(range(10))
    ((4000, 40), (1000, 40), True)
    """
    from mnist1d.data import get_dataset_args, make_dataset

    with _global_rng_untouched():
        data = make_dataset(get_dataset_args())
    return (
        data["x"].astype(np.float32),
        data["y"].astype(np.int64),
        data["x_test"].astype(np.float32),
        data["y_test"].astype(np.int64),
    )


#: Loaders by name.
DATASETS = {"digits": load_digits, "mnist1d": load_mnist1d}


def load(name: str):
    """The dataset called ``name`` (one of ``DATASETS``) as ``(x_train, y_train, x_test, y_test)``.

    Raises:
      ValueError: an unknown name.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {tuple(DATASETS)}; received dataset={name!r}")
    return DATASETS[name]()
