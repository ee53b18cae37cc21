"""Turning data sizes into step counts, and checking a schedule against a run."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Optional

import numpy as np

from cyclr._base import Schedule, check_count
from cyclr._ops import NUMPY
from cyclr.cyclic import CyclicSchedule
from cyclr.onecycle import OneCycle

#: Smith (2017): a half cycle of 2-10 epochs works about equally well.
EPOCHS_PER_HALF_CYCLE = (2, 10)


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Optimizer updates per epoch: ``ceil(n_samples / batch_size)``.

    >>> steps_per_epoch(60000, 50), steps_per_epoch(10, 3)
    (1200, 4)
    """
    n = check_count("n_samples", n_samples)
    b = check_count("batch_size", batch_size)
    return math.ceil(n / b)


def step_size_for(n_samples: int, batch_size: int, epochs: float = 4) -> int:
    """A half cycle of ``epochs`` epochs, in steps (Smith: 2-10; the seed uses 4).

    >>> step_size_for(60000, 50)  # the seed's 4 * 60000 / 50
    4800
    """
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Real) \
            or not math.isfinite(epochs) or epochs <= 0:
        raise ValueError(f"epochs must be a positive number; received epochs={epochs!r}")
    return max(1, round(epochs * steps_per_epoch(n_samples, batch_size)))


@dataclass(frozen=True)
class Finding:
    """Something a user should know before training: a ``code`` and a sentence."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def check(schedule: Schedule, total_steps: int,
          steps_per_epoch: Optional[int] = None) -> list[Finding]:
    """What to know about ``schedule`` before training ``total_steps`` with it.

    Findings (Smith 2017's advice): the decayed amplitude of ``triangular2``
    or ``exp_range`` falls below 1% of its start within the run; the step
    size is outside 2-10 epochs; the run does not end at a cycle boundary
    (where the lr is lowest); fewer than 3 cycles. For :class:`OneCycle`,
    a run length other than its ``total_steps``.

    >>> [f.code for f in check(CyclicSchedule(1e-4, 1e-2, 100), 500)]
    ['not_cycle_boundary', 'few_cycles']
    """
    total = check_count("total_steps", total_steps)
    spe = None if steps_per_epoch is None else check_count("steps_per_epoch", steps_per_epoch)
    if isinstance(schedule, OneCycle):
        if total != schedule.total_steps:
            return [Finding("onecycle_length",
                            f"OneCycle is built for {schedule.total_steps} steps but the run has "
                            f"{total}: it will {'hold its final lr' if total > schedule.total_steps else 'stop before annealing'}")]
        return []
    if not isinstance(schedule, CyclicSchedule):
        return []
    findings = []
    if schedule.decays:
        scale = np.asarray(schedule.scale_at(np.arange(total, dtype=np.float64), NUMPY)) \
            * np.ones(total)
        below = np.flatnonzero(scale < 0.01)
        if below.size:
            findings.append(Finding(
                "amplitude_vanishes",
                f"the amplitude falls below 1% of its start at step {int(below[0])} of {total}; "
                "the rest of the run trains at about base_lr"))
    if spe is not None:
        low, high = EPOCHS_PER_HALF_CYCLE
        for name, size in (("step_size_up", schedule.up), ("step_size_down", schedule.down)):
            epochs = size / spe
            if not low <= epochs <= high:
                findings.append(Finding(
                    "step_size_epochs",
                    f"{name}={size} is {epochs:.3g} epochs; Smith recommends {low}-{high}"))
    cycles = total / schedule.cycle_length
    if total % schedule.cycle_length:
        ends = sorted({max(1, math.floor(cycles)) * schedule.cycle_length,
                       math.ceil(cycles) * schedule.cycle_length})
        findings.append(Finding(
            "not_cycle_boundary",
            f"the run ends {total % schedule.cycle_length} steps into cycle {math.floor(cycles) + 1}, "
            f"not at a cycle boundary; {' or '.join(map(str, ends))} steps would end at base_lr"))
    if cycles < 3:
        findings.append(Finding("few_cycles",
                                f"only {cycles:.3g} cycles; Smith suggests at least 3"))
    return findings
