"""How a range test is run: the settings every recorder and result carries.

The rules are in docs/semantics.md, *The learning-rate range test*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cyclr.rangetest import _checks
from cyclr.rangetest.ladder import check_beta, check_ladder

#: The curves a range test can read its suggestions from.
MONITORS = ("loss", "val_loss", "val_accuracy")

#: The ladder every entry point runs by default (``range_test``, ``find_lr``, ``LRFinder``,
#: ``RangeTest``): 1e-5 -> 10 in 450 rungs, 75 per decade, wide enough for SGD and Adam
#: alike. ``result.bounds()`` was validated on it by training (docs/results.md, *Do the
#: suggested bounds train well?*), and reads the same on other ladders (docs/results.md,
#: *The bounds on six ladders*).
DEFAULT_START_LR = 1e-5
DEFAULT_END_LR = 10.0
DEFAULT_NUM_STEPS = 450


@dataclass(frozen=True)
class RangeTestSettings:
    """How a range test is run; validated on construction.

    The rules are in docs/semantics.md, *The learning-rate range test*.

    The default ladder is :data:`DEFAULT_START_LR` -> :data:`DEFAULT_END_LR` in
    :data:`DEFAULT_NUM_STEPS` rungs, the one the bounds were validated on.

    Args:
      start_lr: the first rung of the ladder (see ``lr_ladder``).
      end_lr: the last rung.
      num_steps: the number of rungs, ``>= 2``.
      step_mode: ``'exp'`` or ``'linear'``.
      beta: the smoothing decay, in ``[0, 1)``.
      diverge_factor: stop once ``smooth > best + (diverge_factor - 1) * |best|``; ``> 1``.
      min_steps_before_stop: the rung (1-based) from which divergence is checked; ``>= 1``.
      monitor: the curve the suggestions read: ``'loss'``, ``'val_loss'``, ``'val_accuracy'``.
      fine_tuning: the network under test starts from trained weights: its bounds are
        read with ``BoundsSettings(fine_tuning=True)`` (a factor 2 lower).

    Raises:
      ValueError: naming the parameter and the value received.

    >>> RangeTestSettings(1e-4, 1.0, 50).num_steps
    50
    """

    start_lr: float = DEFAULT_START_LR
    end_lr: float = DEFAULT_END_LR
    num_steps: int = DEFAULT_NUM_STEPS
    step_mode: str = "exp"
    beta: float = 0.98
    diverge_factor: float = 4.0
    min_steps_before_stop: int = 5
    monitor: str = "loss"
    fine_tuning: bool = False

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        start, end, n, mode = check_ladder(
            self.start_lr, self.end_lr, self.num_steps, self.step_mode
        )
        put("start_lr", start)
        put("end_lr", end)
        put("num_steps", n)
        put("step_mode", mode)
        put("beta", check_beta(self.beta))
        factor = _checks.real("diverge_factor", self.diverge_factor)
        if factor <= 1.0:
            raise ValueError(f"diverge_factor must be > 1; received diverge_factor={factor!r}")
        put("diverge_factor", factor)
        put(
            "min_steps_before_stop",
            _checks.count("min_steps_before_stop", self.min_steps_before_stop, 1),
        )
        _checks.choice("monitor", self.monitor, MONITORS)
        put("fine_tuning", _checks.flag("fine_tuning", self.fine_tuning))
