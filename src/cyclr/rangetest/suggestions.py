"""Readings of a range-test curve: the cyclical bounds and single learning rates.

Every suggestion is a plain function of ``(lrs, losses)`` returning the learning
rate it picked and the index of that rung, so a plot can mark it (fastai's
convention). ``losses`` are the raw per-batch values as recorded; each function
smooths them itself and ignores everything from the first non-finite value on
(the rung where the test stopped). ``mode='accuracy'`` reads a rising accuracy
curve as the mirror image of a falling loss.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from cyclr.rangetest import _checks
from cyclr.rangetest.ladder import check_beta, smooth_losses

#: The fewest finite points any suggestion reads; fewer raise ``ValueError``.
MIN_POINTS = 10
MODES = ("loss", "accuracy")


class Suggestion(NamedTuple):
    """A single learning rate read off a range test, and the rung it came from."""

    lr: float
    index: int


class BoundsSuggestion(NamedTuple):
    """Cyclical bounds read off a range test, and the rungs they came from."""

    base_lr: float
    max_lr: float
    base_index: int
    max_index: int


def _curve(lrs, losses, mode):
    """Validate; return ``(lrs, values)`` cut at the first non-finite value, losses-like."""
    mode = _checks.choice("mode", mode, MODES)
    lrs = _checks.vector("lrs", lrs)
    values = _checks.vector("losses", losses)
    if lrs.shape != values.shape:
        raise ValueError("lrs and losses must have the same length; received "
                         f"len(lrs)={lrs.size}, len(losses)={values.size}")
    bad = np.flatnonzero(~np.isfinite(values))
    end = int(bad[0]) if bad.size else values.size
    if end < MIN_POINTS:
        raise ValueError(f"a suggestion needs at least {MIN_POINTS} finite losses before the "
                         f"first non-finite one; received {end} of {values.size}")
    lrs, values = lrs[:end], values[:end]
    if not np.all(np.isfinite(lrs)) or lrs[0] < 0.0 or np.any(np.diff(lrs) <= 0.0):
        raise ValueError("lrs must be finite, >= 0 and strictly increasing; received "
                         f"lrs={lrs.tolist()!r}")
    return lrs, (-values if mode == "accuracy" else values)


def _ema(values, beta):
    """The SPEC.md smoothing of ``values`` (already mirrored for accuracy)."""
    return smooth_losses(values, check_beta(beta))


def steepest(lrs, losses, *, mode="loss", beta=0.98, skip=0.1) -> Suggestion:
    """The rung where the smoothed loss falls fastest per decade of learning rate.

    ::

        index = argmin_i  d smooth / d log(lr)   over i in [k, n - k), k = max(1, skip * n)

    with ``smooth`` SPEC.md's debiased EMA and the derivative by central
    differences (``np.gradient``). The ends are skipped because the EMA is
    unreliable there. On a linear ladder starting at 0 the derivative is taken
    against ``lr`` instead.

    Args:
      lrs, losses: the ladder and the raw losses recorded on it.
      mode: ``'loss'`` or ``'accuracy'`` (steepest rise).
      beta: the EMA decay.
      skip: the fraction of rungs skipped at each end, in ``[0, 0.5)``.

    Returns:
      ``Suggestion(lr, index)``.

    Raises:
      ValueError: too few finite points (see ``MIN_POINTS``) or bad arguments.

    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> steepest(lrs, 1.0 / (1.0 + (lrs / 1e-2) ** 2), beta=0.0)
    Suggestion(lr=0.01, index=20)
    """
    lrs, values = _curve(lrs, losses, mode)
    skip = _checks.real("skip", skip)
    if not 0.0 <= skip < 0.5:
        raise ValueError(f"skip must be in [0, 0.5); received skip={skip!r}")
    smooth = _ema(values, beta)
    x = np.log(lrs) if lrs[0] > 0.0 else lrs
    slope = np.gradient(smooth, x)
    k = max(1, int(skip * lrs.size))
    index = k + int(np.argmin(slope[k:lrs.size - k]))
    return Suggestion(float(lrs[index]), index)


def minimum(lrs, losses, *, mode="loss", beta=0.98, divisor=10.0) -> Suggestion:
    """A tenth of the learning rate at the lowest smoothed loss.

    ::

        index = argmin_i smooth[i];  lr = lrs[index] / divisor

    The index is that of the minimum itself (where a plot marks it).

    Args:
      lrs, losses: the ladder and the raw losses recorded on it.
      mode: ``'loss'`` or ``'accuracy'`` (highest accuracy).
      beta: the EMA decay.
      divisor: ``> 0``; 10 as in fastai.

    Returns:
      ``Suggestion(lr, index)``.

    Raises:
      ValueError: too few finite points (see ``MIN_POINTS``) or bad arguments.

    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> minimum(lrs, (np.log10(lrs) + 1.0) ** 2, beta=0.0)
    Suggestion(lr=0.01, index=30)
    """
    lrs, values = _curve(lrs, losses, mode)
    divisor = _checks.real("divisor", divisor)
    if divisor <= 0.0:
        raise ValueError(f"divisor must be > 0; received divisor={divisor!r}")
    index = int(np.argmin(_ema(values, beta)))
    return Suggestion(float(lrs[index] / divisor), index)


def valley(lrs, losses, *, mode="loss", beta=0.98) -> Suggestion:
    """The middle of the longest descent of the smoothed loss.

    The descent is the longest strictly decreasing subsequence of ``smooth``
    (not necessarily contiguous, so a blip does not cut it; ties go to the one
    that ends first), running from rung ``a`` to rung ``b``::

        index = (a + b) // 2

    Args:
      lrs, losses: the ladder and the raw losses recorded on it.
      mode: ``'loss'`` or ``'accuracy'`` (longest rise).
      beta: the EMA decay.

    Returns:
      ``Suggestion(lr, index)``.

    Raises:
      ValueError: too few finite points (see ``MIN_POINTS``) or bad arguments.

    >>> lrs = np.geomspace(1e-5, 1e4, 10)
    >>> valley(lrs, [9, 8, 7, 6, 5, 4, 6, 5, 9, 9], beta=0.0)
    Suggestion(lr=0.001, index=2)
    """
    lrs, values = _curve(lrs, losses, mode)
    smooth = _ema(values, beta)
    n = smooth.size
    length = np.ones(n, dtype=np.int64)
    start = np.arange(n)
    for i in range(1, n):
        before = np.flatnonzero(smooth[:i] > smooth[i])
        if before.size:
            j = before[np.argmax(length[before])]
            length[i], start[i] = length[j] + 1, start[j]
    end = int(np.argmax(length))
    index = (int(start[end]) + end) // 2
    return Suggestion(float(lrs[index]), index)


def robust_smooth(values, window=None) -> np.ndarray:
    """Zero-lag smoothing that ignores isolated spikes: a running median, then a Gaussian.

    ::

        m = running median of width w (odd, edges padded with the end values)
        s = m convolved with a Gaussian of sigma = w / 2 (edges padded likewise)

    Unlike the EMA, the result does not lag behind the curve, so a feature
    stays at the rung where it happened. ``window`` defaults to
    ``max(5, n // 20)`` made odd.

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


def bounds_suggestion(lrs, losses, *, mode="loss", lag=15, base_fraction=0.1,
                      min_ratio=4.0, max_ratio=10.0) -> BoundsSuggestion:
    """Smith's reading of a range test: where the loss starts to fall, where the fall stops.

    On the zero-lag curve ``s = robust_smooth(losses)`` (losses negated for accuracy)::

        m    = argmin s                            # the bottom, before the blow-up
        t    = argmax s[:m+1]                      # the top of the plateau before it
        drop = s[t] - s[m]
        max  = max(m - lag, t + (m - t) // 2)      # never before the middle of the fall
        fall = 1 + the last rung before max with s > s[t] - base_fraction * drop
        base = max(fall - lag, 0)
        base = max(base, the first rung with lr >= lrs[max] / max_ratio)
        base = min(base, the last rung with lr <= lrs[max] / min_ratio)   (rung 0 at least)

    ``max_lr`` is ``lag`` rungs before the bottom: the loss answers a learning
    rate some steps late (momentum remembers ~10 updates, and the ladder keeps
    climbing meanwhile), so the bottom marks a rate already past the one where
    the fall stopped. ``base_lr`` is, by the same lag, before the rung where
    the final descent showed (a tenth of the total fall done, read backwards
    from ``max`` so that wiggles of a noisy plateau are not taken for the
    start), then kept within ``max_lr / max_ratio <= base_lr <= max_lr / min_ratio``.
    The window is Smith's practice of a cycle spanning a few times to ten
    times its floor. Where the loss falls and then creeps down a long way
    before its bottom (MNIST-1D's MLP: fall done by ``lr = 0.04``, bottom at 0.19),
    ``max_lr`` sits far above the start of the fall, and a base there (a ratio
    of about 30) trained 1.6 accuracy points worse than the best grid pair in
    the benchmark, ``max_lr / 10`` 0.6 worse; at ``max_lr = 0.1`` the benchmark's
    grid preferred a tenth to a third on all three tasks. On the falls of the
    seed's CNN and MNIST-1D's 1-D CNN (a decade from top to bottom) the window
    changes nothing. If a coarse ladder leaves no rung in the window, the
    ``min_ratio`` cap wins. The running median of ``robust_smooth`` removes
    batch noise and isolated spikes, early or late.
    A curve that never diverges has its bottom near the last rung and is read
    the same way; one that diverges almost at once gives bounds at the start of
    the ladder. Validated by training in ``bench/suggest_bounds.py``.

    Args:
      lrs, losses: the ladder and the raw losses (or accuracies) recorded on it.
      mode: ``'loss'`` or ``'accuracy'`` (the mirrored reading of a rising curve).
      lag: rungs between the bottom and ``max_lr``, ``>= 0`` (15 suits a ladder
        of a few hundred rungs and SGD with momentum 0.9).
      base_fraction: the share of the fall done at ``base_lr``, in ``(0, 1)``.
      min_ratio: the least ``max_lr / base_lr``, ``>= 1``.
      max_ratio: the most ``max_lr / base_lr``, ``>= min_ratio``; ``math.inf``
        leaves ``base_lr`` at the start of the fall however far below it lies.

    Returns:
      ``BoundsSuggestion(base_lr, max_lr, base_index, max_index)`` with
      ``base_index <= max_index``.

    Raises:
      ValueError: fewer than ``MIN_POINTS`` finite points; a curve that never
        falls (its lowest point is its first: lower ``start_lr``); a fall too
        short to hold two bounds; bad arguments.

    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> losses = 2.0 - np.tanh(np.log10(lrs) + 2.0) + 50 * np.clip(np.log10(lrs) + 0.5, 0, None)
    >>> b = bounds_suggestion(lrs, losses, lag=3)
    >>> b.base_index, b.max_index                      # a decade apart: 10 rungs per decade
    (16, 26)
    >>> bounds_suggestion(lrs, losses, lag=3, max_ratio=math.inf).base_index  # the fall's start
    6
    """
    lrs, values = _curve(lrs, losses, mode)
    lag = _checks.count("lag", lag, 0)
    base_fraction = _checks.real("base_fraction", base_fraction)
    if not 0.0 < base_fraction < 1.0:
        raise ValueError(f"base_fraction must be in (0, 1); received "
                         f"base_fraction={base_fraction!r}")
    min_ratio = _checks.real("min_ratio", min_ratio)
    if min_ratio < 1.0:
        raise ValueError(f"min_ratio must be >= 1; received min_ratio={min_ratio!r}")
    if not (isinstance(max_ratio, float) and max_ratio == math.inf):
        max_ratio = _checks.real("max_ratio", max_ratio)
    if not max_ratio >= min_ratio:
        raise ValueError(f"max_ratio must be >= min_ratio={min_ratio!r}; received "
                         f"max_ratio={max_ratio!r}")
    s = robust_smooth(values)
    bottom = int(np.argmin(s))
    top = int(np.argmax(s[:bottom + 1]))
    drop = s[top] - s[bottom]
    if bottom == 0 or drop <= 0.0:
        what = "accuracy never rises" if mode == "accuracy" else "loss never falls"
        raise ValueError(f"the {what} on this ladder (its best smoothed value is at the first "
                         f"rung, lr={lrs[0]!r}); rerun the range test with a lower start_lr")
    # The lag never pulls max_lr back past the middle of the fall: on a short ladder
    # (a few dozen rungs) it would otherwise land on the plateau, or on rung 0.
    high = max(bottom - lag, top + (bottom - top) // 2)
    above = np.flatnonzero(s[:high] > s[top] - base_fraction * drop)
    base = max(int(above[-1]) + 1 - lag, 0) if above.size else 0
    base = max(base, int(np.searchsorted(lrs, lrs[high] / max_ratio)))
    ratio_cap = np.flatnonzero(lrs <= lrs[high] / min_ratio)
    base = min(base, int(ratio_cap[-1]) if ratio_cap.size else 0)
    if base >= high:
        raise ValueError(f"the fall of this curve spans too few rungs ({bottom - top}) to place "
                         "two bounds on it; rerun the range test with more num_steps")
    return BoundsSuggestion(float(lrs[base]), float(lrs[high]), base, high)


def suggest_bounds(lrs, losses, *, mode="loss") -> tuple[float, float]:
    """The ``(base_lr, max_lr)`` pair for a cyclical schedule, read off a range test.

    The reading of :func:`bounds_suggestion` (which also returns the rungs).

    Args:
      lrs, losses: the ladder and the raw losses (or accuracies) recorded on it.
      mode: ``'loss'`` or ``'accuracy'``.

    Returns:
      ``(base_lr, max_lr)``, ``base_lr <= max_lr``.

    Raises:
      ValueError: as :func:`bounds_suggestion`.

    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> base, high = suggest_bounds(lrs, 2.0 - np.tanh(np.log10(lrs) + 2.0))
    >>> bool(base < 1e-2 < high)
    True
    """
    found = bounds_suggestion(lrs, losses, mode=mode)
    return found.base_lr, found.max_lr


#: The single-rate suggestions, by name.
SINGLE_SUGGESTIONS = {"steepest": steepest, "valley": valley, "minimum": minimum}
