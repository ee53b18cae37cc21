"""Constant and linear pieces, and joining schedules in local time (as optax does)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cyclr._base import Schedule, check_count, check_rate, deserialize, register, serialize
from cyclr.ops import Ops, TensorLike


@register
@dataclass(frozen=True, repr=False)
class Constant(Schedule):
    """The same learning rate (and momentum, if given) at every step.

    >>> Constant(0.1)(1000)
    0.1
    """

    value: float
    momentum_value: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_rate("value", self.value))
        if self.momentum_value is not None:
            object.__setattr__(
                self, "momentum_value", check_rate("momentum_value", self.momentum_value)
            )

    @property
    def has_momentum(self) -> bool:  # type: ignore[override]
        """Whether a ``momentum_value`` was given."""
        return self.momentum_value is not None

    def lr_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """``value`` at every step, of ``t``'s kind."""
        return t * 0.0 + self.value

    def momentum_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """``momentum_value`` at every step; raises ``ValueError`` if none was given."""
        if self.momentum_value is None:
            return super().momentum_at(t, ops)
        return t * 0.0 + self.momentum_value


@register
@dataclass(frozen=True, repr=False)
class Linear(Schedule):
    """From ``init_value`` to ``end_value`` over ``transition_steps``, then hold (a warm-up).

    >>> s = Linear(0.0, 1.0, transition_steps=4)
    >>> [s(i) for i in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    init_value: float
    end_value: float
    transition_steps: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "init_value", check_rate("init_value", self.init_value))
        object.__setattr__(self, "end_value", check_rate("end_value", self.end_value))
        object.__setattr__(
            self, "transition_steps", check_count("transition_steps", self.transition_steps)
        )

    def lr_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """``init_value + (end_value - init_value) * clip(t / transition_steps, 0, 1)``."""
        frac = ops.clip(t / self.transition_steps, 0.0, 1.0)
        return self.init_value + (self.end_value - self.init_value) * frac


@register
@dataclass(frozen=True, repr=False)
class Join(Schedule):
    """Run ``schedules[i]`` from ``boundaries[i-1]`` on, each in its own local time.

    Like optax's ``join_schedules``: at step ``t`` with
    ``boundaries[i-1] <= t < boundaries[i]`` the value is
    ``schedules[i](t - boundaries[i-1])``.

    >>> from cyclr.cyclic import CyclicSchedule
    >>> s = Join([Linear(0.0, 1.0, 2), CyclicSchedule(1.0, 3.0, step_size=2)], [2])
    >>> [s(i) for i in range(7)]
    [0.0, 0.5, 1.0, 2.0, 3.0, 2.0, 1.0]
    """

    # Lists are accepted and stored as tuples (the schedule stays hashable).
    schedules: Sequence[Schedule]
    boundaries: Sequence[int]

    def __post_init__(self) -> None:
        schedules, boundaries = tuple(self.schedules), tuple(self.boundaries)
        if not schedules or not all(isinstance(s, Schedule) for s in schedules):
            raise ValueError(
                f"schedules must be a non-empty list of Schedules; "
                f"received schedules={self.schedules!r}"
            )
        if len(boundaries) != len(schedules) - 1:
            raise ValueError(
                f"need len(schedules) - 1 = {len(schedules) - 1} boundaries; "
                f"received boundaries={list(boundaries)!r}"
            )
        boundaries = tuple(check_count("boundaries", b) for b in boundaries)
        if any(b >= c for b, c in itertools.pairwise(boundaries)):
            raise ValueError(f"boundaries must increase; received boundaries={list(boundaries)!r}")
        object.__setattr__(self, "schedules", schedules)
        object.__setattr__(self, "boundaries", boundaries)

    @property
    def has_momentum(self) -> bool:  # type: ignore[override]
        """Whether every joined schedule has a momentum."""
        return all(s.has_momentum for s in self.schedules)

    def _select(self, t: TensorLike, ops: Ops, method: str) -> TensorLike:
        starts = (0, *self.boundaries)
        value = getattr(self.schedules[-1], method)(t - starts[-1], ops)
        for i in range(len(self.schedules) - 2, -1, -1):
            here = getattr(self.schedules[i], method)(t - starts[i], ops)
            value = ops.where(t < self.boundaries[i], here, value)
        return value

    def lr_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """The learning rate of the piece running at ``t``, in its local time."""
        return self._select(t, ops, "lr_at")

    def momentum_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """The momentum of the piece running at ``t``; raises if a piece has none."""
        if not self.has_momentum:
            return super().momentum_at(t, ops)
        return self._select(t, ops, "momentum_at")

    def to_config(self) -> dict[str, Any]:
        """The serialized pieces and the boundaries, JSON-safe."""
        return {
            "schedules": [serialize(s) for s in self.schedules],
            "boundaries": list(self.boundaries),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Join:
        """Inverse of :meth:`to_config`.

        Args:
          config: ``{"schedules": [serialized, ...], "boundaries": [...]}``.

        Returns:
          The joined schedule.

        Raises:
          ValueError: a bad piece or boundary.
        """
        return cls([deserialize(s) for s in config["schedules"]], config["boundaries"])


def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Join:
    """Join schedules in local time; see :class:`Join`.

    Args:
      schedules: the pieces, in order (at least one).
      boundaries: the steps at which each next piece starts, increasing;
        ``len(schedules) - 1`` of them.

    Returns:
      The :class:`Join`.

    Raises:
      ValueError: an empty or non-schedule piece, or bad boundaries.
    """
    return Join(schedules, boundaries)
