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
- ``adam``: Adam at its default rate 1e-3, constant.
- ``adam+clr``: Adam with a triangular lr between bounds from a range test
  run with Adam.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cyclr import Constant, CyclicSchedule, OneCycle, Schedule

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
ADAM_DEFAULT_LR = 1e-3
SGD_MOMENTUM = 0.9
#: ``(start_lr, end_lr, num_steps)`` of the range test per optimizer, the settings
#: suggest_bounds was validated with (bench/suggest_bounds.py): SGD's loss is flat below
#: ~1e-3 on the bundled tasks; Adam trains decades lower and diverges by 1.
RANGE_TEST_DEFAULTS = {"sgd": (1e-4, 10.0, 400), "adam": (1e-5, 1.0, 300)}
#: exp_range keeps this fraction of its amplitude at the end of the run.
EXP_RANGE_FINAL_SCALE = 0.1


@dataclass(frozen=True)
class Plan:
    """What a policy trains with.

    ``optimizer`` ('sgd' or 'adam'), the lr ``schedule`` (with momentum in it when
    momentum cycles), and the fixed ``momentum`` otherwise.
    """

    policy: str
    optimizer: str
    schedule: Schedule
    momentum: float | None

    @property
    def lr_range(self) -> tuple[float, float]:
        """The lowest and highest lr the policy's cycle spans (one value when fixed)."""
        s = self.schedule
        if isinstance(s, CyclicSchedule):
            return s.base_lr, s.max_lr
        if isinstance(s, OneCycle):
            return s.initial_lr, s.max_lr
        assert isinstance(s, Constant), f"a plan's schedule is never {s!r}"
        return s.value, s.value

    @property
    def bounds(self) -> str:
        low, high = self.lr_range
        return f"{low:.3g}" if low == high else f"{low:.3g} - {high:.3g}"


def needs_range_test(policy: str) -> str | None:
    """The optimizer whose range test the policy's rates come from, or None."""
    if policy == "adam":
        return None
    return "adam" if policy == "adam+clr" else "sgd"


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
) -> Plan:
    """Build the :class:`Plan` for ``policy``.

    ``optimizer``/``mode``/``waveform``/``gamma`` override the policy's own choice
    (``cyclr train --mode ...``).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}; received {policy!r}")
    momentum: dict[str, Any] = (
        {"base_momentum": base_momentum, "max_momentum": max_momentum} if cycle_momentum else {}
    )
    if policy == "fixed":
        rate = _given("fixed_lr", fixed_lr, policy)
        return Plan(policy, optimizer or "sgd", Constant(rate), SGD_MOMENTUM)
    if policy == "adam":
        return Plan(policy, "adam", Constant(ADAM_DEFAULT_LR), None)
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


def _given(name: str, value: float | None, policy: str) -> float:
    """``value``, which the policy needs; an error naming it when it is missing."""
    if value is None:
        raise ValueError(f"policy {policy!r} needs {name}; received {name}=None")
    return value
