"""``cyclr.lightning.scheduler_config``: a cyclr schedule as Lightning's ``lr_scheduler`` entry."""

from __future__ import annotations

from typing import Any

import torch

from cyclr._base import Schedule
from cyclr.torch.scheduler import CyclicLR


def scheduler_config(
    schedule: Schedule | list[Schedule] | CyclicLR,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    name: str | None = None,
    cycle_momentum: bool | None = None,
    group_scale: str | list[float] | None = None,
) -> dict[str, Any]:
    """The ``lr_scheduler`` dict ``configure_optimizers`` returns, stepped per optimizer step.

    Lightning steps an ``interval="step"`` scheduler once per optimizer step,
    that is once every ``accumulate_grad_batches`` batches, so the learning rate
    of update ``k`` is ``schedule(k)`` (docs/semantics.md, *Time*), whatever the
    accumulation. The scheduler's ``state_dict`` goes into Lightning's
    checkpoints, so ``trainer.fit(..., ckpt_path=...)`` continues the cycle.

    ::

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=self.hparams.base_lr, momentum=0.9)
            schedule = cyclr.CyclicSchedule(self.hparams.base_lr, self.hparams.max_lr,
                                            step_size=200)
            return {"optimizer": opt,
                    "lr_scheduler": cyclr.lightning.scheduler_config(schedule, opt)}

    Args:
      schedule: any cyclr schedule (:class:`~cyclr.CyclicSchedule`,
        :class:`~cyclr.OneCycle`, a join), a list with one per parameter group,
        or a :class:`cyclr.torch.CyclicLR` already built.
      optimizer: the optimizer the schedule drives; not needed with a ``CyclicLR``
        (when given, it must be that scheduler's).
      name: the name ``LearningRateMonitor`` logs the rates under (Lightning's
        default when ``None``: ``lr-<optimizer class>``).
      cycle_momentum: as :class:`cyclr.torch.CyclicLR` (a schedule's momentum,
        when it has one, drives ``momentum`` or ``betas[0]``).
      group_scale: as :class:`cyclr.torch.CyclicLR`.

    Returns:
      ``{"scheduler": CyclicLR, "interval": "step", "frequency": 1}``, plus
      ``"name"`` when given.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> import cyclr, torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
    >>> config = scheduler_config(cyclr.CyclicSchedule(0.1, 1.0, step_size=10), opt)
    >>> config["interval"], config["frequency"], opt.param_groups[0]["lr"]
    ('step', 1, 0.1)
    """
    if isinstance(schedule, CyclicLR):
        if optimizer is not None and optimizer is not schedule.optimizer:
            raise ValueError(
                "optimizer must be the CyclicLR's own optimizer (or None); received "
                f"optimizer={optimizer!r} for a scheduler of {schedule.optimizer!r}"
            )
        if cycle_momentum is not None or group_scale is not None:
            raise ValueError(
                "cycle_momentum and group_scale are the CyclicLR's already; received "
                f"cycle_momentum={cycle_momentum!r}, group_scale={group_scale!r} with a CyclicLR"
            )
        scheduler = schedule
    else:
        if optimizer is None:
            raise ValueError(
                "a schedule needs the optimizer it drives; received optimizer=None "
                f"with schedule={schedule!r}"
            )
        scheduler = CyclicLR(
            optimizer, schedule, cycle_momentum=cycle_momentum, group_scale=group_scale
        )
    if name is not None and not isinstance(name, str):
        raise ValueError(f"name must be a string or None; received name={name!r}")
    config: dict[str, Any] = {"scheduler": scheduler, "interval": "step", "frequency": 1}
    if name is not None:
        config["name"] = name
    return config
