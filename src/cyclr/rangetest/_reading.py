"""The readings of a ``RangeTestResult``: its curves, bounds, suggestions and summary.

The methods ``curve``, ``bounds``, ``suggestions`` and ``summary`` of
:class:`~cyclr.RangeTestResult` are documented there and made here, each a function of
the result; the readings are remembered in the result's cache (it is immutable).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks
from cyclr.rangetest.bounds import BoundsSettings, BoundsSuggestion, suggest_bounds
from cyclr.rangetest.settings import MONITORS
from cyclr.rangetest.suggestions import SINGLE_SUGGESTIONS, Suggestion

if TYPE_CHECKING:
    from cyclr.rangetest.result import RangeTestResult


def curve(
    result: RangeTestResult, monitor: str | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str]:
    """``result.curve(monitor)``: ``(lrs, values, mode)``, validation curves' measured rungs."""
    monitor = _checks.choice("monitor", monitor or result.settings.monitor, MONITORS)
    if monitor == "loss":
        return result.lrs, result.losses, "loss"
    values = result.val_losses if monitor == "val_loss" else result.val_accuracies
    if values is None:
        raise ValueError(f"this range test recorded no {monitor}; received monitor={monitor!r}")
    measured = ~np.isnan(values)
    return (
        result.lrs[measured],
        values[measured],
        ("accuracy" if monitor == "val_accuracy" else "loss"),
    )


def rungs(result: RangeTestResult, monitor: str | None) -> npt.NDArray[np.intp]:
    """The rung (index into ``result.lrs``) of each point of :func:`curve`'s curve."""
    monitor = _checks.choice("monitor", monitor or result.settings.monitor, MONITORS)
    if monitor == "loss":
        return np.arange(result.lrs.size)
    values = result.val_losses if monitor == "val_loss" else result.val_accuracies
    assert values is not None  # curve() refused a curve the test did not record
    return np.flatnonzero(~np.isnan(values))


def bounds(
    result: RangeTestResult, monitor: str | None, settings: BoundsSettings | None
) -> BoundsSuggestion:
    """``result.bounds(monitor, settings)``, computed once per curve and settings."""
    key = ("bounds", monitor or result.settings.monitor, settings)
    cache = result._cache
    if key not in cache:
        lrs, values, mode = curve(result, monitor)
        k = reading_settings(result, lrs, settings)
        found = rungs(result, monitor)
        try:
            read = suggest_bounds(lrs, values, mode=mode, settings=k)
        except ValueError as error:
            cache[key] = error
        else:  # the curve's points -> the rungs of ``lrs``
            cache[key] = replace(
                read,
                base_index=int(found[read.base_index]),
                max_index=int(found[read.max_index]),
            )
    remembered: BoundsSuggestion | ValueError = cache[key]
    if isinstance(remembered, ValueError):
        raise ValueError(str(remembered))
    return remembered


def reading_settings(
    result: RangeTestResult, lrs: npt.NDArray[np.float64], settings: BoundsSettings | None
) -> BoundsSettings:
    """``settings`` for reading a curve of ``result`` measured at ``lrs`` (a rung subset).

    No ``settings``: the validated ones, ``fine_tuning`` as the test recorded it. A
    validation curve measured every few rungs is read with the delay in its own
    points: the delay counts updates.
    """
    fine_tuning = result.settings.fine_tuning
    k = BoundsSettings(fine_tuning=fine_tuning) if settings is None else settings
    if isinstance(k, BoundsSettings) and 1 < lrs.size < result.lrs.size:
        every = (result.lrs.size - 1) / (lrs.size - 1)
        k = replace(k, delay=round(k.delay / every))
    return k


def suggestions(result: RangeTestResult, monitor: str | None) -> dict[str, Suggestion | None]:
    """``result.suggestions(monitor)``, computed once per curve."""
    key = ("single", monitor or result.settings.monitor)
    cache = result._cache
    if key not in cache:
        lrs, values, mode = curve(result, monitor)
        found = rungs(result, monitor)
        readings: dict[str, Suggestion | None] = {}
        for name, reading in SINGLE_SUGGESTIONS.items():
            try:
                single = reading(lrs, values, mode=mode)
            except ValueError:
                readings[name] = None
            else:
                readings[name] = single._replace(index=int(found[single.index]))
        cache[key] = readings
    return dict(cache[key])


def bounds_or_none(result: RangeTestResult, monitor: str | None) -> BoundsSuggestion | None:
    """``result.bounds(monitor)``, or ``None`` where the curve gives none."""
    try:
        return result.bounds(monitor)
    except ValueError:
        return None


def summary(result: RangeTestResult, monitor: str | None) -> str:
    """``result.summary(monitor)``: what ran, why it stopped, the suggestions."""
    s = result.settings
    lines = [
        f"range test: {result.lrs.size} of {s.num_steps} rungs ({s.step_mode} ladder, "
        f"{s.start_lr:.3g} -> {s.end_lr:.3g}), stopped: {result.stop_reason}"
    ]
    finite = np.isfinite(result.smoothed)
    if finite.any():
        i = int(np.flatnonzero(finite)[np.argmin(result.smoothed[finite])])
        lines.append(
            f"lowest smoothed training loss {result.smoothed[i]:.4g} at lr={result.lrs[i]:.3g}"
        )
    monitor = monitor or s.monitor
    found = result.suggestions(monitor)
    read_bounds = bounds_or_none(result, monitor)
    read = f"{monitor}, fine-tuning" if s.fine_tuning else monitor
    lines.append(
        f"suggested bounds ({read}): "
        + (
            f"base_lr={read_bounds.base_lr:.3g}, max_lr={read_bounds.max_lr:.3g}"
            if read_bounds
            else "none (too few points or no descent)"
        )
    )
    lines.append(
        " | ".join(f"{name}: " + (f"{x.lr:.3g}" if x else "none") for name, x in found.items())
        + f" ({monitor})"
    )
    return "\n".join(lines)
