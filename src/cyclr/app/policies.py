"""Training policies by name: the optimizer, its learning-rate schedule and its momentum.

The policies of Smith's Table 1 and the usual alternatives:

- ``fixed``: SGD with momentum 0.9 at one learning rate, the one a careful user
  picks without cyclr: the range test's ``minimum`` reading (the lr at the
  lowest smoothed loss, divided by 10; fastai's long-standing default advice).
- ``triangular``, ``triangular2``, ``exp_range``, ``sine``, ``parabolic``: SGD
  with momentum 0.9 and a cyclical lr between the range test's bounds.
  ``exp_range`` decays to 10% of its amplitude by the end of the run.
- ``onecycle``: SGD with Smith's one-cycle policy peaking at the test's
  ``max_lr``, momentum cycling 0.95 -> 0.85 -> 0.95.
- ``adam``: Adam at its default rate 1e-3 (:data:`DEFAULT_LRS`), constant.
- ``adam+clr``: Adam with a triangular lr between bounds from a range test
  run with Adam.

The schedules a user would pick instead of cyclr's (PyTorch only; docs/semantics.md,
*Readings per schedule*), with AdamW (weight decay 0.01) or schedule-free AdamW:

- ``cosine``, ``wsd``, ``linear``, ``schedulefree`` (:data:`READINGS`): the core's schedule
  of that name (:func:`cyclr.rangetest.policies.peak_schedule`): a linear warm-up from 0
  over 5% of the run (the core's ``WARMUP_FRACTION``), then a cosine, warm-up-stable-decay
  (Hägele et al. 2024: constant, then a linear cool-down to 0 over the last 20%,
  ``COOLDOWN_FRACTION``) or linear decay to 0; ``schedulefree`` is schedule-free AdamW
  (``schedulefree.AdamWScheduleFree``) at the core's ``'constant'``, its warm-up run by the
  optimizer. ``cyclr train`` and ``cyclr compare`` train each name with the same schedule.
  Its peak rate is the Adam range test's reading (``RangeTestResult.schedule``'s peak), or,
  in ``cyclr compare``, each rate of a grid that tunes it (:func:`grid_rates`), the reading
  then trained beside the grid. They have no default rate.
- ``adamw+cosine``: AdamW with the same warm-up, then a cosine decay to ``peak / 1e4`` (the
  Transformers ``get_cosine_schedule_with_warmup`` shape, one step later: the numbers the
  published tables were measured with, :func:`warmup_cosine`), at its default rate
  (:data:`DEFAULT_LRS`) or a grid's. ``cyclr compare`` only.
- ``onecycle-valley``: fastai's ``fit_one_cycle(lr_max=valley)``: AdamW with
  one-cycle peaking at the Adam range test's ``valley`` reading, fastai's
  ``pct_start=0.25``, final rate ``max_lr / 1e5``, beta_1 cycling 0.95 -> 0.85.
  No grid: the range test is how its users tune it. ``cyclr compare`` only.

A grid tunes a policy of :data:`TUNABLE` (``cyclr compare --grid N``: those of
:data:`GRIDDED`) over rates log-spaced around the middle of its grid (:data:`GRID_MIDDLES`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cyclr import (
    Constant,
    CyclicSchedule,
    Linear,
    OneCycle,
    Schedule,
    WarmupConstant,
    WarmupCosine,
    WarmupLinear,
    WarmupStableDecay,
)
from cyclr.compose import Join
from cyclr.rangetest.policies import peak_schedule, warmup_steps

POLICIES = (
    "fixed",
    "triangular",
    "triangular2",
    "exp_range",
    "sine",
    "parabolic",
    "onecycle",
    "adam",
    "adam+clr",
)
CYCLICAL = {
    "triangular": dict(mode="triangular"),
    "triangular2": dict(mode="triangular2"),
    "exp_range": dict(mode="exp_range"),
    "sine": dict(waveform="sine"),
    "parabolic": dict(waveform="parabolic"),
}
#: The policies at a range test's reading (docs/semantics.md, *Readings per schedule*), in
#: ``cyclr train`` and ``cyclr compare`` alike: the core policy of ``RangeTestResult.schedule``
#: each trains (with AdamW; schedule-free AdamW for ``'constant'``), read off a range test
#: with Adam. In ``cyclr compare`` a grid may tune them; they then train at the reading too.
READINGS = {"cosine": "cosine", "wsd": "wsd", "linear": "linear", "schedulefree": "constant"}
#: The policies ``cyclr compare --grid N`` tunes: the one-rate AdamW schedules a user would
#: otherwise tune by hand, ``adamw+cosine`` and :data:`READINGS`.
GRIDDED = ("adamw+cosine", *READINGS)
#: The baselines ``bench/time_to_accuracy.py`` tunes over grids and publishes.
BASELINES = ("adamw+cosine", "wsd", "schedulefree")
#: Every policy ``cyclr compare`` knows and :func:`make_plan` builds: :data:`POLICIES`,
#: :data:`GRIDDED` and fastai's one-cycle.
COMPARED = (*POLICIES, *GRIDDED, "onecycle-valley")
#: What ``cyclr train --policy`` trains: :data:`POLICIES`, then :data:`READINGS`.
TRAINED = (*POLICIES, *READINGS)
#: The rate of each policy that has a default one, where no grid tunes it.
DEFAULT_LRS = {"adam": 1e-3, "adamw+cosine": 1e-3}
#: The middle of each tunable policy's grid (:func:`grid_rates`): its default rate where it
#: has one, else its optimizer's usual default (AdamW's 1e-3, schedule-free AdamW's 2.5e-3).
GRID_MIDDLES = {**DEFAULT_LRS, "cosine": 1e-3, "wsd": 1e-3, "linear": 1e-3, "schedulefree": 2.5e-3}
#: The policies a grid may tune, whose rate ``make_plan(lr=...)`` sets: ``adam`` and
#: :data:`GRIDDED`.
TUNABLE = tuple(GRID_MIDDLES)
#: The policies that need an optimizer only PyTorch has here (AdamW, schedule-free AdamW).
TORCH_ONLY = (*GRIDDED, "onecycle-valley")
#: AdamW's weight decay in the AdamW policies (PyTorch's and fastai's default).
ADAMW_WEIGHT_DECAY = 0.01
#: fastai's ``fit_one_cycle`` defaults: ``pct_start``, ``div`` and ``div_final``.
FASTAI_ONE_CYCLE = {"pct_start": 0.25, "div_factor": 25.0, "final_div_factor": 1e5 / 25.0}
SGD_MOMENTUM = 0.9
#: exp_range keeps this fraction of its amplitude at the end of the run.
EXP_RANGE_FINAL_SCALE = 0.1


@dataclass(frozen=True)
class Plan:
    """What a policy trains with.

    ``optimizer`` ('sgd', 'adam', 'adamw' or 'schedulefree'), the lr ``schedule``
    (with momentum in it when momentum cycles), the fixed ``momentum`` otherwise, the
    optimizer's decoupled ``weight_decay`` and ``warmup_steps`` (schedule-free AdamW's
    own warm-up; the other optimizers warm up through the schedule).
    """

    policy: str
    optimizer: str
    schedule: Schedule
    momentum: float | None
    weight_decay: float = 0.0
    warmup_steps: int = 0

    @property
    def lr_range(self) -> tuple[float, float]:
        """The lowest and highest lr the policy's cycle spans (one value when fixed)."""
        return _span(self.schedule)

    @property
    def bounds(self) -> str:
        low, high = self.lr_range
        return f"{low:.3g}" if low == high else f"{low:.3g} - {high:.3g}"


