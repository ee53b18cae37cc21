"""An optimizer's parameter groups: writing a rate or momentum into one, and their lr ratios.

What the scheduler and the range test share: both write each group's rate the same way
(a tensor entry filled in place, for ``torch.compile``) and keep the groups' ratios the
same way (docs/semantics.md, *Parameter groups*).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch


def set_value(group: dict[str, Any], key: str, value: float) -> None:
    """Write ``value`` into ``group[key]``; a tensor entry is filled in place (torch.compile)."""
    current = group[key]
    if isinstance(current, torch.Tensor):
        current.fill_(value)
    else:
        group[key] = value


def write_momenta(groups: list[dict[str, Any]], momenta: list[float]) -> None:
    """Write each group's momentum, or ``beta_1`` in the Adam family's ``betas``."""
    for group, m in zip(groups, momenta, strict=True):
        if "betas" in group:
            group["betas"] = (m, *group["betas"][1:])
        else:
            set_value(group, "momentum", m)


def lr_scale(group: dict[str, Any], index: int) -> float | None:
    """The group's ``lr_scale`` key (timm's name), checked; ``None`` when it has none."""
    if "lr_scale" not in group:
        return None
    value = group["lr_scale"]
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        value = math.nan  # refused below
    if not 0 <= float(value) < math.inf:
        raise ValueError(
            f"a parameter group's lr_scale must be a finite number >= 0; received "
            f"lr_scale={group['lr_scale']!r} in parameter group {index}"
        )
    return float(value)


def group_ratios(param_groups: list[dict[str, Any]]) -> list[float]:
    """Each parameter group's share of the lr a schedule or a range-test rung gives.

    A group's ``lr_scale`` key (as timm's layer decay writes it) is its ratio;
    a group without one gets its initial lr (``initial_lr``, which an
    ``LRScheduler`` records, else ``lr``) over the largest initial lr among the
    groups, so the groups keep the ratios they were built with and the one with
    the largest lr follows the schedule itself. When no group has a positive
    lr, the groups without ``lr_scale`` get 1.

    Args:
      param_groups: an optimizer's ``param_groups``.

    Returns:
      One ratio per group.

    Raises:
      ValueError: an ``lr_scale`` that is not a finite number >= 0.

    >>> group_ratios([{"lr": 0.25}, {"lr": 1.0}, {"lr": 1.0, "lr_scale": 0.5}])
    [0.25, 1.0, 0.5]
    """
    initial = [float(g.get("initial_lr", g["lr"])) for g in param_groups]
    top = max(initial, default=0.0)
    ratios = []
    for i, (group, lr) in enumerate(zip(param_groups, initial, strict=True)):
        scale = lr_scale(group, i)
        ratios.append(scale if scale is not None else (lr / top if top > 0 else 1.0))
    return ratios
