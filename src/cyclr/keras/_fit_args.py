"""``find_lr``'s and ``LRFinder``'s arguments made explicit for ``model.fit``.

The gist's ``min_lr``/``max_lr`` spellings (:func:`alias`), the batches one pass
over ``x`` makes (:func:`batches_per_epoch`, for the epochs that cover the
ladder), and ``validation_split`` turned into ``validation_data``
(:func:`split_validation`).
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import keras
import numpy as np

_Rate = TypeVar("_Rate", float, "float | None")


def alias(old: str, old_value: float | None, new: str, new_value: _Rate, default: float) -> _Rate:
    """``new_value``, or the gist's ``old`` keyword's value when ``new`` is at its default.

    Raises:
      ValueError: both given (``new_value`` not the default), naming both and their values.
    """
    if old_value is None:
        return new_value
    if new_value != default:
        raise ValueError(
            f"give {new} or the gist's name for it, {old}, not both; received "
            f"{new}={new_value!r}, {old}={old_value!r}"
        )
    return old_value


def batches_per_epoch(x: Any, batch_size: int | None) -> int | None:
    """Batches in one pass over ``x``, or ``None`` for a generator of unknown length."""
    if isinstance(x, np.ndarray) or hasattr(x, "shape"):
        return math.ceil(len(x) / (batch_size or 32))
    if isinstance(x, (list, tuple, dict)):
        first = next(iter(x.values())) if isinstance(x, dict) else x[0]
        return math.ceil(len(first) / (batch_size or 32))
    try:
        n = len(x)
    except TypeError:
        return None
    return n if n > 0 else None


def split_validation(x: Any, y: Any, validation_data: Any, split: Any) -> tuple[Any, Any, Any]:
    """``x, y, validation_data`` with ``model.fit``'s ``validation_split`` made explicit.

    Keras holds out the last ``split`` of the arrays, before shuffling; so does this.
    """
    if split is None or (isinstance(split, (int, float)) and split == 0):
        return x, y, validation_data
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 < split < 1:
        raise ValueError(
            f"validation_split must be a number in (0, 1); received validation_split={split!r}"
        )
    if validation_data is not None:
        raise ValueError(
            "give validation_data or validation_split, not both; received "
            f"validation_split={split!r} with validation_data"
        )
    leaves = [a for a in keras.tree.flatten((x, y)) if a is not None]
    if not leaves or not all(hasattr(a, "shape") and len(a.shape) > 0 for a in leaves):
        raise ValueError(
            "validation_split holds out part of arrays; with a dataset, a PyDataset or a "
            f"generator pass validation_data=... instead; received x of type {type(x).__name__}"
        )
    n = int(leaves[0].shape[0])
    cut = math.floor(n * (1.0 - split))  # as keras' own split
    if not 0 < cut < n:
        raise ValueError(
            f"validation_split={split!r} of {n} samples leaves no training or no validation "
            f"samples; received validation_split={split!r}"
        )

    def part(lo: int | None, hi: int | None) -> Any:
        return keras.tree.map_structure(lambda a: None if a is None else a[lo:hi], (x, y))

    (x_train, y_train), held_out = part(None, cut), part(cut, None)
    return x_train, y_train, held_out
