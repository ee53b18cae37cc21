"""The ``(base_lr, max_lr)`` reading of a range test: cyclr's one way to get bounds.

The rules are in docs/semantics.md, *The bounds reading*. The study behind the reading
(which estimators were tried, on which tasks, with which regrets) is told in
docs/bounds-reading.md, and its measurements are in docs/results.md. Its knobs and its answer
(``BoundsSettings``, ``BoundsSuggestion``) are defined in ``_bounds_settings`` and
importable from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks
from cyclr.rangetest._bounds_settings import (
    FINE_TUNING_DECADES,
    BoundsSettings,
    BoundsSuggestion,
)
from cyclr.rangetest._bounds_settings import checked as _settings
from cyclr.rangetest.suggestions import MIN_POINTS, read_curve

__all__ = [
    "FINE_TUNING_DECADES",
    "BoundsSettings",
    "BoundsSuggestion",
    "bounds_curve",
    "robust_smooth",
    "suggest_bounds",
    "window_rungs",
]


def robust_smooth(values: npt.ArrayLike, window: int | None = None) -> npt.NDArray[np.float64]:
    """Zero-lag smoothing that ignores isolated spikes: a running median, then a Gaussian.

    ::

        m = running median of width w (odd, edges padded with the end values)
        s = m convolved with a Gaussian of sigma = w / 2 (edges padded likewise)

    Unlike the EMA, the result does not lag behind the curve, so a feature stays
    at the rung where it happened: the bounds reading needs the rung of the
    bottom, not a rung some steps after it. ``window`` defaults to
    ``max(5, n // 20)`` made odd.

    Args:
      values: a 1-D sequence of numbers.
      window: the median's width in rungs (made odd), ``>= 1``.

    Returns:
      A float64 array of the same length.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> robust_smooth([1.0, 1.0, 1.0, 50.0, 1.0, 1.0, 1.0], window=3).round(12).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    values = _checks.vector("values", values)
    n = values.size
    w = max(5, n // 20) if window is None else _checks.count("window", window, 1)
    w |= 1
    half = w // 2
    padded = np.pad(values, half, mode="edge")
    median = np.median(np.lib.stride_tricks.sliding_window_view(padded, w), axis=1)
    sigma = w / 2.0
    radius = int(np.ceil(3.0 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(median, radius, mode="edge"), kernel, mode="valid")


def window_rungs(lrs: npt.NDArray[np.float64], decades: float) -> int:
    """The rungs of ``lrs`` that ``decades`` of the log-lr axis spans (median spacing), >= 3."""
    steps = np.diff(np.log10(lrs[lrs > 0.0]))
    spacing = float(np.median(steps)) if steps.size else 0.0
    return max(3, round(decades / spacing)) if spacing > 0.0 else 3


def bounds_curve(
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    *,
    mode: str = "loss",
    settings: BoundsSettings | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The curve :func:`suggest_bounds` reads: ``(rates, smoothed)``, the delay undone.

    Rung ``i + delay``'s loss is paired with rung ``i``'s rate, then smoothed by
    :func:`robust_smooth` over ``settings.window`` decades. Plots draw it.

    Args:
      lrs: the ladder, increasing.
      losses: the raw losses (or accuracies) recorded on it, one per rung.
      mode: ``'loss'`` or ``'accuracy'`` (then the smoothed values are negated).
      settings: the reading's knobs.

    Returns:
      ``(rates, smoothed)``, ``delay`` shorter than the finite part of the curve.

    Raises:
      ValueError: fewer than ``MIN_POINTS`` finite points after the delay; bad arguments.
    """
    k = _settings(settings)
    rates, values = read_curve(lrs, losses, mode)
    kept = rates.size - k.delay
    if kept < MIN_POINTS:
        raise ValueError(
            f"the bounds need at least {MIN_POINTS} rungs after the delay of {k.delay} "
            f"updates; received {rates.size} finite losses: rerun the range test with "
            "more num_steps"
        )
    rates, values = rates[:kept], values[k.delay :]
    return rates, robust_smooth(values, window=window_rungs(rates, k.window))


def _nearest(x: npt.NDArray[np.float64], point: float) -> int:
    """The rung whose log-rate ``x`` is nearest ``point`` (the lower one on a tie)."""
    i = int(np.searchsorted(x, point))
    if i == 0:
        return 0
    if i == x.size:
        return x.size - 1
    return i if x[i] - point < point - x[i - 1] else i - 1


@dataclass(frozen=True)
class _Landmarks:
    """Points of the log-lr axis that the ``max_lr`` reading is made of (decades)."""

    middle: float  # the middle of the fall: no reading lies before it
    done: float  # the first point within ``base_fraction`` of the fall of the bottom
    bottom: float
    floor_end: float  # the last point of the floor (within that share) after the bottom
    climb: float | None  # the first point past ``rise`` of the fall back up; None: no blow-up


def _landmarks(
    x: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    top: int,
    bottom: int,
    k: BoundsSettings,
) -> _Landmarks:
    drop = s[top] - s[bottom]
    near = k.base_fraction * drop  # "on the floor": within this of the bottom
    left = np.flatnonzero(s[bottom:] > s[bottom] + near)
    climbed = np.flatnonzero(s[bottom:] > s[bottom] + k.rise * drop)
    return _Landmarks(
        middle=float(x[top] + x[bottom]) / 2.0,
        done=float(x[int(np.flatnonzero(s[: bottom + 1] <= s[bottom] + near)[0])]),
        bottom=float(x[bottom]),
        floor_end=float(x[bottom + int(left[0]) - 1] if left.size else x[-1]),
        climb=float(x[bottom + int(climbed[0])]) if climbed.size else None,
    )


def _read_max(
    x: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    top: int,
    bottom: int,
    k: BoundsSettings,
) -> float:
    """``log10(max_lr)``: the mean of two readings of where the fall stops.

    Both readings are points of the log-lr axis ``x``, and so is their mean: nothing
    is rounded to a rung, so a sparse ladder gives the same point as a dense one.
    """
    at = _landmarks(x, s, top, bottom, k)

    def kept(point: float) -> float:
        return min(max(point, at.middle), at.floor_end)

    if at.climb is None:
        # No blow-up on this ladder: the bottom is wherever the noise puts it on the
        # floor, so read where the fall is all but done instead.
        return kept(at.done)
    before_bottom = max(at.bottom - k.lag, at.middle)
    from_climb = kept(at.climb - math.log10(k.backoff))
    return kept((before_bottom + from_climb) / 2.0)


def _read_base(
    x: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    top: int,
    high: float,
    k: BoundsSettings,
) -> float:
    """``log10(base_lr)``: ``lag`` decades before the fall shows, within the ratios."""
    drop = s[top] - s[int(np.argmin(s))]
    before = int(np.searchsorted(x, high, side="right"))  # the rungs up to max_lr
    above = np.flatnonzero(s[:before] > s[top] - k.base_fraction * drop)
    point = float(x[min(int(above[-1]) + 1, x.size - 1)]) - k.lag if above.size else float(x[0])
    point = max(point, high - math.log10(k.max_ratio))  # -inf when max_ratio is inf
    return max(min(point, high - math.log10(k.min_ratio)), float(x[0]))


class _Fall(NamedTuple):
    """The curve the reading reads, from its first positive rate on."""

    rates: npt.NDArray[np.float64]
    x: npt.NDArray[np.float64]  # log10 of the rates
    s: npt.NDArray[np.float64]  # the smoothed values (bounds_curve)
    top: int  # the highest point before the bottom
    bottom: int  # the lowest point
    first: int  # the index of the first positive rate in bounds_curve's rates


def _fall(lrs: npt.ArrayLike, losses: npt.ArrayLike, mode: str, k: BoundsSettings) -> _Fall:
    """The curve :func:`suggest_bounds` reads, its top and bottom.

    Raises:
      ValueError: as :func:`bounds_curve`, or a curve that never falls.
    """
    rates, s = bounds_curve(lrs, losses, mode=mode, settings=k)
    # a linear ladder may start at 0, which has no place on the log axis the reading uses
    first = int(np.searchsorted(rates, 0.0, side="right"))
    rates, s = rates[first:], s[first:]
    bottom = int(np.argmin(s))
    top = int(np.argmax(s[: bottom + 1]))
    if bottom == 0 or s[top] - s[bottom] <= 0.0:
        what = "accuracy never rises" if mode == "accuracy" else "loss never falls"
        raise ValueError(
            f"the {what} on this ladder (its best smoothed value is at the first "
            f"rung, lr={float(rates[0])!r}); rerun the range test with a lower start_lr"
        )
    return _Fall(rates, np.log10(rates), s, top, bottom, first)


def _reading_landmarks(
    lrs: npt.ArrayLike, losses: npt.ArrayLike, mode: str, settings: BoundsSettings | None
) -> _Landmarks:
    """The landmarks :func:`suggest_bounds` reads ``max_lr`` from, on this curve."""
    k = _settings(settings)
    f = _fall(lrs, losses, mode, k)
    return _landmarks(f.x, f.s, f.top, f.bottom, k)


def suggest_bounds(
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    *,
    mode: str = "loss",
    settings: BoundsSettings | None = None,
) -> BoundsSuggestion:
    """The ``(base_lr, max_lr)`` pair for a cyclical schedule, read off a range test.

    Smith's reading: ``base_lr`` where the loss starts to fall, ``max_lr`` where
    the fall stops. With ``k`` the :class:`BoundsSettings`, the curve read is
    ``lr, s = bounds_curve(lrs, losses)``: each loss paired with the rate of
    ``k.delay`` updates before, then smoothed over ``k.window`` decades (losses
    negated for ``mode='accuracy'``). Every distance below is in decades, so the
    reading does not depend on how densely the ladder samples the curve::

        m     = argmin s                            # the bottom, before the blow-up
        t     = argmax s[:m+1]                      # the top of the plateau before it
        drop  = s[t] - s[m]
        floor = the last rung from m on before s > s[m] + k.base_fraction * drop
        mid   = (x[t] + x[m]) / 2                  # x = log10(lr); never before it
        a     = max(x[m] - k.lag, mid)
        climb = the first rung after m with s > s[m] + k.rise * drop
        b     = x[climb] - log10(k.backoff), kept in [mid, x[floor]]
        max   = (a + b) / 2, kept in [mid, x[floor]]
              (no climb: x of the first rung with s <= s[m] + k.base_fraction * drop)
        fall  = 1 + the last rung up to max with s > s[t] - k.base_fraction * drop
        base  = x[fall] - k.lag, kept within
                max - log10(k.max_ratio) <= base <= max - log10(k.min_ratio), >= x[0]
        (base_lr, max_lr) = (10**base, 10**max)
        fine_tuning: both divided by 10**FINE_TUNING_DECADES (a factor 2)

    Nothing is rounded to a rung, so a sparse ladder gives the same bounds as a
    dense one; the indexes returned are the rungs nearest them.
    ``a`` and ``b`` fail in different places (a flat floor moves the bottom; a
    slow climb after a sharp bottom moves the climb), and the mean of their
    logarithms halves either error. The rules are in docs/semantics.md, *The bounds
    reading*; docs/bounds-reading.md has the study, and docs/results.md the
    measurements by training (*Do the suggested bounds train well?*) and on ladders
    of 100 to 1000 rungs (*The bounds on six ladders*).

    Args:
      lrs: the ladder, increasing, one optimizer update per rung.
      losses: the raw losses (or accuracies) recorded on it, one per rung.
      mode: ``'loss'`` or ``'accuracy'`` (the mirrored reading of a rising curve).
      settings: the reading's knobs; the defaults are the validated ones.

    Returns:
      A :class:`BoundsSuggestion`, which unpacks as ``(base_lr, max_lr)``: rates of
      the lr axis, not rounded to rungs; ``base_index <= max_index`` are the rungs
      nearest them, for a plot to mark.

    Raises:
      ValueError: fewer than ``MIN_POINTS`` finite points after the delay; a curve
        that never falls (its lowest point is its first: lower ``start_lr``); a fall
        too short to hold two bounds; bad arguments.

    >>> lrs = np.geomspace(1e-4, 1.0, 401)
    >>> losses = 2.0 - np.tanh(np.log10(lrs) + 2.0) + 50 * np.clip(np.log10(lrs) + 0.5, 0, None)
    >>> base_lr, max_lr = suggest_bounds(lrs, losses, settings=BoundsSettings(delay=0))
    >>> round(base_lr, 4), round(max_lr, 4)
    (0.0101, 0.1015)
    >>> b = suggest_bounds(lrs[::4], losses[::4], settings=BoundsSettings(delay=0))
    >>> round(b.base_lr, 4), round(b.max_lr, 4)   # a quarter of the rungs: 3% apart
    (0.0098, 0.098)
    """
    k = _settings(settings)
    rates, x, s, top, bottom, first = _fall(lrs, losses, mode, k)
    high = _read_max(x, s, top, bottom, k)
    base = _read_base(x, s, top, high, k)
    if high - base < math.log10(k.min_ratio) - 1e-9:
        if top == 0:
            raise ValueError(
                f"the loss falls from the first rung on (lr={float(rates[0])!r}) and stops "
                f"within {k.min_ratio:g}x of it: no room below max_lr for base_lr; rerun the "
                "range test with a lower start_lr"
            )
        raise ValueError(
            f"the fall of this curve spans too few rungs ({bottom - top}) to place "
            f"two bounds {k.min_ratio:g}x apart on it; rerun the range test with more num_steps"
        )
    if k.fine_tuning:
        base, high = base - FINE_TUNING_DECADES, high - FINE_TUNING_DECADES
    return BoundsSuggestion(
        float(10.0**base), float(10.0**high), first + _nearest(x, base), first + _nearest(x, high)
    )
