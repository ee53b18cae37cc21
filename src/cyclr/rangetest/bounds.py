"""The ``(base_lr, max_lr)`` reading of a range test: cyclr's one way to get bounds.

The study behind the reading (which estimators were tried, on which tasks, with
which regrets) lives in ``docs/bounds-reading.md`` and ``bench/suggest_bounds.py``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks
from cyclr.rangetest.suggestions import read_curve


@dataclass(frozen=True)
class BoundsSettings:
    """The tuning knobs of :func:`suggest_bounds`, validated on construction.

    Attributes:
      rise: how far the loss has climbed back after its bottom, as a share of
        its fall, at the rung the second ``max_lr`` reading starts from; in ``(0, 1]``.
      backoff: that reading is the rung's rate divided by ``backoff``; ``>= 1``.
      lag: the rungs by which the loss answers a rate late, ``>= 0``: the first
        ``max_lr`` reading lies this many before the bottom, ``base_lr`` this many
        before the rung where the fall shows (15 suits a ladder of a few hundred
        rungs and SGD with momentum 0.9).
      base_fraction: the share of the fall done at ``base_lr``, and the height of
        the floor above the bottom, in ``(0, 1)``.
      min_ratio: the least ``max_lr / base_lr``, ``>= 1``.
      max_ratio: the most ``max_lr / base_lr``, ``>= min_ratio``; ``math.inf``
        leaves ``base_lr`` at the start of the fall however far below it lies.

    Raises:
      ValueError: naming the field and the value received.

    >>> BoundsSettings(lag=3).lag
    3
    """

    rise: float = 1.0 / 3.0
    backoff: float = 3.0
    lag: int = 15
    base_fraction: float = 0.1
    min_ratio: float = 4.0
    max_ratio: float = 10.0

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("rise", _checks.real("rise", self.rise))
        if not 0.0 < self.rise <= 1.0:
            raise ValueError(f"rise must be in (0, 1]; received rise={self.rise!r}")
        put("backoff", _checks.real("backoff", self.backoff))
        if self.backoff < 1.0:
            raise ValueError(f"backoff must be >= 1; received backoff={self.backoff!r}")
        put("lag", _checks.count("lag", self.lag, 0))
        put("base_fraction", _checks.real("base_fraction", self.base_fraction))
        if not 0.0 < self.base_fraction < 1.0:
            raise ValueError(
                f"base_fraction must be in (0, 1); received base_fraction={self.base_fraction!r}"
            )
        put("min_ratio", _checks.real("min_ratio", self.min_ratio))
        if self.min_ratio < 1.0:
            raise ValueError(f"min_ratio must be >= 1; received min_ratio={self.min_ratio!r}")
        if not (isinstance(self.max_ratio, float) and self.max_ratio == math.inf):
            put("max_ratio", _checks.real("max_ratio", self.max_ratio))
        if not self.max_ratio >= self.min_ratio:
            raise ValueError(
                f"max_ratio must be >= min_ratio={self.min_ratio!r}; received "
                f"max_ratio={self.max_ratio!r}"
            )


@dataclass(frozen=True)
class BoundsSuggestion:
    """Cyclical bounds read off a range test, and the rungs they came from.

    It unpacks as the pair users want, ``base_lr, max_lr = suggest_bounds(...)``;
    the indexes are there for a plot to mark.

    >>> b = BoundsSuggestion(0.01, 0.1, 3, 13)
    >>> base_lr, max_lr = b
    >>> (base_lr, max_lr), b.max_index, b[:2]
    ((0.01, 0.1), 13, (0.01, 0.1))
    """

    base_lr: float
    max_lr: float
    base_index: int
    max_index: int

    def __iter__(self) -> Iterator[float]:
        return iter((self.base_lr, self.max_lr))

    def __len__(self) -> int:
        return 2

    @overload
    def __getitem__(self, key: int) -> float: ...

    @overload
    def __getitem__(self, key: slice) -> tuple[float, ...]: ...

    def __getitem__(self, key: int | slice) -> float | tuple[float, ...]:
        return (self.base_lr, self.max_lr)[key]


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


def _last_at_most(lrs: npt.NDArray[np.float64], lr: float) -> int:
    """The last rung whose rate is ``<= lr`` (-1 if none)."""
    return int(np.searchsorted(lrs, lr, side="right")) - 1


def _read_max(
    lrs: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    top: int,
    bottom: int,
    k: BoundsSettings,
) -> int:
    """The rung of ``max_lr``: the geometric mean of two readings of where the fall stops."""
    drop = s[top] - s[bottom]
    near = k.base_fraction * drop  # "on the floor": within this of the bottom
    left = np.flatnonzero(s[bottom:] > s[bottom] + near)
    floor_end = bottom + int(left[0]) - 1 if left.size else lrs.size - 1
    middle = top + (bottom - top) // 2  # never before the middle of the fall
    before_bottom = max(bottom - k.lag, middle)
    climbed = np.flatnonzero(s[bottom:] > s[bottom] + k.rise * drop)
    if not climbed.size:
        # No blow-up on this ladder: the bottom is wherever the noise puts it on the
        # floor, so read where the fall is all but done instead.
        done = int(np.flatnonzero(s[: bottom + 1] <= s[bottom] + near)[0])
        return max(min(done, floor_end), middle)
    from_climb = _last_at_most(lrs, lrs[bottom + climbed[0]] / k.backoff)
    from_climb = max(min(from_climb, floor_end), middle)
    target = math.sqrt(lrs[before_bottom] * lrs[from_climb])
    high = _last_at_most(lrs, target * (1.0 + 1e-12))
    return max(min(high, floor_end), middle)


def _read_base(
    lrs: npt.NDArray[np.float64],
    s: npt.NDArray[np.float64],
    top: int,
    bottom: int,
    high: int,
    k: BoundsSettings,
) -> int:
    """The rung of ``base_lr``: ``lag`` before the fall shows, within the ratio window."""
    drop = s[top] - s[bottom]
    above = np.flatnonzero(s[:high] > s[top] - k.base_fraction * drop)
    base = max(int(above[-1]) + 1 - k.lag, 0) if above.size else 0
    base = max(base, int(np.searchsorted(lrs, lrs[high] / k.max_ratio)))
    ratio_cap = np.flatnonzero(lrs <= lrs[high] / k.min_ratio)
    return min(base, int(ratio_cap[-1]) if ratio_cap.size else 0)


def suggest_bounds(
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    *,
    mode: str = "loss",
    settings: BoundsSettings | None = None,
) -> BoundsSuggestion:
    """The ``(base_lr, max_lr)`` pair for a cyclical schedule, read off a range test.

    Smith's reading: ``base_lr`` where the loss starts to fall, ``max_lr`` where
    the fall stops. On the zero-lag curve ``s = robust_smooth(losses)`` (losses
    negated for ``mode='accuracy'``), with ``k`` the :class:`BoundsSettings`::

        m     = argmin s                            # the bottom, before the blow-up
        t     = argmax s[:m+1]                      # the top of the plateau before it
        drop  = s[t] - s[m]
        floor = the last rung from m on before s > s[m] + k.base_fraction * drop
        mid   = t + (m - t) // 2                    # never before the middle of the fall
        a     = max(m - k.lag, mid)                 # lag rungs before the bottom
        climb = the first rung after m with s > s[m] + k.rise * drop
        b     = the last rung with lr <= lrs[climb] / k.backoff
        max   = the last rung with lr <= sqrt(lrs[a] * lrs[b]), kept in [mid, floor]
              (no climb: the first rung with s <= s[m] + k.base_fraction * drop)
        fall  = 1 + the last rung before max with s > s[t] - k.base_fraction * drop
        base  = max(fall - k.lag, 0), kept within
                lrs[max] / k.max_ratio <= lrs[base] <= lrs[max] / k.min_ratio

    ``a`` and ``b`` fail in different places (a flat floor moves the bottom; a
    slow climb after a sharp bottom moves the climb), and the mean of their
    logarithms halves either error; ``docs/bounds-reading.md`` has the study
    and ``bench/suggest_bounds.py`` measures it by training.

    Args:
      lrs: the ladder, increasing.
      losses: the raw losses (or accuracies) recorded on it, one per rung.
      mode: ``'loss'`` or ``'accuracy'`` (the mirrored reading of a rising curve).
      settings: the reading's knobs; the defaults are the validated ones.

    Returns:
      A :class:`BoundsSuggestion`, which unpacks as ``(base_lr, max_lr)`` and
      carries the rungs they came from; ``base_index < max_index``.

    Raises:
      ValueError: fewer than ``MIN_POINTS`` finite points; a curve that never
        falls (its lowest point is its first: lower ``start_lr``); a fall too
        short to hold two bounds; bad arguments.

    >>> lrs = np.geomspace(1e-4, 1.0, 401)
    >>> losses = 2.0 - np.tanh(np.log10(lrs) + 2.0) + 50 * np.clip(np.log10(lrs) + 0.5, 0, None)
    >>> base_lr, max_lr = suggest_bounds(lrs, losses)
    >>> round(base_lr, 4), round(max_lr, 4)
    (0.0102, 0.1023)
    >>> b = suggest_bounds(lrs[::10], losses[::10], settings=BoundsSettings(lag=3))
    >>> b.base_index, b.max_index                      # a decade apart: 10 rungs per decade
    (17, 27)
    """
    k = BoundsSettings() if settings is None else settings
    if not isinstance(k, BoundsSettings):
        raise ValueError(f"settings must be a BoundsSettings; received settings={settings!r}")
    lrs, values = read_curve(lrs, losses, mode)
    s = robust_smooth(values)
    bottom = int(np.argmin(s))
    top = int(np.argmax(s[: bottom + 1]))
    if bottom == 0 or s[top] - s[bottom] <= 0.0:
        what = "accuracy never rises" if mode == "accuracy" else "loss never falls"
        raise ValueError(
            f"the {what} on this ladder (its best smoothed value is at the first "
            f"rung, lr={lrs[0]!r}); rerun the range test with a lower start_lr"
        )
    high = _read_max(lrs, s, top, bottom, k)
    base = _read_base(lrs, s, top, bottom, high, k)
    if base >= high:
        raise ValueError(
            f"the fall of this curve spans too few rungs ({bottom - top}) to place "
            "two bounds on it; rerun the range test with more num_steps"
        )
    return BoundsSuggestion(float(lrs[base]), float(lrs[high]), base, high)


def bounds_suggestion(
    lrs: npt.ArrayLike, losses: npt.ArrayLike, *, mode: str = "loss", **knobs: Any
) -> BoundsSuggestion:
    """Deprecated: use ``suggest_bounds(lrs, losses, settings=BoundsSettings(**knobs))``.

    Args:
      lrs: the ladder, increasing.
      losses: the raw losses (or accuracies) recorded on it, one per rung.
      mode: ``'loss'`` or ``'accuracy'``.
      **knobs: :class:`BoundsSettings` fields.

    Returns:
      As :func:`suggest_bounds`.

    Raises:
      ValueError: as :func:`suggest_bounds`, or a bad knob.
    """
    warnings.warn(
        "bounds_suggestion is deprecated and will be removed in the next release; "
        "use cyclr.suggest_bounds(lrs, losses, settings=BoundsSettings(...))",
        DeprecationWarning,
        stacklevel=2,
    )
    return suggest_bounds(lrs, losses, mode=mode, settings=BoundsSettings(**knobs))
