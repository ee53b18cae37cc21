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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

#: What a schedule's math takes and returns: a Python float, a NumPy array, or a
#: framework tensor (JAX, torch, Keras). The math uses only Python arithmetic and
#: an :class:`Ops` namespace, so the one definition serves all of them; no static
#: type says "any of those", hence ``Any``.
TensorLike: TypeAlias = Any


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
    asfloat: Callable[[TensorLike], TensorLike]
    floor: Callable[[TensorLike], TensorLike]
    cos: Callable[[TensorLike], TensorLike]
    exp: Callable[[TensorLike], TensorLike]
    where: Callable[[TensorLike, TensorLike, TensorLike], TensorLike]
    clip: Callable[[TensorLike, float, float], TensorLike]


def _py_where(cond: object, a: TensorLike, b: TensorLike) -> TensorLike:
    return a if cond else b


def _py_clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _py_floor(x: float) -> float:
    return float(math.floor(x))


def _np_asfloat(x: TensorLike) -> npt.NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


PYTHON = Ops(
    name="python",
    asfloat=float,
    floor=_py_floor,
    cos=math.cos,
    exp=math.exp,
    where=_py_where,
    clip=_py_clip,
)

NUMPY = Ops(
    name="numpy",
    asfloat=_np_asfloat,
    floor=np.floor,
    cos=np.cos,
    exp=np.exp,
    where=np.where,
    clip=np.clip,
)