def _span(s: Schedule) -> tuple[float, float]:
    """The lowest and highest lr of a plan's schedule (a join: over its pieces)."""
    if isinstance(s, CyclicSchedule):
        return s.base_lr, s.max_lr
    if isinstance(s, OneCycle):
        return s.initial_lr, s.max_lr
    if isinstance(s, Linear):
        return min(s.init_value, s.end_value), max(s.init_value, s.end_value)
    if isinstance(s, WarmupCosine | WarmupLinear | WarmupStableDecay):
        return min(s.init_lr, s.final_lr), s.peak_lr
    if isinstance(s, WarmupConstant):
        return (s.init_lr if s.warmup_steps else s.peak_lr), s.peak_lr
    if isinstance(s, Join):
        spans = [_span(piece) for piece in s.schedules]
        return min(low for low, _ in spans), max(high for _, high in spans)
    assert isinstance(s, Constant), f"a plan's schedule is never {s!r}"
    return s.value, s.value


def needs_range_test(policy: str) -> str | None:
    """The optimizer whose range test a policy of :data:`COMPARED` reads its rates off, or None.

    None for the policies with a default rate (:data:`DEFAULT_LRS`), which train at it or a
    grid's; ``'adam'`` for :data:`READINGS` (whose reading ``cyclr compare`` trains even
    beside a grid), ``adam+clr`` and ``onecycle-valley``; ``'sgd'`` for the others.
    ``cyclr train`` takes the rates given instead where the user gives them
    (:func:`cyclr.app.train_spec.rates_from_range_test`).
    """
    if policy in DEFAULT_LRS:
        return None
    return "adam" if policy in (*READINGS, "adam+clr", "onecycle-valley") else "sgd"


