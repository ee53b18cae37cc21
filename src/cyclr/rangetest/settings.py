"""How a range test is run: the settings every recorder and result carries.

The rules are in docs/semantics.md, *The learning-rate range test*.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from cyclr.rangetest import _checks
from cyclr.rangetest.ladder import check_beta, check_ladder

#: The curves a range test can read its suggestions from.
MONITORS = ("loss", "val_loss", "val_accuracy")

#: The ladder every entry point runs by default (``cyclr.torch.range_test``,
#: ``cyclr.keras.find_lr`` and ``LRFinder``, ``cyclr.lightning.RangeTestCallback``,
#: ``cyclr.hf.range_test``, ``cyclr.jax.range_test``, ``RangeTest`` and the ``cyclr``
#: command, for every optimizer): 1e-5 -> 10 in 450 rungs, 75 per decade, wide enough for
#: SGD and Adam alike. ``result.bounds()`` was validated on it by training (docs/results.md,
#: *Do the suggested bounds train well?*), and reads the same on other ladders
#: (docs/results.md, *The bounds on six ladders*).
DEFAULT_START_LR = 1e-5
DEFAULT_END_LR = 10.0
DEFAULT_NUM_STEPS = 450
#: Validation batches are scored every this many rungs by default: the judging study
#: read its validation curves so (docs/results.md, *Do the suggested bounds train well?*).
DEFAULT_VAL_EVERY = 2


@dataclass(frozen=True)
class RangeTestSettings:
    """How a range test is run, the same for every entry point; validated on construction.

    Every range test takes one (``settings=``): ``cyclr.torch.range_test``,
    ``cyclr.keras.find_lr`` and ``LRFinder``, ``cyclr.lightning.RangeTestCallback``,
    ``cyclr.hf.range_test``, ``cyclr.jax.range_test``; the ``cyclr`` command builds one
    from its flags. The rules are in docs/semantics.md, *The learning-rate range test*.

    The default ladder is :data:`DEFAULT_START_LR` -> :data:`DEFAULT_END_LR` in
    :data:`DEFAULT_NUM_STEPS` rungs, the one the bounds were validated on.

    Args:
      start_lr: the first rung of the ladder (see ``lr_ladder``), or ``None``: the
        optimizer's own learning rate, as torch-lr-finder starts (``cyclr.torch.range_test``,
        the Lightning callback, ``cyclr.hf.range_test``, and Keras' ``find_lr`` and
        ``LRFinder``, which read the compiled optimizer's rate when ``fit`` begins;
        ``cyclr.jax.range_test`` and ``RangeTest`` refuse it).
      end_lr: the last rung.
      num_steps: the number of rungs, ``>= 2``.
      step_mode: ``'exp'`` or ``'linear'``.
      beta: the smoothing decay, in ``[0, 1)``.
      diverge_factor: stop once ``smooth > best + (diverge_factor - 1) * |best|``; ``> 1``.
      min_steps_before_stop: the rung (1-based) from which divergence is checked; ``>= 1``.
      val_every: with validation data, score it after rung ``i`` when
        ``i % val_every == 0`` (rung 0 first); ``>= 1``.
      monitor: the curve the suggestions read: ``'loss'``, ``'val_loss'``,
        ``'val_accuracy'``, or ``None`` (the default): ``'val_loss'`` when the test has
        validation data, else ``'loss'``. A finished test's result holds the curve chosen.
      fine_tuning: the network under test starts from trained weights: its bounds are
        read with ``BoundsSettings(fine_tuning=True)`` (a factor 2 lower).

    Raises:
      ValueError: naming the parameter and the value received.

    >>> RangeTestSettings(1e-4, 1.0, 50).num_steps
    50
    """

    start_lr: float | None = DEFAULT_START_LR
    end_lr: float = DEFAULT_END_LR
    num_steps: int = DEFAULT_NUM_STEPS
    step_mode: str = "exp"
    beta: float = 0.98
    diverge_factor: float = 4.0
    min_steps_before_stop: int = 5
    val_every: int = DEFAULT_VAL_EVERY
    monitor: str | None = None
    fine_tuning: bool = False

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        if self.start_lr is None:  # resolved by an entry point that knows the optimizer
            end = _checks.real("end_lr", self.end_lr)
            if end <= 0.0:
                raise ValueError(f"end_lr must be > 0; received end_lr={self.end_lr!r}")
            _, end, n, mode = check_ladder(0.0, end, self.num_steps, "linear")
            mode = _checks.choice("step_mode", self.step_mode, ("exp", "linear"))
        else:
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
        put("val_every", _checks.count("val_every", self.val_every, 1))
        if self.monitor is not None:
            _checks.choice("monitor", self.monitor, MONITORS)
        put("fine_tuning", _checks.flag("fine_tuning", self.fine_tuning))


def resolve_monitor(settings: RangeTestSettings, has_validation: bool) -> RangeTestSettings:
    """``settings`` with its ``monitor`` chosen: the rule of ``monitor=None``, checked.

    Raises:
      ValueError: a validation curve asked for with no validation data, naming the monitor.

    >>> resolve_monitor(RangeTestSettings(), has_validation=True).monitor
    'val_loss'
    """
    monitor = settings.monitor
    if monitor is None:
        monitor = "val_loss" if has_validation else "loss"
    elif monitor != "loss" and not has_validation:
        raise ValueError(
            f"monitor={monitor!r} reads a validation curve, and this range test has no "
            f"validation data; pass it, or use monitor='loss'"
        )
    return replace(settings, monitor=monitor)


def checked_settings(settings: RangeTestSettings | None) -> RangeTestSettings:
    """``settings``, or the defaults when ``None``; anything else is refused, named."""
    if settings is None:
        return RangeTestSettings()
    if not isinstance(settings, RangeTestSettings):
        raise ValueError(
            f"settings must be a cyclr.RangeTestSettings; received settings={settings!r}"
        )
    return settings


def with_start_lr(settings: RangeTestSettings, start_lr: float) -> RangeTestSettings:
    """``settings`` whose ``start_lr=None`` is now ``start_lr`` (the optimizer's), checked."""
    if settings.start_lr is not None:
        return settings
    return replace(settings, start_lr=start_lr)
