"""Turning data sizes into step counts, and checking a schedule against a run."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from cyclr._base import Schedule, check_count
from cyclr.cyclic import CyclicSchedule
from cyclr.onecycle import OneCycle
from cyclr.ops import NUMPY

#: Smith (2017): a half cycle of 2-10 epochs works about equally well.
EPOCHS_PER_HALF_CYCLE = (2, 10)


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Optimizer updates per epoch: ``ceil(n_samples / batch_size)``.

    Args:
      n_samples: training examples per epoch, ``>= 1``.
      batch_size: examples per update, ``>= 1``.

    Returns:
      The number of updates in one pass over the data.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> steps_per_epoch(60000, 50), steps_per_epoch(10, 3)
    (1200, 4)
    """
    n = check_count("n_samples", n_samples)
    b = check_count("batch_size", batch_size)
    return math.ceil(n / b)


def step_size_for(n_samples: int, batch_size: int, epochs: float = 4) -> int:
    """A half cycle of ``epochs`` epochs, in steps (Smith: 2-10; the seed uses 4).

    Args:
      n_samples: training examples per epoch, ``>= 1``.
      batch_size: examples per update, ``>= 1``.
      epochs: the half cycle in epochs, ``> 0`` (a fraction rounds to whole steps).

    Returns:
      ``max(1, round(epochs * steps_per_epoch(n_samples, batch_size)))``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> step_size_for(60000, 50)  # the seed's 4 * 60000 / 50
    4800
    """
    if (
        isinstance(epochs, bool)
        or not isinstance(epochs, numbers.Real)
        or not math.isfinite(epochs)
        or epochs <= 0
    ):
        raise ValueError(f"epochs must be a positive number; received epochs={epochs!r}")
    return max(1, round(epochs * steps_per_epoch(n_samples, batch_size)))


@dataclass(frozen=True)
class Finding:
    """Something a user should know before training: a ``code`` and a sentence."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def check(
    schedule: Schedule, total_steps: int, steps_per_epoch: int | None = None
) -> list[Finding]:
    """What to know about ``schedule`` before training ``total_steps`` with it.

    Findings (Smith 2017's advice): the decayed amplitude of ``triangular2``
    or ``exp_range`` falls below 1% of its start within the run; the step
    size is outside 2-10 epochs; the run does not end at a cycle boundary
    (where the lr is lowest); fewer than 3 cycles. For :class:`OneCycle`,
    a run length other than its ``total_steps``.

    Args:
      schedule: the schedule to check; only cyclic and one-cycle schedules have findings.
      total_steps: the updates the run will make, ``>= 1``.
      steps_per_epoch: updates per epoch, ``>= 1``; enables the step-size-in-epochs check.

    Returns:
      The findings, in the order above; empty when there is nothing to say.

    Raises:
      ValueError: a bad count, naming it and the value received.

    >>> [f.code for f in check(CyclicSchedule(1e-4, 1e-2, 100), 500)]
    ['not_cycle_boundary', 'few_cycles']
    """
    total = check_count("total_steps", total_steps)
    spe = None if steps_per_epoch is None else check_count("steps_per_epoch", steps_per_epoch)
    if isinstance(schedule, OneCycle):
        built = schedule.total_steps
        assert built is not None  # resolved by OneCycle.__post_init__
        if total != built:
            then = "hold its final lr" if total > built else "stop before annealing"
            message = f"OneCycle is built for {built} steps but the run has {total}: it will {then}"
            return [Finding("onecycle_length", message)]
        return []
    if not isinstance(schedule, CyclicSchedule):
        return []
    return _cyclic_findings(schedule, total, spe)


def _cyclic_findings(schedule: CyclicSchedule, total: int, spe: int | None) -> list[Finding]:
    findings: list[Finding] = []
    if schedule.decays:
        steps = np.arange(total, dtype=np.float64)
        scale = np.asarray(schedule.scale_at(steps, NUMPY)) * np.ones(total)
        below = np.flatnonzero(scale < 0.01)
        if below.size:
            findings.append(
                Finding(
                    "amplitude_vanishes",
                    "the amplitude falls below 1% of its start at step "
                    f"{int(below[0])} of {total}; the rest of the run trains at about base_lr",
                )
            )
    if spe is not None:
        low, high = EPOCHS_PER_HALF_CYCLE
        for name, size in (("step_size_up", schedule.up), ("step_size_down", schedule.down)):
            epochs = size / spe
            if not low <= epochs <= high:
                findings.append(
                    Finding(
                        "step_size_epochs",
                        f"{name}={size} is {epochs:.3g} epochs; Smith recommends {low}-{high}",
                    )
                )
    cycles = total / schedule.cycle_length
    if total % schedule.cycle_length:
        ends = sorted(
            {
                max(1, math.floor(cycles)) * schedule.cycle_length,
                math.ceil(cycles) * schedule.cycle_length,
            }
        )
        findings.append(
            Finding(
                "not_cycle_boundary",
                f"the run ends {total % schedule.cycle_length} steps into cycle "
                f"{math.floor(cycles) + 1}, not at a cycle boundary; "
                f"{' or '.join(map(str, ends))} steps would end at base_lr",
            )
        )
    if cycles < 3:
        findings.append(
            Finding("few_cycles", f"only {cycles:.3g} cycles; Smith suggests at least 3")
        )
    return findings
