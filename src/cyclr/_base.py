"""What every schedule shares: evaluation on steps, config, and the registry."""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, ClassVar

import numpy as np

from cyclr._ops import NUMPY, PYTHON, Ops

_REGISTRY: dict[str, type["Schedule"]] = {}


def register(cls):
    """Class decorator: make ``cls`` known to :func:`deserialize` by its name."""
    _REGISTRY[cls.__name__] = cls
    return cls


def check_rate(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a finite rate >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number; received {name}={value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0; received {name}={value!r}")
    return value


def check_count(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``.

    Integral floats (``2000.0``, as the Keras snippets pass) are accepted.
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
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}; received {name}={value!r}")
    return value


def _evaluate(fn, step):
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
    values = fn(steps.astype(np.float64), NUMPY)
    return np.broadcast_to(np.asarray(values, dtype=np.float64), steps.shape).copy()


class Schedule:
    """A learning rate (and optionally a momentum) as a pure function of the step.

    ``step`` is the number of optimizer updates already applied (SPEC.md), so
    ``schedule(0)`` is the first learning rate. Subclasses implement
    :meth:`lr_at` (and :meth:`momentum_at`) once, against an :class:`Ops`
    namespace; that single definition serves Python floats, NumPy arrays and,
    through the adapters, Keras, JAX and torch tensors.
    """

    has_momentum: ClassVar[bool] = False

    def lr_at(self, t, ops: Ops):
        """The learning rate at float step ``t`` (a scalar, array or tensor)."""
        raise NotImplementedError

    def momentum_at(self, t, ops: Ops):
        """The momentum (or Adam ``beta_1``) at float step ``t``."""
        raise ValueError(f"{type(self).__name__} has no momentum schedule; pass "
                         "base_momentum and max_momentum to cycle momentum")

    def __call__(self, step):
        """Learning rate at ``step``: a float for an int, an array for an array."""
        return _evaluate(self.lr_at, step)

    def momentum(self, step):
        """Momentum at ``step``: a float for an int, an array for an array."""
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

    def to_config(self) -> dict:
        """The constructor arguments as a JSON-safe dict: ``cls.from_config(cfg) == self``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_config(cls, config: dict) -> "Schedule":
        return cls(**config)


def serialize(schedule: Schedule) -> dict:
    """``{"class_name": ..., "config": ...}``, JSON-safe, for any registered schedule."""
    return {"class_name": type(schedule).__name__, "config": schedule.to_config()}


def deserialize(data: dict) -> Schedule:
    """Inverse of :func:`serialize`."""
    if not isinstance(data, dict) or "class_name" not in data or "config" not in data:
        raise ValueError(f"expected a dict with 'class_name' and 'config'; received {data!r}")
    name = data["class_name"]
    if name not in _REGISTRY:
        raise ValueError(f"unknown schedule class_name={name!r}; known: {sorted(_REGISTRY)}")
    return _REGISTRY[name].from_config(data["config"])
