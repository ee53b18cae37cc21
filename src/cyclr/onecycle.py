"""The one-cycle policy (Smith 2018), with PyTorch ``OneCycleLR``'s numbers."""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, InitVar, dataclass
from typing import Any, cast

from cyclr._base import Schedule, check_choice, check_count, check_rate, register
from cyclr._facade import as_scalar
from cyclr.ops import Ops

ANNEALS = ("cos", "linear")


def anneal(kind: str, start: Any, end: Any, pct: Any, ops: Ops) -> Any:
    """Go from ``start`` to ``end`` as ``pct`` goes from 0 to 1.

    ``cos``: ``end + (start - end) / 2 * (cos(pi * pct) + 1)``;
    ``linear``: ``start + (end - start) * pct``.
    """
    if kind == "cos":
        return end + (start - end) / 2.0 * (ops.cos(math.pi * pct) + 1.0)
    return (end - start) * pct + start


@register
@dataclass(frozen=True, repr=False)
class OneCycle(Schedule):
    """One cycle up to ``max_lr`` and down far below the start (Smith 2018).

    Same parameters and values as ``torch.optim.lr_scheduler.OneCycleLR``:
    the lr rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start * total_steps - 1`` steps, then anneals to
    ``max_lr / div_factor / final_div_factor`` at step ``total_steps - 1``
    (``three_phase`` comes back to the start first). Momentum runs inverse.
    Past ``total_steps`` it holds its final value.

    Args:
      max_lr: the peak learning rate.
      total_steps: the length of the cycle in optimizer updates.
      epochs, steps_per_epoch: instead of ``total_steps`` (as PyTorch's
        ``OneCycleLR``): ``total_steps = epochs * steps_per_epoch``. Not stored:
        the schedule keeps, and ``to_config()`` saves, the resolved
        ``total_steps``, so it equals the one built with that ``total_steps``.
      pct_start: the fraction of the cycle spent rising.
      anneal: ``'cos'`` or ``'linear'`` (PyTorch's ``anneal_strategy``).
      div_factor, final_div_factor: start at ``max_lr / div_factor``, end at
        ``max_lr / div_factor / final_div_factor``.
      three_phase: come back to the start before the final annealing.
      base_momentum, max_momentum: momentum bounds (both ``None``: no momentum).

    Raises:
      ValueError: naming the parameter and the value received.

    >>> s = OneCycle(1.0, total_steps=10, pct_start=0.5, anneal='linear',
    ...              div_factor=2.0, final_div_factor=1.0)
    >>> [round(s(i), 3) for i in (0, 2, 4, 9, 50)]
    [0.5, 0.75, 1.0, 0.5, 0.5]
    >>> OneCycle(0.1, epochs=3, steps_per_epoch=100) == OneCycle(0.1, total_steps=300)
    True
    """

    max_lr: float
    total_steps: int | None = None
    _: KW_ONLY
    epochs: InitVar[int | None] = None
    steps_per_epoch: InitVar[int | None] = None
    pct_start: float = 0.3
    anneal: str = "cos"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False
    base_momentum: float | None = 0.85
    max_momentum: float | None = 0.95

    def __post_init__(self, epochs: int | None, steps_per_epoch: int | None) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("max_lr", check_rate("max_lr", as_scalar(self.max_lr)))
        put("total_steps", self._resolve_total_steps(epochs, steps_per_epoch))
        check_choice("anneal", self.anneal, ANNEALS)
        for name in ("div_factor", "final_div_factor"):
            value = check_rate(name, as_scalar(getattr(self, name)))
            if value <= 0:
                raise ValueError(f"{name} must be > 0; received {name}={value!r}")
            put(name, value)
        pct = check_rate("pct_start", as_scalar(self.pct_start))
        if not 0.0 < pct < 1.0:
            raise ValueError(f"pct_start must be in (0, 1); received pct_start={pct!r}")
        put("pct_start", pct)
        put("three_phase", bool(self.three_phase))
        if (self.base_momentum is None) != (self.max_momentum is None):
            raise ValueError(
                "give both base_momentum and max_momentum, or neither; received "
                f"base_momentum={self.base_momentum!r}, "
                f"max_momentum={self.max_momentum!r}"
            )
        if self.base_momentum is not None:
            base = check_rate("base_momentum", as_scalar(self.base_momentum))
            top = check_rate("max_momentum", as_scalar(self.max_momentum))
            if base > top or top > 1.0:
                raise ValueError(
                    "need 0 <= base_momentum <= max_momentum <= 1; received "
                    f"base_momentum={base!r}, max_momentum={top!r}"
                )
            put("base_momentum", base)
            put("max_momentum", top)
        ends = [end for end, *_ in self._phases()]
        starts = [0.0, *ends[:-1]]
        if any(end <= start for start, end in zip(starts, ends, strict=True)):
            raise ValueError(
                "every phase needs at least one step: pct_start * total_steps must exceed 1 "
                f"and leave room after it; received pct_start={pct!r}, "
                f"total_steps={self.total_steps!r}, three_phase={self.three_phase!r}"
            )

    def _resolve_total_steps(self, epochs: Any, steps_per_epoch: Any) -> int:
        received = (
            f"received total_steps={self.total_steps!r}, epochs={epochs!r}, "
            f"steps_per_epoch={steps_per_epoch!r}"
        )
        by_epochs = epochs is not None or steps_per_epoch is not None
        if self.total_steps is not None:
            if by_epochs:
                raise ValueError(
                    "give total_steps, or epochs and steps_per_epoch, not both; " + received
                )
            return check_count("total_steps", self.total_steps, minimum=2)
        if epochs is None or steps_per_epoch is None:
            raise ValueError("give total_steps, or both epochs and steps_per_epoch; " + received)
        total = check_count("epochs", epochs) * check_count("steps_per_epoch", steps_per_epoch)
        if total < 2:
            raise ValueError(
                "a cycle needs at least 2 steps: epochs * steps_per_epoch must be "
                f">= 2; received epochs={epochs!r}, steps_per_epoch="
                f"{steps_per_epoch!r}"
            )
        return total

    @property
    def has_momentum(self) -> bool:  # type: ignore[override]
        """Whether momentum cycles too (both momentum bounds given)."""
        return self.base_momentum is not None

    @property
    def initial_lr(self) -> float:
        """The first learning rate, ``max_lr / div_factor``."""
        return self.max_lr / self.div_factor

    @property
    def min_lr(self) -> float:
        """The final learning rate, ``initial_lr / final_div_factor``."""
        return self.initial_lr / self.final_div_factor

    @property
    def _total(self) -> int:
        return cast(int, self.total_steps)  # resolved in __post_init__, never None after

    def _phases(self) -> list[tuple[float, Any, Any, Any, Any]]:
        """(end_step, start_lr, end_lr, start_m, end_m) per phase, as OneCycleLR builds them."""
        up_end = float(self.pct_start * self._total) - 1
        last = float(self._total - 1)
        lo, top, floor = self.initial_lr, self.max_lr, self.min_lr
        bm, mm = self.base_momentum, self.max_momentum
        if self.three_phase:
            return [
                (up_end, lo, top, mm, bm),
                (float(2 * self.pct_start * self._total) - 2, top, lo, bm, mm),
                (last, lo, floor, mm, mm),
            ]
        return [(up_end, lo, top, mm, bm), (last, top, floor, bm, mm)]

    def _evaluate_phases(self, t: Any, ops: Ops, column: int) -> Any:
        t = ops.clip(t, 0.0, float(self._total - 1))
        phases = self._phases()
        starts = [0.0] + [end for end, *_ in phases[:-1]]
        value = None
        for start, phase in reversed(list(zip(starts, phases, strict=True))):
            end = phase[0]
            here = anneal(
                self.anneal, phase[column], phase[column + 1], (t - start) / (end - start), ops
            )
            value = here if value is None else ops.where(t <= end, here, value)
        return value

    def lr_at(self, t: Any, ops: Ops) -> Any:
        """The learning rate at float step ``t`` (a scalar, array or tensor)."""
        return self._evaluate_phases(t, ops, 1)

    def momentum_at(self, t: Any, ops: Ops) -> Any:
        """The momentum at float step ``t``, inverse to the learning rate."""
        if not self.has_momentum:
            return super().momentum_at(t, ops)
        return self._evaluate_phases(t, ops, 3)
