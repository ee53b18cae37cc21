"""One range test, a schedule for each policy: ``RangeTestResult.schedule(policy, total_steps)``.

A policy is the shape of the run a user plans; the range test gives its rate. The rules
are in docs/semantics.md, *Readings per schedule*:

- ``'triangular'``: ``CyclicSchedule(base_lr, max_lr, step_size)`` between
  ``result.bounds()``, in whole cycles that end at ``base_lr`` at ``total_steps``; the half
  cycle is :data:`HALF_CYCLE_EPOCHS` passes over the data when ``steps_per_epoch`` is
  known, else the whole run is one cycle.
- ``'onecycle'``: ``OneCycle(peak, total_steps)`` at its defaults.
- ``'cosine'``: ``WarmupCosine(peak, total_steps, warmup)`` to 0.
- ``'wsd'``: ``WarmupStableDecay(peak, total_steps, warmup, cooldown)``, a linear cool-down
  over the last :data:`COOLDOWN_FRACTION` of the run.
- ``'linear'``: ``WarmupLinear(peak, total_steps, warmup)`` to 0.
- ``'constant'``: ``WarmupConstant(peak, warmup)``, the schedule a schedule-free optimizer
  runs with.

The warm-up is :data:`WARMUP_FRACTION` of the run (at least one update). Each policy's
``peak`` is one reading of the curve times a factor, :data:`PEAK_READINGS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cyclr._base import Schedule, check_count
from cyclr.cyclic import CyclicSchedule
from cyclr.onecycle import OneCycle
from cyclr.rangetest import _checks
from cyclr.warmup import WarmupConstant, WarmupCosine, WarmupLinear, WarmupStableDecay

if TYPE_CHECKING:
    from cyclr.rangetest.bounds import BoundsSettings, BoundsSuggestion
    from cyclr.rangetest.result import RangeTestResult

#: The policies :meth:`RangeTestResult.schedule` reads a schedule for.
POLICIES = ("triangular", "onecycle", "cosine", "wsd", "linear", "constant")
#: The policies with one peak rate (all but ``triangular``): :func:`peak_schedule`.
PEAKED = POLICIES[1:]
#: The warm-up of ``cosine``, ``wsd``, ``linear`` and ``constant``, as a share of the run.
WARMUP_FRACTION = 0.05
#: WSD's cool-down, as a share of the run (Hägele et al.'s 20%).
COOLDOWN_FRACTION = 0.2
#: ``triangular``'s half cycle in passes over the data (Smith: 2-10 work about as well).
HALF_CYCLE_EPOCHS = 4
#: Each policy's peak rate: ``(reading, factor)``, the rate of ``result.bounds()``'s
#: ``'max_lr'`` times ``factor``. ``triangular`` runs between the bounds themselves.
PEAK_READINGS: dict[str, tuple[str, float]] = {
    "onecycle": ("max_lr", 1.0),
    "cosine": ("max_lr", 1.0),
    "wsd": ("max_lr", 1.0),
    "linear": ("max_lr", 1.0),
    "constant": ("max_lr", 1.0),
}


def warmup_steps(total_steps: int) -> int:
    """The warm-up of a run of ``total_steps`` updates: :data:`WARMUP_FRACTION`, ``>= 1``.

    >>> warmup_steps(1000), warmup_steps(10)
    (50, 1)
    """
    return max(1, round(WARMUP_FRACTION * total_steps))


def cycle_half(total_steps: int, steps_per_epoch: int | None) -> int:
    """``triangular``'s half cycle: whole cycles in ``total_steps``, near 4 epochs each half.

    >>> cycle_half(1000, None), cycle_half(1000, 50), cycle_half(150, 50)
    (500, 250, 75)
    """
    if steps_per_epoch is None:
        return max(1, total_steps // 2)
    wanted = HALF_CYCLE_EPOCHS * steps_per_epoch
    cycles = max(1, round(total_steps / (2 * wanted)))
    return max(1, total_steps // (2 * cycles))


def peak_lr(
    result: RangeTestResult,
    policy: str,
    monitor: str | None = None,
    settings: BoundsSettings | None = None,
) -> float:
    """The peak rate of ``policy`` read off ``result`` (:data:`PEAK_READINGS`).

    Raises:
      ValueError: an unknown policy, or a curve with no reading for it, naming the policy.
    """
    _checks.choice("policy", policy, POLICIES)
    bounds = _bounds(result, policy, monitor, settings)
    if policy == "triangular":  # it runs between the bounds themselves
        return bounds.max_lr
    reading, factor = PEAK_READINGS[policy]
    return float(getattr(bounds, reading)) * factor


def policy_schedule(
    result: RangeTestResult,
    policy: str,
    total_steps: int,
    *,
    steps_per_epoch: int | None = None,
    monitor: str | None = None,
    settings: BoundsSettings | None = None,
) -> Schedule:
    """``result.schedule(policy, total_steps, ...)``: documented there."""
    _checks.choice("policy", policy, POLICIES)
    total = check_count("total_steps", total_steps, minimum=2)
    spe = None if steps_per_epoch is None else check_count("steps_per_epoch", steps_per_epoch)
    if policy == "triangular":
        base, top = _bounds(result, policy, monitor, settings)
        return CyclicSchedule(base, top, cycle_half(total, spe))
    return peak_schedule(policy, peak_lr(result, policy, monitor, settings), total)


def peak_schedule(policy: str, peak: float, total_steps: int) -> Schedule:
    """The schedule of a policy with one peak rate, ``peak``, over ``total_steps`` updates.

    What :meth:`RangeTestResult.schedule` builds at the policy's reading, at a rate given
    (a grid's, a default): docs/semantics.md, *Readings per schedule*.

    >>> peak_schedule("wsd", 0.01, 100)
    WarmupStableDecay(peak_lr=0.01, total_steps=100, warmup_steps=5, decay_steps=20)

    Raises:
      ValueError: a policy not in :data:`PEAKED`, or a bad count or rate, naming it.
    """
    _checks.choice("policy", policy, PEAKED)
    total = check_count("total_steps", total_steps, minimum=2)
    if policy == "onecycle":
        return OneCycle(peak, total)
    warmup = warmup_steps(total)
    if policy == "constant":
        return WarmupConstant(peak, warmup)
    if policy == "wsd":
        cooldown = max(1, round(COOLDOWN_FRACTION * total))
        return WarmupStableDecay(peak, total, warmup, min(cooldown, total - warmup))
    if policy == "linear":
        return WarmupLinear(peak, total, warmup)
    return WarmupCosine(peak, total, warmup)


def _bounds(
    result: RangeTestResult, policy: str, monitor: str | None, settings: BoundsSettings | None
) -> BoundsSuggestion:
    """``result.bounds(monitor, settings)``; a curve with none names the policy."""
    try:
        return result.bounds(monitor, settings)
    except ValueError as error:
        raise ValueError(
            f"this range test gives no reliable rate for policy={policy!r}: {error}"
        ) from error
