"""What every schedule shares: evaluation on steps, config, and the registry."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any, ClassVar, TypeAlias, TypeVar, cast, overload

import numpy as np
import numpy.typing as npt

from cyclr.ops import NUMPY, PYTHON, Ops, TensorLike

_REGISTRY: dict[str, type[Schedule]] = {}

_S = TypeVar("_S", bound="type[Schedule]")


def register(cls: _S) -> _S:
    """Class decorator: make ``cls`` known to :func:`deserialize` by its name.

    Every cyclr schedule is registered; register your own :class:`Schedule`
    subclass so that a saved config (a checkpoint of ``cyclr.torch.CyclicLR``,
    a Keras model file, ``serialize``'s dict) reads back into it.

    Args:
      cls: a :class:`Schedule` subclass.

    Returns:
      ``cls`` itself.

    >>> import dataclasses, cyclr
    >>> @cyclr.register
    ... @dataclasses.dataclass(frozen=True)
    ... class Halving(cyclr.Schedule):
    ...     lr: float
    ...     every: int
    ...     def lr_at(self, t, ops):
    ...         return self.lr * 0.5 ** ops.floor(t / self.every)
    >>> cyclr.deserialize(cyclr.serialize(Halving(0.1, 100)))(250)
    0.025
    """
    _REGISTRY[cls.__name__] = cls
    return cls


def check_rate(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a finite rate >= 0.

    Args:
      name: the parameter's name, for the error.
      value: the value received.

    Returns:
      ``float(value)``.

    Raises:
      ValueError: naming the parameter and the value received.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number; received {name}={value!r}")
    rate = float(value)
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"{name} must be finite and >= 0; received {name}={rate!r}")
    return rate


def check_count(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``.

    Integral floats (``2000.0``, as the Keras snippets pass) are accepted.

    Args:
      name: the parameter's name, for the error.
      value: the value received.
      minimum: the least value allowed.

    Returns:
      ``int(value)``.

    Raises:
      ValueError: naming the parameter and the value received.
    """
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    if ok:
        as_float = float(value)
        ok = math.isfinite(as_float) and as_float == math.floor(as_float)
    if not ok:
        raise ValueError(f"{name} must be an integer; received {name}={value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}; received {name}={value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise.

    Args:
      name: the parameter's name, for the error.
      value: the value received.
      choices: the accepted strings.

    Returns:
      ``value``, unchanged.

    Raises:
      ValueError: naming the parameter, the choices and the value received.
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; received {name}={value!r}")
    return cast(str, value)


#: A step count as :meth:`Schedule.__call__` takes it: an int, or an array of them.
StepLike: TypeAlias = npt.ArrayLike

#: The math of a schedule: ``fn(t, ops)`` at float step ``t``.
_Math: TypeAlias = Callable[[TensorLike, Ops], TensorLike]


def _evaluate(fn: _Math, step: StepLike) -> float | npt.NDArray[np.float64]:
    """Evaluate ``fn(t, ops)`` on a step count: float for a scalar, array for an array."""
    if isinstance(step, numbers.Integral) and not isinstance(step, bool):
        if step < 0:
            raise ValueError(f"step must be >= 0; received step={step}")
        return float(fn(float(step), PYTHON))
    steps = np.asarray(step)
    if steps.dtype.kind not in "iuf":
        raise ValueError(f"step must be an integer or an array of them; received step={step!r}")
    if steps.size and not np.all(np.isfinite(steps)):
        raise ValueError(f"step must be finite; received step={step!r}")
    if steps.size and steps.min() < 0:
        raise ValueError(f"step must be >= 0; received step={steps.min().item()!r}")
    if steps.ndim == 0:
        return float(fn(float(steps), PYTHON))
    values: npt.NDArray[np.float64] = np.asarray(fn(steps.astype(np.float64), NUMPY), np.float64)
    out: npt.NDArray[np.float64] = np.broadcast_to(values, steps.shape).copy()  # writable
    return out


class Schedule:
    """A learning rate (and optionally a momentum) as a pure function of the step.

    ``step`` is the number of optimizer updates already applied (docs/semantics.md, *Time*), so
    ``schedule(0)`` is the first learning rate. Subclasses implement
    :meth:`lr_at` (and :meth:`momentum_at`) once, against an :class:`Ops`
    namespace; that single definition serves Python floats, NumPy arrays and,
    through the adapters, Keras, JAX and torch tensors.
    """

    has_momentum: ClassVar[bool] = False
    # Every concrete schedule is a dataclass; declared so that ``dataclasses.fields(self)``
    # type-checks here (an annotation only: the base class itself has no fields).
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def lr_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """The learning rate at float step ``t`` (a scalar, array or tensor).

        Args:
          t: the step, as a float or a floating array or tensor.
          ops: the array operations of ``t``'s kind (:data:`cyclr.ops.PYTHON`, ...).

        Returns:
          The learning rate, of ``t``'s kind.
        """
        raise NotImplementedError

    def momentum_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """The momentum (or Adam ``beta_1``) at float step ``t``.

        Args:
          t: the step, as a float or a floating array or tensor.
          ops: the array operations of ``t``'s kind (:data:`cyclr.ops.PYTHON`, ...).

        Returns:
          The momentum, of ``t``'s kind.

        Raises:
          ValueError: this schedule has no momentum (the base class always raises).
        """
        raise ValueError(
            f"{type(self).__name__} has no momentum schedule; pass "
            "base_momentum and max_momentum to cycle momentum"
        )

    @overload
    def __call__(self, step: int | np.integer[Any]) -> float: ...

    @overload
    def __call__(self, step: StepLike) -> float | npt.NDArray[np.float64]: ...

    def __call__(self, step: StepLike) -> float | npt.NDArray[np.float64]:
        """Learning rate at ``step``: a float for an int, an array for an array.

        Args:
          step: updates already applied: an int ``>= 0``, or an array of them.

        Returns:
          A float for an int (or a 0-d array), else a float64 array of ``step``'s shape.

        Raises:
          ValueError: a ``step`` that is negative, non-finite or not numeric.
        """
        return _evaluate(self.lr_at, step)

    @overload
    def momentum(self, step: int | np.integer[Any]) -> float: ...

    @overload
    def momentum(self, step: StepLike) -> float | npt.NDArray[np.float64]: ...

    def momentum(self, step: StepLike) -> float | npt.NDArray[np.float64]:
        """Momentum at ``step``: a float for an int, an array for an array.

        Args:
          step: updates already applied: an int ``>= 0``, or an array of them.

        Returns:
          A float for an int (or a 0-d array), else a float64 array of ``step``'s shape.

        Raises:
          ValueError: this schedule has no momentum, or a ``step`` that is negative,
            non-finite or not numeric.
        """
        if not self.has_momentum:
            self.momentum_at(0.0, PYTHON)  # raises the explanation
        return _evaluate(self.momentum_at, step)

    def __repr__(self) -> str:
        """The class and the arguments that differ from their defaults."""
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.default is dataclasses.MISSING or value != f.default:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-safe dict: ``cls.from_config(cfg) == self``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Schedule:
        """The schedule built from :meth:`to_config`'s output: ``cls(**config)``.

        Args:
          config: the constructor arguments.

        Returns:
          A new schedule of this class.

        Raises:
          ValueError: a bad argument, named with the value received.
        """
        return cls(**config)


def serialize(schedule: Schedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}``, JSON-safe, for any registered schedule.

    Args:
      schedule: a schedule whose class is registered (every cyclr schedule is).

    Returns:
      The class name and :meth:`Schedule.to_config`'s output.
    """
    return {"class_name": type(schedule).__name__, "config": schedule.to_config()}


def deserialize(data: dict[str, Any]) -> Schedule:
    """Inverse of :func:`serialize`.

    Args:
      data: ``{"class_name": ..., "config": ...}`` as :func:`serialize` returns it.

    Returns:
      The schedule.

    Raises:
      ValueError: ``data`` is not such a dict, or names an unknown class.
    """
    if not isinstance(data, dict) or "class_name" not in data or "config" not in data:
        raise ValueError(f"expected a dict with 'class_name' and 'config'; received {data!r}")
    name = data["class_name"]
    if name not in _REGISTRY:
        raise ValueError(f"unknown schedule class_name={name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[name].from_config(data["config"])
