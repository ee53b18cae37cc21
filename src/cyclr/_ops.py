"""The handful of array operations every schedule is written against.

A schedule's math is written once, as a function of a float step ``t`` and an
``Ops`` namespace; everything else is Python arithmetic (``+ - * / **`` and
comparisons), which NumPy arrays, JAX arrays, torch tensors and Keras tensors
all overload. Python floats take the :data:`PYTHON` namespace, so a scalar
call costs a few microseconds and no array is built.

The adapters define the namespaces of their frameworks (``cyclr.torch``,
``cyclr.jax``, ``cyclr.keras``); this module imports none of them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass(frozen=True)
class Ops:
    """Array operations a schedule needs beyond Python arithmetic.

    Attributes:
      name: a label for errors and reprs.
      asfloat: step count (int, array or tensor) -> floating array or tensor.
      floor: elementwise floor, keeping a floating type.
      cos: elementwise cosine.
      exp: elementwise exponential.
      where: ``where(cond, a, b)``; ``a`` and ``b`` may be Python floats.
      clip: ``clip(x, lo, hi)`` with Python-float bounds.
    """

    name: str
    asfloat: Callable[[Any], Any]
    floor: Callable[[Any], Any]
    cos: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]
    clip: Callable[[Any, float, float], Any]


def _py_where(cond, a, b):
    return a if cond else b


def _py_clip(x, lo, hi):
    return min(max(x, lo), hi)


PYTHON = Ops(
    name="python",
    asfloat=float,
    floor=lambda x: float(math.floor(x)),
    cos=math.cos,
    exp=math.exp,
    where=_py_where,
    clip=_py_clip,
)

NUMPY = Ops(
    name="numpy",
    asfloat=lambda x: np.asarray(x, dtype=np.float64),
    floor=np.floor,
    cos=np.cos,
    exp=np.exp,
    where=np.where,
    clip=np.clip,
)