def grid_rates(policy: str, points: int = 5, decades: float = 2.0) -> tuple[float, ...]:
    """``points`` rates log-spaced over ``decades`` decades around the policy's grid middle.

    How the users of an AdamW schedule tune it: the middle 1e-3 (:data:`GRID_MIDDLES`) with
    5 points over 2 decades gives 1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2.

    Raises:
      ValueError: a policy that is not :data:`TUNABLE`, fewer than 2 points, or
        ``decades`` not positive.
    """
    if policy not in TUNABLE:
        raise ValueError(f"policy must be one of {', '.join(TUNABLE)}; received {policy!r}")
    if points < 2:
        raise ValueError(f"a grid needs at least 2 points; received points={points!r}")
    if not decades > 0:
        raise ValueError(f"decades must be > 0; received decades={decades!r}")
    middle = GRID_MIDDLES[policy]
    return tuple(float(middle * 10 ** (decades * (i / (points - 1) - 0.5))) for i in range(points))


def warmup_cosine(peak_lr: float, total_steps: int, warmup_steps: int) -> Schedule:
    """A linear warm-up from 0 to ``peak_lr``, then a cosine decay to ``peak_lr / 1e4``.

    The numbers ``adamw+cosine`` has always had, so that stored comparisons reproduce:
    ``peak_lr`` is held one step after the warm-up and the cosine reaches its floor at
    ``total_steps - 1`` (it was first built as a one-cycle's annealing phase, whose steps
    end there). That is a :class:`cyclr.WarmupStableDecay` with a one-step stable phase and a
    cosine cool-down. Transformers' ``get_cosine_schedule_with_warmup`` itself (the cosine
    from ``warmup_steps`` to ``total_steps``) is :class:`cyclr.WarmupCosine`; the two are up
    to 3% of ``peak_lr`` apart.

    Raises:
      ValueError: fewer than 4 decay steps, or a warm-up below 1 step.
    """
    decay = total_steps - warmup_steps
    if warmup_steps < 1 or decay < 4:
        raise ValueError(
            "a warm-up and cosine decay need warmup_steps >= 1 and 4 decay steps after it; "
            f"received total_steps={total_steps!r}, warmup_steps={warmup_steps!r}"
        )
    return WarmupStableDecay(
        peak_lr, total_steps - 1, warmup_steps, decay - 2, decay="cosine", final_lr=peak_lr / 1e4
    )


def range_tested(policies: Iterable[str]) -> list[str]:
    """The optimizers whose range tests ``policies`` need, in name order."""
    return sorted({o for p in policies if (o := needs_range_test(p)) is not None})


