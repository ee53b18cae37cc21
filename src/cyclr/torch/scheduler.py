"""``cyclr.torch.CyclicLR``: any cyclr schedule as a PyTorch ``LRScheduler``."""
from __future__ import annotations

import numbers
from typing import Any, Optional

import torch
from torch.optim.lr_scheduler import LRScheduler

from cyclr._base import Schedule, check_count, deserialize, serialize
from cyclr._ops import PYTHON
from cyclr.cyclic import CyclicSchedule

_STATE_KEYS = ("step", "schedules", "group_scale")


def _set_value(group: dict, key: str, value: float) -> None:
    """Write ``value`` into ``group[key]``; a tensor entry is filled in place (torch.compile)."""
    current = group[key]
    if isinstance(current, torch.Tensor):
        current.fill_(value)
    else:
        group[key] = value


def _per_group(name: str, value, n_groups: int) -> list:
    """A scalar for every group, or a list with one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != n_groups:
            raise ValueError(f"{name} needs one value per parameter group ({n_groups}); "
                             f"received {name}={list(value)!r}")
        return list(value)
    return [value] * n_groups


def _schedule_entry(schedule: Schedule) -> dict:
    """``serialize(schedule)``; a custom ``scale_fn`` is kept by name only, to check on load."""
    if isinstance(schedule, CyclicSchedule) and schedule.scale_fn is not None:
        fn = schedule.scale_fn
        name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        return {"class_name": type(schedule).__name__, "config": None, "scale_fn": name}
    return serialize(schedule)


def _restore_schedule(entry: dict, current: Schedule, group: int) -> Schedule:
    if entry.get("config") is not None:
        return deserialize(entry)
    # A custom scale_fn cannot travel in a weights-only checkpoint; the scheduler being
    # loaded into must have been built with the same function.
    mine = _schedule_entry(current)
    if mine != entry:
        raise ValueError(
            f"the saved schedule of parameter group {group} has a custom scale_fn "
            f"({entry.get('scale_fn')}) that is not saved with it; build the scheduler with the "
            f"same schedule before loading; received a scheduler whose schedule is {current!r}")
    return current


def _checked_step(step) -> float:
    # The per-step path: the schedule's scalar math without Schedule.__call__'s
    # input checks (the step is this scheduler's own int; only its sign needs one).
    if step < 0:
        raise ValueError(f"step must be >= 0; received step={step}")
    return float(step)


def optimizer_step_count(optimizer: torch.optim.Optimizer) -> Optional[int]:
    """The updates ``optimizer`` has applied, where its state keeps the count, else ``None``.

    Adam, AdamW, RMSprop, Adagrad and most of ``torch.optim`` keep ``state[p]['step']``
    per parameter (the largest is taken: a parameter without a gradient skips updates);
    SGD keeps only its momentum buffers.
    """
    counts = [int(state["step"]) for state in optimizer.state.values()
              if isinstance(state, dict) and "step" in state]
    return max(counts) if counts else None


class CyclicLR(LRScheduler):
    """Set each parameter group's learning rate (and momentum) from a cyclr schedule.

    The value for update number ``step`` (0-based, SPEC.md) is, for group ``i``::

        lr_i = schedule_i(step) * group_scale[i]
        momentum_i (or betas[0]) = schedule_i.momentum(step)

    Call ``scheduler.step()`` after every ``optimizer.step()``. The step is the
    only state that changes; rates are computed from it in closed form, never
    from the optimizer's current lr, so they cannot drift. ``last_epoch`` is the
    same number under PyTorch's name (``SequentialLR`` uses it).

    Two ways to build one:

    - ``CyclicLR(optimizer, schedule)`` with any cyclr schedule
      (:class:`~cyclr.CyclicSchedule`, :class:`~cyclr.OneCycle`, a
      :class:`~cyclr.Join`), or a list with one schedule per parameter group;
    - PyTorch's keywords: ``CyclicLR(optimizer, base_lr=..., max_lr=...,
      step_size_up=2000, step_size_down=None, mode='triangular', gamma=1.0,
      scale_fn=None, scale_mode=None, cycle_momentum=True, base_momentum=0.8,
      max_momentum=0.9)``, plus cyclr's ``waveform`` and ``decay_target``.
      ``base_lr``, ``max_lr``, ``base_momentum`` and ``max_momentum`` may be
      lists, one per group. Unlike PyTorch, a ``scale_mode`` given with a
      built-in ``mode`` is honoured (``None`` means the mode's own).

    Args:
      optimizer: a ``torch.optim.Optimizer``.
      schedule: a cyclr ``Schedule`` or a list of them (one per group).
      group_scale: ``None`` (every group follows the schedule), ``'initial_lr'``
        (group ``i`` is scaled by its initial lr over group 0's: discriminative
        rates that keep the groups' ratios), or a list of factors.
      cycle_momentum: write the schedule's momentum into ``group['momentum']``
        (SGD, RMSprop) or ``group['betas'][0]`` (Adam family). ``None``: when the
        schedule has a momentum (the keyword form's default is ``True``, as in
        PyTorch).
      start_step: the updates already applied. ``None``: the optimizer's own
        count where its state keeps one (``state['step']``: Adam, AdamW,
        RMSprop, Adagrad, ...), so a scheduler built after
        ``optimizer.load_state_dict`` continues the cycle (SPEC.md); 0 for a
        fresh optimizer and for SGD, which keeps no count (restore this
        scheduler's ``state_dict`` there, or pass the step). Give 0 to start a
        new cycle on an optimizer that has trained.

    Raises:
      ValueError: naming the parameter and the value received.

    ``state_dict()`` is ``{'step', 'schedules', 'group_scale'}``: plain numbers,
    strings and lists (``cyclr.serialize`` of each schedule), so
    ``torch.load(..., weights_only=True)`` reads it back. A schedule with a
    custom ``scale_fn`` is saved by the function's name only; load it into a
    scheduler built with the same function.

    >>> import cyclr, torch
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
    >>> sched = CyclicLR(opt, cyclr.CyclicSchedule(1.0, 5.0, step_size=4))
    >>> lrs = []
    >>> for _ in range(10):
    ...     lrs.append(opt.param_groups[0]["lr"])
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0, 1.0, 2.0]
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule=None, *,
                 base_lr=None, max_lr=None, step_size_up: int = 2000,
                 step_size_down: Optional[int] = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn=None, scale_mode: Optional[str] = None,
                 cycle_momentum: Optional[bool] = None, base_momentum=0.8,
                 max_momentum=0.9, waveform: str = "triangular",
                 decay_target: str = "amplitude", group_scale=None,
                 start_step: Optional[int] = None):
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(f"optimizer must be a torch.optim.Optimizer; received "
                             f"optimizer={optimizer!r}")
        n_groups = len(optimizer.param_groups)
        if schedule is None:
            if base_lr is None or max_lr is None:
                raise ValueError("give a cyclr schedule, or base_lr and max_lr; received "
                                 f"schedule=None, base_lr={base_lr!r}, max_lr={max_lr!r}")
            cycle_momentum = True if cycle_momentum is None else cycle_momentum
            if scale_fn is not None and scale_mode is None:
                scale_mode = "cycle"  # PyTorch's default for a custom scale_fn
            columns = zip(_per_group("base_lr", base_lr, n_groups),
                          _per_group("max_lr", max_lr, n_groups),
                          _per_group("base_momentum", base_momentum, n_groups),
                          _per_group("max_momentum", max_momentum, n_groups))
            schedules = [CyclicSchedule(
                lo, hi, step_size_up=step_size_up, step_size_down=step_size_down, mode=mode,
                gamma=gamma, waveform=waveform, decay_target=decay_target, scale_fn=scale_fn,
                scale_mode=scale_mode,
                base_momentum=bm if cycle_momentum else None,
                max_momentum=mm if cycle_momentum else None) for lo, hi, bm, mm in columns]
        else:
            if base_lr is not None or max_lr is not None:
                raise ValueError("give a schedule or base_lr/max_lr, not both; received "
                                 f"schedule={schedule!r}, base_lr={base_lr!r}, max_lr={max_lr!r}")
            given = {name: value for name, value, default in (
                ("step_size_up", step_size_up, 2000), ("step_size_down", step_size_down, None),
                ("mode", mode, "triangular"), ("gamma", gamma, 1.0),
                ("scale_fn", scale_fn, None), ("scale_mode", scale_mode, None),
                ("base_momentum", base_momentum, 0.8), ("max_momentum", max_momentum, 0.9),
                ("waveform", waveform, "triangular"), ("decay_target", decay_target, "amplitude"),
            ) if value is not default and value != default}
            if given:
                raise ValueError("the schedule fixes these; pass them to the schedule instead: "
                                 + ", ".join(f"{k}={v!r}" for k, v in given.items()))
            if isinstance(schedule, numbers.Real):
                raise ValueError("the second argument is a cyclr schedule; pass PyTorch's bounds "
                                 f"as keywords (base_lr=..., max_lr=...); received "
                                 f"schedule={schedule!r}")
            schedules = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule]
        for s in schedules:
            if not isinstance(s, Schedule):
                raise ValueError(f"schedule must be a cyclr Schedule or a list of them; "
                                 f"received schedule={s!r}")
        if len(schedules) not in (1, n_groups):
            raise ValueError(f"give one schedule, or one per parameter group ({n_groups}); "
                             f"received {len(schedules)} schedules")
        self._step = -1
        self.optimizer = optimizer
        self._cycle_momentum_arg = cycle_momentum
        self.cycle_momentum = self._resolve_cycle_momentum(schedules)
        self.schedules = schedules
        self.group_scale = self._resolve_group_scale(group_scale)
        if start_step is not None:
            start_step = check_count("start_step", start_step, minimum=0)
        # LRScheduler.__init__ records initial_lr and takes the first step (to step 0).
        super().__init__(optimizer)
        # SPEC.md: after a resume the step continues from the optimizer's own count.
        start = optimizer_step_count(optimizer) if start_step is None else start_step
        if start:
            self._step = start
            self._apply()

    # The step is the scheduler's only changing state; last_epoch is its PyTorch name.
    @property
    def last_epoch(self) -> int:  # type: ignore[override]
        return self._step

    @last_epoch.setter
    def last_epoch(self, value: int) -> None:
        self._step = int(value)

    @property
    def step_count(self) -> int:
        """The number of optimizer updates already applied (SPEC.md's ``step``)."""
        return self._step

    def _resolve_cycle_momentum(self, schedules) -> bool:
        has_momentum = all(s.has_momentum for s in schedules)
        wanted = self._cycle_momentum_arg
        if wanted is None:  # follow the schedule, also one restored by load_state_dict
            wanted = has_momentum
        if wanted and not has_momentum:
            raise ValueError("cycle_momentum=True needs a schedule with a momentum "
                             "(base_momentum/max_momentum); received a schedule without one: "
                             f"{schedules[0]!r}")
        if wanted:
            for i, group in enumerate(self.optimizer.param_groups):
                if "momentum" not in group and "betas" not in group:
                    raise ValueError(
                        f"cycle_momentum=True needs an optimizer with 'momentum' or 'betas'; "
                        f"received {type(self.optimizer).__name__} (parameter group {i}); pass "
                        "cycle_momentum=False")
        return bool(wanted)

    def _resolve_group_scale(self, value) -> list[float]:
        groups = self.optimizer.param_groups
        if value is None:
            return [1.0] * len(groups)
        if isinstance(value, str):
            if value != "initial_lr":
                raise ValueError("group_scale must be None, 'initial_lr' or a list of numbers; "
                                 f"received group_scale={value!r}")
            initial = [float(g.get("initial_lr", g["lr"])) for g in groups]
            if initial[0] <= 0:
                raise ValueError("group_scale='initial_lr' needs a positive lr in parameter "
                                 f"group 0; received lr={initial[0]!r}")
            return [lr / initial[0] for lr in initial]
        if not isinstance(value, (list, tuple)):
            raise ValueError("group_scale must be None, 'initial_lr' or a list of numbers; "
                             f"received group_scale={value!r}")
        scales = _per_group("group_scale", value, len(groups))
        for s in scales:
            if isinstance(s, bool) or not isinstance(s, numbers.Real) or not s >= 0:
                raise ValueError(f"group_scale entries must be numbers >= 0; received "
                                 f"group_scale={list(value)!r}")
        return [float(s) for s in scales]

    def _group_schedules(self) -> list[Schedule]:
        n = len(self.optimizer.param_groups)
        return self.schedules * n if len(self.schedules) == 1 else self.schedules

    def lrs_at(self, step: int) -> list[float]:
        """The learning rate of every parameter group at ``step``."""
        t = _checked_step(step)
        return [float(s.lr_at(t, PYTHON)) * k
                for s, k in zip(self._group_schedules(), self.group_scale)]

    def momenta_at(self, step: int) -> list[float]:
        """The momentum (or ``beta_1``) of every parameter group at ``step``."""
        t = _checked_step(step)
        return [float(s.momentum_at(t, PYTHON)) for s in self._group_schedules()]

    def get_lr(self) -> list[float]:
        """The learning rates for the current step (pure: writes nothing)."""
        return self.lrs_at(self._step)

    def _update_lr(self, epoch: Optional[int] = None) -> None:
        # LRScheduler.step() and SequentialLR both come through here.
        self._step = self._step + 1 if epoch is None else int(epoch)
        self._apply()

    def _apply(self) -> None:
        groups = self.optimizer.param_groups
        for group, lr in zip(groups, self.get_lr()):
            _set_value(group, "lr", lr)
        if self.cycle_momentum:
            for group, m in zip(groups, self.momenta_at(self._step)):
                if "betas" in group:
                    group["betas"] = (m, *group["betas"][1:])
                else:
                    _set_value(group, "momentum", m)
        self._last_lr = [g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else g["lr"]
                         for g in groups]

    def state_dict(self) -> dict[str, Any]:
        """``{'step': int, 'schedules': [serialized], 'group_scale': [float]}``."""
        return {"step": self._step,
                "schedules": [_schedule_entry(s) for s in self.schedules],
                "group_scale": list(self.group_scale)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step, schedules and group scales; write the step's rates at once."""
        if not isinstance(state_dict, dict) or set(state_dict) != set(_STATE_KEYS):
            got = sorted(state_dict) if isinstance(state_dict, dict) else state_dict
            raise ValueError(f"expected a cyclr CyclicLR state_dict with keys {_STATE_KEYS}; "
                             f"received keys {got!r}")
        n_groups = len(self.optimizer.param_groups)
        entries, scale = state_dict["schedules"], state_dict["group_scale"]
        if len(entries) not in (1, n_groups) or len(scale) != n_groups:
            raise ValueError(f"the state_dict is for {len(scale)} parameter groups; this "
                             f"optimizer has {n_groups}")
        current = self.schedules
        if len(current) != len(entries):
            current = self._group_schedules() if len(entries) == n_groups else current[:1]
        schedules = [_restore_schedule(e, c, i) for i, (e, c) in enumerate(zip(entries, current))]
        self.cycle_momentum = self._resolve_cycle_momentum(schedules)
        self.schedules = schedules
        self.group_scale = [float(k) for k in scale]
        self._step = int(state_dict["step"])
        if self._step >= 0:  # -1: inside SequentialLR, before this scheduler's milestone
            self._apply()

    def __repr__(self) -> str:
        shown = self.schedules[0] if len(self.schedules) == 1 else self.schedules
        return f"CyclicLR(step={self._step}, schedule={shown!r})"
