"""How :class:`cyclr.torch.CyclicLR`'s arguments become schedules and group scales.

PyTorch's ``CyclicLR`` keywords (a value for every parameter group or a list with
one per group) into one cyclr schedule per group, the ``schedule`` argument's
checks, ``group_scale`` (``None``, ``'initial_lr'`` or a list) into one factor
per group, ``cycle_momentum`` checked against the schedules and the optimizer,
and the optimizer's own update count (``start_step``'s default).
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

from cyclr._base import Schedule
from cyclr._facade import given_keywords
from cyclr.cyclic import CyclicSchedule
from cyclr.torch.param_groups import group_ratios, lr_scale

#: PyTorch's keywords that take one value per parameter group
_PER_GROUP = ("base_lr", "max_lr", "base_momentum", "max_momentum")
#: PyTorch's CyclicLR arguments cyclr spells otherwise
_PYTORCH_HINTS = {
    "last_epoch": "cyclr counts the updates already applied; pass "
    "start_step=last_epoch + 1 (or nothing, to read the "
    "optimizer's own count)"
}


def _per_group(name: str, value: Any, n_groups: int) -> list[Any]:
    """A scalar for every group, or a list with one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_groups:
            raise ValueError(
                f"{name} needs one value per parameter group ({n_groups}); "
                f"received {name}={list(value)!r}"
            )
        return list(value)
    return [value] * n_groups


def _keyword_schedules(
    given: dict[str, Any], n_groups: int, cycle_momentum: bool
) -> list[Schedule]:
    """One schedule per parameter group from PyTorch's keywords (lists give one value each)."""
    if "base_lr" not in given or "max_lr" not in given:
        raise ValueError(
            "give a cyclr schedule, or base_lr and max_lr; received schedule=None, "
            f"base_lr={given.get('base_lr')!r}, max_lr={given.get('max_lr')!r}"
        )
    columns = {k: _per_group(k, v, n_groups) for k, v in given.items() if k in _PER_GROUP}
    return [
        CyclicSchedule.from_torch_kwargs(
            **{**given, **{k: c[i] for k, c in columns.items()}}, cycle_momentum=cycle_momentum
        )
        for i in range(n_groups)
    ]


def given_schedules(
    optimizer: torch.optim.Optimizer,
    schedule: Any,
    keywords: dict[str, Any],
    cycle_momentum: bool | None,
) -> tuple[list[Schedule], bool | None]:
    """The schedules ``CyclicLR(optimizer, schedule, **keywords)`` drives, checked.

    Returns the schedules (one, or one per parameter group) and ``cycle_momentum``
    (``True`` in place of ``None`` for PyTorch's keywords, as in PyTorch).
    """
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim.Optimizer; received optimizer={optimizer!r}"
        )
    if isinstance(schedule, numbers.Real) or getattr(schedule, "ndim", None) == 0:
        raise ValueError(
            "the second argument is a cyclr schedule; pass PyTorch's bounds "
            f"as keywords (base_lr=..., max_lr=...); received "
            f"schedule={schedule!r}"
        )
    n_groups = len(optimizer.param_groups)
    given = given_keywords(
        CyclicSchedule.from_torch_kwargs,
        (),
        keywords,
        owner="CyclicLR",
        schedule=schedule,
        hints=_PYTORCH_HINTS,
    )
    if schedule is None:
        cycle_momentum = True if cycle_momentum is None else cycle_momentum
        schedules = _keyword_schedules(given, n_groups, cycle_momentum)
    else:
        schedules = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule]
    for s in schedules:
        if not isinstance(s, Schedule):
            raise ValueError(
                f"schedule must be a cyclr Schedule or a list of them; received schedule={s!r}"
            )
    if len(schedules) not in (1, n_groups):
        raise ValueError(
            f"give one schedule, or one per parameter group ({n_groups}); "
            f"received {len(schedules)} schedules"
        )
    return schedules, cycle_momentum


def resolve_group_scale(groups: list[dict[str, Any]], value: Any) -> list[float]:
    """Each parameter group's factor on the schedule's lr, from ``group_scale``."""
    if value is None:  # a group's lr_scale key still scales it
        return [1.0 if (scale := lr_scale(g, i)) is None else scale for i, g in enumerate(groups)]
    if isinstance(value, str):
        if value != "initial_lr":
            raise ValueError(
                "group_scale must be None, 'initial_lr' or a list of numbers; "
                f"received group_scale={value!r}"
            )
        initial = [float(g.get("initial_lr", g["lr"])) for g in groups]
        if max(initial) <= 0 and any("lr_scale" not in g for g in groups):
            raise ValueError(
                "group_scale='initial_lr' needs a positive lr in some parameter "
                f"group; received lr={initial!r}"
            )
        return group_ratios(groups)
    if not isinstance(value, (list, tuple)):
        raise ValueError(
            "group_scale must be None, 'initial_lr' or a list of numbers; "
            f"received group_scale={value!r}"
        )
    scales = _per_group("group_scale", value, len(groups))
    for s in scales:
        if isinstance(s, bool) or not isinstance(s, numbers.Real) or not float(s) >= 0:
            raise ValueError(
                f"group_scale entries must be numbers >= 0; received group_scale={list(value)!r}"
            )
    return [float(s) for s in scales]


def resolve_cycle_momentum(
    optimizer: torch.optim.Optimizer, schedules: list[Schedule], wanted: bool | None
) -> bool:
    """Whether to write the schedules' momentum: ``wanted``, or ``None`` to follow them."""
    has_momentum = all(s.has_momentum for s in schedules)
    if wanted is None:  # follow the schedule, also one restored by load_state_dict
        wanted = has_momentum
    if wanted and not has_momentum:
        raise ValueError(
            "cycle_momentum=True needs a schedule with a momentum "
            "(base_momentum/max_momentum); received a schedule without one: "
            f"{schedules[0]!r}"
        )
    if wanted:
        for i, group in enumerate(optimizer.param_groups):
            if "momentum" not in group and "betas" not in group:
                raise ValueError(
                    f"cycle_momentum=True needs an optimizer with 'momentum' or 'betas'; "
                    f"received {type(optimizer).__name__} (parameter group {i}); pass "
                    "cycle_momentum=False"
                )
    return bool(wanted)


def optimizer_step_count(optimizer: torch.optim.Optimizer) -> int | None:
    """The updates ``optimizer`` has applied, where its state keeps the count, else ``None``.

    Adam, AdamW, RMSprop, Adagrad and most of ``torch.optim`` keep ``state[p]['step']``
    per parameter (the largest is taken: a parameter without a gradient skips updates);
    SGD keeps only its momentum buffers.
    """
    counts = [
        int(state["step"])
        for state in optimizer.state.values()
        if isinstance(state, dict) and "step" in state
    ]
    return max(counts) if counts else None