def make_plan(
    policy: str,
    *,
    total_steps: int,
    step_size: int,
    base_lr: float | None = None,
    max_lr: float | None = None,
    fixed_lr: float | None = None,
    cycle_momentum: bool = False,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
    optimizer: str | None = None,
    mode: str | None = None,
    waveform: str | None = None,
    gamma: float | None = None,
    lr: float | None = None,
    valley_lr: float | None = None,
) -> Plan:
    """Build the :class:`Plan` for ``policy``.

    ``optimizer``/``mode``/``waveform``/``gamma`` override the policy's own choice
    (``cyclr train --mode ...``). ``lr``: a :data:`TUNABLE` policy's rate (its peak), the
    number a grid tunes or a range test reads (:data:`READINGS`); None: its default rate
    (:data:`DEFAULT_LRS`), which :data:`READINGS` lack. ``valley_lr``: the range test's
    ``valley`` reading, ``onecycle-valley``'s peak.
    """
    if policy not in COMPARED:
        raise ValueError(f"policy must be one of {', '.join(COMPARED)}; received {policy!r}")
    if lr is not None and policy not in TUNABLE:
        raise ValueError(
            f"lr sets the rate of {', '.join(TUNABLE)} only; received lr={lr!r} for policy "
            f"{policy!r}"
        )
    if lr is not None and not (lr > 0 and lr < float("inf")):
        raise ValueError(f"lr must be a positive finite rate; received lr={lr!r}")
    if policy in GRIDDED or policy == "onecycle-valley":
        return _adamw_plan(policy, total_steps, lr, valley_lr)
    momentum: dict[str, Any] = (
        {"base_momentum": base_momentum, "max_momentum": max_momentum} if cycle_momentum else {}
    )
    if policy == "fixed":
        rate = _given("fixed_lr", fixed_lr, policy)
        return Plan(policy, optimizer or "sgd", Constant(rate), SGD_MOMENTUM)
    if policy == "adam":
        return Plan(policy, "adam", Constant(lr or DEFAULT_LRS["adam"]), None)
    top = _given("max_lr", max_lr, policy)
    if policy == "onecycle":
        one = OneCycle(top, total_steps, base_momentum=base_momentum, max_momentum=max_momentum)
        return Plan(policy, optimizer or "sgd", one, None)
    kwargs: dict[str, Any] = dict(CYCLICAL.get(policy, {}))
    if mode is not None:
        kwargs["mode"] = mode
    if waveform is not None:
        kwargs["waveform"] = waveform
    if kwargs.get("mode") == "exp_range":
        kwargs["gamma"] = gamma if gamma is not None else EXP_RANGE_FINAL_SCALE ** (1 / total_steps)
    s = CyclicSchedule(_given("base_lr", base_lr, policy), top, step_size, **kwargs, **momentum)
    opt = optimizer or ("adam" if policy == "adam+clr" else "sgd")
    return Plan(
        policy, opt, s, None if cycle_momentum else (SGD_MOMENTUM if opt == "sgd" else None)
    )


def _adamw_plan(policy: str, total_steps: int, lr: float | None, valley_lr: float | None) -> Plan:
    """The plan of a policy of :data:`GRIDDED`, or ``onecycle-valley``.

    Each but ``adamw+cosine`` (whose stored numbers :func:`warmup_cosine` keeps) is the
    core's schedule at the rate (:func:`cyclr.rangetest.policies.peak_schedule`).
    """
    decay = ADAMW_WEIGHT_DECAY
    if policy == "onecycle-valley":
        peak = _given("valley_lr", valley_lr, policy)
        one = OneCycle(peak, total_steps, **FASTAI_ONE_CYCLE)  # type: ignore[arg-type]
        return Plan(policy, "adamw", one, None, weight_decay=decay)
    rate = _given("lr", DEFAULT_LRS.get(policy) if lr is None else lr, policy)
    if policy == "adamw+cosine":
        cosine = warmup_cosine(rate, total_steps, warmup_steps(total_steps))
        return Plan(policy, "adamw", cosine, None, weight_decay=decay)
    s = peak_schedule(READINGS[policy], rate, total_steps)
    if isinstance(s, WarmupConstant):
        # Schedule-free AdamW runs the warm-up itself (Plan.warmup_steps), one step ahead
        # of WarmupConstant's: the schedule the runner applies has none.
        return Plan(policy, "schedulefree", WarmupConstant(rate, 0), None, decay, s.warmup_steps)
    return Plan(policy, "adamw", s, None, weight_decay=decay)


def _given(name: str, value: float | None, policy: str) -> float:
    """``value``, which the policy needs; an error naming it when it is missing."""
    if value is None:
        raise ValueError(f"policy {policy!r} needs {name}; received {name}=None")
    return value
