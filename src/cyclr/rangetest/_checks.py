"""Argument checks shared by the range-test modules; each error names the value received."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from cyclr._base import check_choice, check_count


def real(name: str, value: Any) -> float:
    """Return ``value`` as a finite float, or raise ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number; received {name}={value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite; received {name}={number!r}")
    return number


def flag(name: str, value: Any) -> bool:
    """``value`` as a bool: ``True`` or ``False`` (NumPy's included), nothing else."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; received {name}={value!r}")
    return bool(value)


def optional_bool(name: str, value: Any) -> bool | None:
    """``value`` if it is ``True``, ``False`` or ``None``, else raise ``ValueError`` naming it."""
    if value is not None and not isinstance(value, bool):
        raise ValueError(f"{name} must be True, False or None; received {name}={value!r}")
    return value


def count(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an int ``>= minimum`` (the schedules' rule: integral floats pass)."""
    return check_count(name, value, minimum=minimum)


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise ``ValueError`` naming it."""
    return check_choice(name, value, tuple(options))


def vector(name: str, values: Any) -> npt.NDArray[np.float64]:
    """Return ``values`` as a 1-D float64 array, or raise ``ValueError`` naming it."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a sequence of numbers; received {name}={values!r}"
        ) from None
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional; received {name} with shape {array.shape}"
        )
    return array
