"""What ``RangeTestResult`` is built on: read-only curves in, JSON-safe lists out.

Also the readings dict that still answers the deprecated key ``'bounds'``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks
from cyclr.rangetest.suggestions import Suggestion

if TYPE_CHECKING:
    from cyclr.rangetest.bounds import BoundsSuggestion
    from cyclr.rangetest.result import RangeTestResult


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


class Readings(dict[str, "Suggestion | None"]):
    """The single-rate readings; the deprecated key ``'bounds'`` still answers, with a warning."""

    def __init__(
        self, found: dict[str, Suggestion | None], result: RangeTestResult, monitor: str | None
    ) -> None:
        super().__init__(found)
        self._result, self._monitor = result, monitor

    def __missing__(self, key: str) -> BoundsSuggestion | None:
        if key != "bounds":
            raise KeyError(key)
        warnings.warn(
            "result.suggestions()['bounds'] is deprecated and will be removed in the "
            "next release; use result.bounds()",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._result._bounds_or_none(self._monitor)
