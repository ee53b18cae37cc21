"""What ``RangeTestResult`` is built on: read-only curves in, JSON-safe lists out.

Also the JSON record of a result (``to_dict``/``from_dict``): its format, version and fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, is_dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks
from cyclr.rangetest.settings import RangeTestSettings

if TYPE_CHECKING:
    from cyclr.rangetest.result import RangeTestResult

#: The ``format`` of a saved result.
FORMAT = "cyclr.range_test"
#: The ``version`` of a saved result's format.
VERSION = 1

_Result = TypeVar("_Result")


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


def to_record(result: RangeTestResult) -> dict[str, Any]:
    """``result.to_dict()``: the result as a JSON-ready dict, its readings informative only."""
    found: dict[str, Any] = {}
    if result.lrs.size:
        found = {"bounds": result._bounds_or_none(), **result.suggestions()}
    return {
        "format": FORMAT,
        "version": VERSION,
        "settings": asdict(result.settings),
        "stop_reason": result.stop_reason,
        "optimizer": result.optimizer,
        "batchnorm": result.batchnorm,
        "lrs": encode(result.lrs),
        "losses": encode(result.losses),
        "smoothed": encode(result.smoothed),
        "val_losses": encode(result.val_losses),
        "val_accuracies": encode(result.val_accuracies),
        # informative only; from_dict recomputes them
        "suggestions": {k: (as_dict(v) if v else None) for k, v in found.items()},
    }


def from_record(cls: Callable[..., _Result], data: dict[str, Any]) -> _Result:
    """``RangeTestResult.from_dict(data)``, the class to build given as ``cls``.

    Raises:
      ValueError: not a cyclr range-test record, or a newer version.
    """
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt != FORMAT:
        raise ValueError(
            f"not a cyclr range-test result: expected format={FORMAT!r}; received format={fmt!r}"
        )
    if data.get("version") != VERSION:
        raise ValueError(
            f"unsupported range-test result version; expected {VERSION}, "
            f"received version={data.get('version')!r}"
        )
    try:
        return cls(
            decode(data["lrs"]),
            decode(data["losses"]),
            decode(data["smoothed"]),
            data["stop_reason"],
            RangeTestSettings(**data["settings"]),
            decode(data.get("val_losses")),
            decode(data.get("val_accuracies")),
            data.get("optimizer"),  # None in a file written before it was recorded
            data.get("batchnorm"),
        )
    except (KeyError, TypeError) as error:
        raise ValueError(f"malformed range-test result: {error!r}") from None
