"""From a range test to a ready cyclical schedule."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from cyclr.rangetest import _checks

if TYPE_CHECKING:
    from cyclr.cyclic import CyclicSchedule
    from cyclr.rangetest.result import RangeTestResult


def recommend(
    result: RangeTestResult,
    n_samples: int,
    batch_size: int,
    epochs_per_half_cycle: float = 4,
    *,
    monitor: str | None = None,
    **schedule_kwargs: Any,
) -> CyclicSchedule:
    """Deprecated: build the schedule from the one bounds reading instead.

    ``recommend(result, n, batch_size, epochs)`` is
    ``CyclicSchedule(*result.bounds(), step_size_for(n, batch_size, epochs))``;
    write that (it names each piece), this function goes in the next release.

    A ``CyclicSchedule`` with the suggested bounds and a half cycle of a few epochs.

    ::

        base_lr, max_lr = result.bounds(monitor)
        step_size       = round(epochs_per_half_cycle * ceil(n_samples / batch_size))

    Smith (2017) recommends a half cycle of 2 to 10 epochs.

    Args:
      result: a ``RangeTestResult``.
      n_samples: training examples per epoch, ``>= 1``.
      batch_size: examples per update, ``>= 1``.
      epochs_per_half_cycle: ``> 0`` (a fraction rounds to whole steps).
      monitor: the curve to read (defaults to the result's ``settings.monitor``).
      **schedule_kwargs: passed on to ``CyclicSchedule`` (``mode``, ``waveform``, ...).

    Returns:
      ``cyclr.CyclicSchedule(base_lr, max_lr, step_size, **schedule_kwargs)``.

    Raises:
      ValueError: bad counts, or a curve the bounds cannot be read from.

    >>> import numpy as np
    >>> from cyclr.rangetest import RangeTestResult, lr_ladder, smooth_losses
    >>> lrs = lr_ladder(1e-4, 1.0, 41); losses = 2.0 - np.tanh(np.log10(lrs) + 2.0)
    >>> r = RangeTestResult(lrs, losses, smooth_losses(losses), "end_of_ladder")
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     s = recommend(r, n_samples=1000, batch_size=32, epochs_per_half_cycle=2)
    >>> s.step_size, s(0) == r.bounds().base_lr, s(64) == r.bounds().max_lr
    (64, True, True)
    """
    warnings.warn(
        "recommend is deprecated and will be removed in the next release; use "
        "cyclr.CyclicSchedule(*result.bounds(), step_size=cyclr.step_size_for("
        "n_samples, batch_size, epochs))",
        DeprecationWarning,
        stacklevel=2,
    )
    from cyclr.cyclic import CyclicSchedule
    from cyclr.planning import step_size_for

    n_samples = _checks.count("n_samples", n_samples, 1)
    batch_size = _checks.count("batch_size", batch_size, 1)
    epochs = _checks.real("epochs_per_half_cycle", epochs_per_half_cycle)
    if epochs <= 0.0:
        raise ValueError(
            "epochs_per_half_cycle must be > 0; received "
            f"epochs_per_half_cycle={epochs_per_half_cycle!r}"
        )
    bounds = result.bounds(monitor)
    step_size = step_size_for(n_samples, batch_size, epochs)
    return CyclicSchedule(bounds.base_lr, bounds.max_lr, step_size, **schedule_kwargs)
