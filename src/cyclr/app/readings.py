"""A range test's reading for every policy, as ``cyclr find`` prints and records it.

One reading per policy of :data:`cyclr.rangetest.policies.POLICIES`
(docs/semantics.md, *Readings per schedule*): ``triangular`` cycles between the bounds,
every other policy peaks at :func:`cyclr.rangetest.policies.peak_lr`. A policy whose
reading raises is recorded as unavailable, with the reason; no rate is guessed for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cyclr.app.policies import READINGS
from cyclr.rangetest.policies import POLICIES, peak_lr

if TYPE_CHECKING:
    from cyclr.rangetest import RangeTestResult

#: What ``cyclr train --policy`` trains each core policy's reading as, where it does.
TRAINED_AS = {core: trained for trained, core in READINGS.items()}


def policy_readings(
    result: RangeTestResult, optimizer: str | None = None
) -> dict[str, dict[str, float | str]]:
    """Every policy's reading of ``result``, by policy.

    ``{'base_lr': ..., 'max_lr': ...}`` for ``triangular``, ``{'peak_lr': ...}`` for the
    others, or ``{'unavailable': reason}`` where the reading raises ``ValueError``.
    ``optimizer``: the one the test ran with (``'sgd'``, ``'adam'``), whose family's factors
    the peaks take; None: the one ``result`` records.
    """
    readings: dict[str, dict[str, float | str]] = {}
    for policy in POLICIES:
        try:
            top = peak_lr(result, policy, optimizer=optimizer)
            readings[policy] = (
                {"base_lr": result.bounds().base_lr, "max_lr": top}
                if policy == "triangular"
                else {"peak_lr": top}
            )
        except ValueError as error:
            readings[policy] = {"unavailable": str(error)}
    return readings


def readings_lines(
    readings: dict[str, dict[str, float | str]], optimizer: str, trains: bool = True
) -> list[str]:
    """The table ``cyclr find`` prints: one line a policy, its rates or why it has none.

    ``trains``: name the ``cyclr train --policy`` of each reading it trains (PyTorch's).

    >>> for line in readings_lines({"cosine": {"peak_lr": 0.0123}}, "adam"):
    ...     print(line)
    readings per schedule, for adam (result.schedule(policy, total_steps)):
      cosine      peak_lr=0.0123  (cyclr train --policy cosine: AdamW)
    """
    lines = [f"readings per schedule, for {optimizer} (result.schedule(policy, total_steps)):"]
    for policy, reading in readings.items():
        if "unavailable" in reading:
            text = f"unavailable: {reading['unavailable']}"
        else:
            text = "  ".join(f"{name}={value:.3g}" for name, value in reading.items())
        trained = TRAINED_AS.get(policy)
        if trains and trained is not None and "unavailable" not in reading:
            free = "schedule-free AdamW" if trained == "schedulefree" else "AdamW"
            text += f"  (cyclr train --policy {trained}: {free})"
        lines.append(f"  {policy:<10}  {text}")
    return lines
