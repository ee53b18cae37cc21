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


def bounds_suggestion(lrs, losses, *, mode="loss", rise=1.0 / 3.0, backoff=3.0, lag=15,
                      base_fraction=0.1, min_ratio=4.0, max_ratio=10.0) -> BoundsSuggestion:
    """Smith's reading of a range test: where the loss starts to fall, where the fall stops.

    On the zero-lag curve ``s = robust_smooth(losses)`` (losses negated for accuracy)::

        m     = argmin s                            # the bottom, before the blow-up
        t     = argmax s[:m+1]                      # the top of the plateau before it
        drop  = s[t] - s[m]
        floor = the last rung from m on before s > s[m] + base_fraction * drop
        mid   = t + (m - t) // 2                    # never before the middle of the fall
        a     = max(m - lag, mid)                   # lag rungs before the bottom
        climb = the first rung after m with s > s[m] + rise * drop
        b     = the last rung with lr <= lrs[climb] / backoff
              (no such climb: the first rung with s <= s[m] + base_fraction * drop)
        b     = max(min(b, floor), mid)
        max   = the last rung with lr <= sqrt(lrs[a] * lrs[b])   # between mid and floor
              (no such climb: b)
        fall  = 1 + the last rung before max with s > s[t] - base_fraction * drop
        base  = max(fall - lag, 0)
        base  = max(base, the first rung with lr >= lrs[max] / max_ratio)
        base  = min(base, the last rung with lr <= lrs[max] / min_ratio)   (rung 0 at least)

    ``max_lr`` is where the fall stops, read in two ways that fail in different
    places, and taken as their geometric mean. ``a``: ``lag`` rungs before the
    bottom, since the loss answers a rate some steps late (momentum remembers ~10
    updates while the ladder climbs on), so the bottom marks a rate already past
    the one where the fall stopped. It fails on a flat floor (MNIST-1D's MLP:
    flat from 0.06 to 0.19), where the argmin wanders with the batch noise from
    seed to seed. ``b``: a third of the rate where the loss has climbed back a
    third of its fall; on such a floor the climb out is steep and lands on nearly
    the same rate every time, but after a sharp bottom some curves climb slowly
    (MNIST-1D's 1-D CNN, now and then), and ``b`` then lands past the rate where
    that network's training breaks down (about 0.12 at batch 32). The mean of
    the logarithms halves either reading's error. ``max_lr`` never lies past
    the floor (the rungs from the bottom on within ``base_fraction`` of the fall):
    Smith's "before the minimum", read so that noise on a flat floor does not
    move it. Measured by training in ``bench/suggest_bounds.py`` (10 seeds),
    against the best of 12 grid pairs: +0.28, -0.20 and +0.15 accuracy points on
    the seed's CNN, MNIST-1D's 1-D CNN and its MLP; ``a`` alone (cyclr's reading
    before, commit 293dac4 with ``--seeds 10``) +0.36, -0.52 and +1.32.

    ``base_lr`` is ``lag`` rungs before the rung where the final descent
    showed (a tenth of the total fall done, read backwards from ``max`` so that
    wiggles of a noisy plateau are not taken for the start; the loss answers a
    rate some steps late), then kept within ``max_lr / max_ratio <= base_lr <=
    max_lr / min_ratio``: Smith's practice of a cycle whose top is a few times
    to ten times its bottom. Where the fall starts far below ``max_lr``
    (MNIST-1D's MLP: at 0.004), a base there trained worse than ``max_lr / 10``
    in the benchmark.
    If a coarse ladder leaves no rung in the window, the ``min_ratio`` cap wins.
    The running median of ``robust_smooth`` removes batch noise and isolated
    spikes, early or late. On a curve that never climbs back (the ladder ended
    before the blow-up; rerun it with a higher ``end_lr``) ``max_lr`` is ``b``
    alone, where the fall is all but done, a mirror of ``base_lr`` (the bottom of
    a floor that runs to the end of the ladder is noise); a curve that diverges
    almost at once gives bounds at the start of its ladder.

    Args:
      lrs, losses: the ladder and the raw losses (or accuracies) recorded on it.
      mode: ``'loss'`` or ``'accuracy'`` (the mirrored reading of a rising curve).
      rise: how far the loss has climbed back, as a share of its fall, at the
        rung ``b`` is read from; in ``(0, 1]``.
      backoff: ``b`` is that rung's rate divided by ``backoff``, ``>= 1``.
      lag: the rungs by which the loss answers late, ``>= 0``: ``a`` lies this
        many before the bottom, ``base_lr`` before the rung where the fall
        shows (15 suits a ladder of a few hundred rungs and SGD with momentum
        0.9).
      base_fraction: the share of the fall done at ``base_lr``, and the height
        of the floor above the bottom, in ``(0, 1)``.
      min_ratio: the least ``max_lr / base_lr``, ``>= 1``.
      max_ratio: the most ``max_lr / base_lr``, ``>= min_ratio``; ``math.inf``
        leaves ``base_lr`` at the start of the fall however far below it lies.

    Returns:
      ``BoundsSuggestion(base_lr, max_lr, base_index, max_index)`` with
      ``base_index < max_index``.

    Raises:
      ValueError: fewer than ``MIN_POINTS`` finite points; a curve that never
        falls (its lowest point is its first: lower ``start_lr``); a fall too
        short to hold two bounds; bad arguments.

    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> losses = 2.0 - np.tanh(np.log10(lrs) + 2.0) + 50 * np.clip(np.log10(lrs) + 0.5, 0, None)
    >>> b = bounds_suggestion(lrs, losses, lag=3)
    >>> b.base_index, b.max_index                      # a decade apart: 10 rungs per decade
    (17, 27)
    >>> bounds_suggestion(lrs, losses, lag=3, max_ratio=math.inf).base_index  # the fall's start
    6
    """
    lrs, values = _curve(lrs, losses, mode)
    rise = _checks.real("rise", rise)
    if not 0.0 < rise <= 1.0:
        raise ValueError(f"rise must be in (0, 1]; received rise={rise!r}")
    backoff = _checks.real("backoff", backoff)
    if backoff < 1.0:
        raise ValueError(f"backoff must be >= 1; received backoff={backoff!r}")
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
    near = base_fraction * drop            # "on the floor": within this of the bottom
    left = np.flatnonzero(s[bottom:] > s[bottom] + near)
    floor_end = bottom + int(left[0]) - 1 if left.size else lrs.size - 1
    middle = top + (bottom - top) // 2
    # Two readings of where the fall stops, each wrong in its own way (see above):
    before_bottom = max(bottom - lag, middle)
    climbed = np.flatnonzero(s[bottom:] > s[bottom] + rise * drop)
    if climbed.size:
        from_climb = int(np.searchsorted(lrs, lrs[bottom + climbed[0]] / backoff,
                                         side="right")) - 1
    else:   # no blow-up on this ladder: where the fall is all but done
        from_climb = int(np.flatnonzero(s[:bottom + 1] <= s[bottom] + near)[0])
    from_climb = max(min(from_climb, floor_end), middle)
    if climbed.size:
        target = math.sqrt(lrs[before_bottom] * lrs[from_climb])
        high = int(np.searchsorted(lrs, target * (1.0 + 1e-12), side="right")) - 1
        high = max(min(high, floor_end), middle)
    else:   # without a blow-up the bottom is wherever the noise puts it on the floor
        high = from_climb
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

    >>> lrs = np.geomspace(1e-4, 1.0, 401)
    >>> losses = 2.0 - np.tanh(np.log10(lrs) + 2.0) + 50 * np.clip(np.log10(lrs) + 0.5, 0, None)
    >>> [round(lr, 4) for lr in suggest_bounds(lrs, losses)]
    [0.0102, 0.1023]
    """
    found = bounds_suggestion(lrs, losses, mode=mode)
    return found.base_lr, found.max_lr


#: The single-rate suggestions, by name.
SINGLE_SUGGESTIONS = {"steepest": steepest, "valley": valley, "minimum": minimum}
