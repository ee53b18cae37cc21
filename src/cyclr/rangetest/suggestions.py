"""Single-rate readings of a range-test curve (the bounds are in ``cyclr.rangetest.bounds``).

Every suggestion is a plain function of ``(lrs, losses)`` returning the learning
rate it picked and the index of that rung, so a plot can mark it (fastai's
convention). ``losses`` are the raw per-batch values as recorded; each function
smooths them itself and ignores everything from the first non-finite value on
(the rung where the test stopped). ``mode='accuracy'`` reads a rising accuracy
curve as the mirror image of a falling loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks
from cyclr.rangetest.ladder import smooth_losses

#: The fewest finite points any suggestion reads; fewer raise ``ValueError``.
MIN_POINTS = 10
MODES = ("loss", "accuracy")


class Suggestion(NamedTuple):
    """A single learning rate read off a range test, and the rung it came from."""

    lr: float
    # The public name (fastai's) shadows tuple.index(value); the field wins on purpose.
    index: int  # type: ignore[assignment]


def read_curve(
    lrs: Any, losses: Any, mode: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Validate; return ``(lrs, values)`` cut at the first non-finite value, losses-like.

    ``values`` are negated for ``mode='accuracy'``, so every reading looks for a fall.

    Args:
      lrs: the ladder, a 1-D sequence of numbers.
      losses: the raw values recorded on it, as long as ``lrs``.
      mode: ``'loss'`` or ``'accuracy'``.

    Returns:
      ``(lrs, values)`` as float64 arrays, cut at the first non-finite value.

    Raises:
      ValueError: naming the parameter and the value received.
    """
    mode = _checks.choice("mode", mode, MODES)
    rates = _checks.vector("lrs", lrs)
    values = _checks.vector("losses", losses)
    if rates.shape != values.shape:
        raise ValueError(
            "lrs and losses must have the same length; received "
            f"len(lrs)={rates.size}, len(losses)={values.size}"
        )
    bad = np.flatnonzero(~np.isfinite(values))
    end = int(bad[0]) if bad.size else values.size
    if end < MIN_POINTS:
        raise ValueError(
            f"a suggestion needs at least {MIN_POINTS} finite losses before the "
            f"first non-finite one; received {end} of {values.size}"
        )
    rates, values = rates[:end], values[:end]
    if not np.all(np.isfinite(rates)) or rates[0] < 0.0 or np.any(np.diff(rates) <= 0.0):
        raise ValueError(
            f"lrs must be finite, >= 0 and strictly increasing; received lrs={rates.tolist()!r}"
        )
    return rates, (-values if mode == "accuracy" else values)


def steepest(
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    *,
    mode: str = "loss",
    beta: float = 0.98,
    skip: float = 0.1,
) -> Suggestion:
    """The rung where the smoothed loss falls fastest per decade of learning rate.

    ::

        index = argmin_i  d smooth / d log(lr)   over i in [k, n - k), k = max(1, skip * n)

    with ``smooth`` the range test's debiased EMA (docs/semantics.md, *The
    learning-rate range test*) and the derivative by central differences
    (``np.gradient``). The ends are skipped because the EMA is
    unreliable there. On a linear ladder starting at 0 the derivative is taken
    against ``lr`` instead.

    Args:
      lrs: the ladder, increasing.
      losses: the raw losses recorded on it, one per rung.
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
    lrs, values = read_curve(lrs, losses, mode)
    skip = _checks.real("skip", skip)
    if not 0.0 <= skip < 0.5:
        raise ValueError(f"skip must be in [0, 0.5); received skip={skip!r}")
    smooth = smooth_losses(values, beta)
    x = np.log(lrs) if lrs[0] > 0.0 else lrs
    slope = np.gradient(smooth, x)
    k = max(1, int(skip * lrs.size))
    index = k + int(np.argmin(slope[k : lrs.size - k]))
    return Suggestion(float(lrs[index]), index)


def minimum(
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    *,
    mode: str = "loss",
    beta: float = 0.98,
    divisor: float = 10.0,
) -> Suggestion:
    """A tenth of the learning rate at the lowest smoothed loss.

    ::

        index = argmin_i smooth[i];  lr = lrs[index] / divisor

    The index is that of the minimum itself (where a plot marks it).

    Args:
      lrs: the ladder, increasing.
      losses: the raw losses recorded on it, one per rung.
      mode: ``'loss'`` or ``'accuracy'`` (highest accuracy).
      beta: the EMA decay.
      divisor: ``> 0``; 10 as in fastai.

    Returns:
      ``Suggestion(lr, index)``.

    Raises:
      ValueError: too few finite points (see ``MIN_POINTS``) or bad arguments.

    >>> lrs = np.geomspace(1e-4, 1.0, 41)
    >>> found = minimum(lrs, (np.log10(lrs) + 1.0) ** 2, beta=0.0)
    >>> round(found.lr, 12), found.index
    (0.01, 30)
    """
    lrs, values = read_curve(lrs, losses, mode)
    divisor = _checks.real("divisor", divisor)
    if divisor <= 0.0:
        raise ValueError(f"divisor must be > 0; received divisor={divisor!r}")
    index = int(np.argmin(smooth_losses(values, beta)))
    return Suggestion(float(lrs[index] / divisor), index)


def valley(
    lrs: npt.ArrayLike, losses: npt.ArrayLike, *, mode: str = "loss", beta: float = 0.98
) -> Suggestion:
    """The middle of the longest descent of the smoothed loss.

    The descent is the longest strictly decreasing subsequence of ``smooth``
    (not necessarily contiguous, so a blip does not cut it; ties go to the one
    that ends first), running from rung ``a`` to rung ``b``::

        index = (a + b) // 2

    Args:
      lrs: the ladder, increasing.
      losses: the raw losses recorded on it, one per rung.
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
    lrs, values = read_curve(lrs, losses, mode)
    smooth = smooth_losses(values, beta)
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


#: The single-rate suggestions, by name.
SINGLE_SUGGESTIONS: dict[str, Callable[..., Suggestion]] = {
    "steepest": steepest,
    "valley": valley,
    "minimum": minimum,
}
