"""Datasets that Keras downloads (MNIST, Fashion-MNIST, CIFAR-10), in ``datasets``' format.

Each returns ``(x_train, y_train, x_test, y_test)``: images float32 in ``[0, 1]``,
channels last (``(N, 28, 28)`` or ``(N, 32, 32, 3)``), labels int64. Keras
caches the files under ``KERAS_HOME`` (default ``~/.keras/datasets``).
Offline, with nothing cached, they raise :class:`DownloadError`, naming
``--data`` (a local ``.npz``) and the offline datasets as the way out.
"""

from __future__ import annotations

import numpy as np

DOWNLOADS = ("mnist", "fashion_mnist", "cifar10")


class DownloadError(RuntimeError):
    """A dataset could not be downloaded (no network, and no cached copy)."""


def load_download(name: str):
    """Download (or read Keras' cache of) ``name``, one of ``DOWNLOADS``.

    Raises:
      ValueError: an unknown name.
      MissingExtra: Keras is not installed (a PyTorch user's machine may lack it).
      DownloadError: the download failed; the message says what to do instead.
    """
    if name not in DOWNLOADS:
        raise ValueError(f"dataset must be one of {DOWNLOADS}; received dataset={name!r}")
    from cyclr._extras import require

    require(f"dataset={name!r} (downloaded through keras.datasets)", "keras")
    import keras

    loader = getattr(keras.datasets, name)
    try:
        (x, y), (xt, yt) = loader.load_data()
    except Exception as error:  # urllib, http and ssl errors all end up here
        raise DownloadError(
            f"could not download dataset={name!r} through keras.datasets ({error}); "
            "on a machine without network pass your own data='PATH.npz' (arrays x_train, "
            "y_train, x_test, y_test) or use an offline dataset: dataset='digits' or 'mnist1d'"
        ) from error

    def scale(a):
        return np.asarray(a, dtype=np.float32) / 255.0

    def flat(a):
        return np.asarray(a).reshape(-1).astype(np.int64)

    return scale(x), flat(y), scale(xt), flat(yt)
