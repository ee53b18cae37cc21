"""What ``RangeTestResult`` is built on: read-only curves in, JSON-safe lists out."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks


@overload
def frozen(name: str, values: None, size: int | None = None) -> None: ...


@overload
def frozen(
    name: str, values: npt.ArrayLike, size: int | None = None
) -> npt.NDArray[np.float64]: ...


def frozen(
    name: str, values: npt.ArrayLike | None, size: int | None = None
) -> npt.NDArray[np.float64] | None:
    """A read-only 1-D float64 copy of ``values`` (``None`` stays ``None``).

    Args:
      name: the field's name, for errors.
      values: a 1-D sequence of numbers, or ``None``.
      size: the length required, if any.

    Returns:
      The read-only array, or ``None``.

    Raises:
      ValueError: not a 1-D sequence of numbers, or not ``size`` long.
    """
    if values is None:
        return None
    array: npt.NDArray[np.float64] = _checks.vector(name, values).copy()
    if size is not None and array.size != size:
        raise ValueError(f"{name} must have one value per rung ({size}); received {array.size}")
    array.flags.writeable = False
    return array


def encode(array: npt.NDArray[np.float64] | None) -> list[float | str] | None:
    """Floats for JSON: non-finite values as the strings 'NaN', 'Infinity', '-Infinity'."""
    if array is None:
        return None
    return [
        v
        if math.isfinite(v)
        else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))
        for v in array.tolist()
    ]


@overload
def decode(values: None) -> None: ...


@overload
def decode(values: Iterable[Any]) -> list[float]: ...


def decode(values: Iterable[Any] | None) -> list[float] | None:
    """Inverse of :func:`encode`: ``float()`` of each value (which reads ``'NaN'`` too)."""
    return None if values is None else [float(x) for x in values]


def as_dict(reading: Any) -> dict[str, Any]:
    """A reading (a dataclass or a named tuple) as a plain dict."""
    if is_dataclass(reading) and not isinstance(reading, type):
        return asdict(reading)
    fields: dict[str, Any] = reading._asdict()
    return fields
