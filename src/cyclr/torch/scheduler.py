"""``cyclr.torch.CyclicLR``: any cyclr schedule as a PyTorch ``LRScheduler``."""

from __future__ import annotations

import math
import warnings
import weakref
from typing import Any

import torch
from torch.optim.lr_scheduler import EPOCH_DEPRECATION_WARNING, LRScheduler

from cyclr._base import Schedule, check_count
from cyclr._facade import forwards_to
from cyclr.cyclic import CyclicSchedule
from cyclr.ops import PYTHON
from cyclr.torch._scheduler_args import (
    given_schedules,
    optimizer_step_count,
    resolve_cycle_momentum,
    resolve_group_scale,
)
from cyclr.torch._state import restore_schedule, schedule_entry
from cyclr.torch.param_groups import write_momenta

_STATE_KEYS = ("step", "schedules", "group_scale")
#: PyTorch's warning when a scheduler steps before its optimizer has
_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`: call "
    "`optimizer.step()` first, or the schedule's first value is skipped"
)
#: Updates whose rates are computed ahead in one go; ``step()`` then only looks
#: them up (bench/overhead.py: inside a training loop the schedule's math runs
#: cache-cold, several times slower than alone)
_AHEAD = 256

_MISSING = object()


def _order_hook(scheduler: CyclicLR) -> Any:
    """A step post hook that records that the optimizer has updated.

    It never removes itself: PyTorch runs the post hooks in a loop over their dict,
    and a hook removed inside that loop breaks it for every hook after it (the
    user's own, another scheduler's). The scheduler removes it at its first step.
    """
    ref = weakref.ref(scheduler)

    def hook(*_: Any) -> None:
        sched = ref()
        if sched is not None:
            sched._optimizer_stepped = True

    return hook


def _checked_step(step: int) -> float:
    # The per-step path: the schedule's scalar math without Schedule.__call__'s
    # input checks (the step is this scheduler's own int; only its sign needs one).
    if step < 0:
        raise ValueError(f"step must be >= 0; received step={step}")
    return float(step)


class CyclicLR(LRScheduler):
    """Set each parameter group's learning rate (and momentum) from a cyclr schedule.

    The value for update number ``step`` (0-based, docs/semantics.md, *Time*) is, for group ``i``::

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
    - PyTorch's keywords (``base_lr=..., max_lr=..., step_size_up=2000, ...``),
      with PyTorch's defaults, built by
      :meth:`cyclr.CyclicSchedule.from_torch_kwargs` (see it for the list and
      the differences). ``base_lr``, ``max_lr``, ``base_momentum`` and
      ``max_momentum`` may be lists, one per group; bounds and momenta may be
      0-d tensors, as in PyTorch.

    Any of those keywords next to a ``schedule`` is refused by name, even one
    equal to its default: the schedule fixes them all.

    Args:
      optimizer: a ``torch.optim.Optimizer``.
      schedule: a cyclr ``Schedule`` or a list of them (one per group).
      **keywords: PyTorch's keywords instead of ``schedule`` (see above).
      group_scale: ``None``: every group follows the schedule, times its
        ``lr_scale`` key where it has one (timm's layer decay). ``'initial_lr'``:
        discriminative rates that keep the groups' ratios: a group's ``lr_scale``
        key, else its initial lr over the largest initial lr among the groups
        (the group with the largest lr follows the schedule itself), the same
        ratios :func:`~cyclr.torch.range_test` trains with, so its
        ``bounds()`` drive the schedule as they were measured. Or a list of
        factors, one per group (``lr_scale`` keys are then ignored).
      cycle_momentum: write the schedule's momentum into ``group['momentum']``
        (SGD, RMSprop) or ``group['betas'][0]`` (Adam family). ``None``: when the
        schedule has a momentum (the keyword form's default is ``True``, as in
        PyTorch).
      start_step: the updates already applied. ``None``: the optimizer's own
        count where its state keeps one (``state['step']``: Adam, AdamW,
        RMSprop, Adagrad, ...), so a scheduler built after
        ``optimizer.load_state_dict`` continues the cycle (docs/semantics.md, *Time*); 0 for a
        fresh optimizer and for SGD, which keeps no count (restore this
        scheduler's ``state_dict`` there, or pass the step). Give 0 to start a
        new cycle on an optimizer that has trained.

    Raises:
      ValueError: naming the parameter and the value received.
      TypeError: for a keyword that is not PyTorch's or cyclr's (``last_epoch``:
        pass ``start_step=last_epoch + 1``).

    ``state_dict()`` is ``{'step', 'schedules', 'group_scale'}``: plain numbers,
    strings and lists (``cyclr.serialize`` of each schedule), so
    ``torch.load(..., weights_only=True)`` reads it back. A custom ``scale_fn``
    is saved as :func:`describe_scale_fn` describes it (a function's name, an
    object's class and plain-data ``__dict__``); load it into a scheduler built
    with the same function or an equal object.

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

    @forwards_to(CyclicSchedule.from_torch_kwargs, optional=True)
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule | list[Schedule] | None = None,
        *,
        cycle_momentum: bool | None = None,
        group_scale: str | list[float] | None = None,
        start_step: int | None = None,
        **keywords: Any,
    ) -> None:
        schedules, cycle_momentum = given_schedules(optimizer, schedule, keywords, cycle_momentum)
        self._step = -1
        self._ahead: list[tuple[list[float], list[float] | None]] = []
        self._ahead_start = 0
        self.optimizer = optimizer
        self._cycle_momentum_arg = cycle_momentum
        self.cycle_momentum = self._resolve_cycle_momentum(schedules)
        self.schedules = schedules
        self.group_scale = self._resolve_group_scale(group_scale)
        if start_step is not None:
            start_step = check_count("start_step", start_step, minimum=0)
        # LRScheduler.__init__ records initial_lr and takes the first step (to step 0).
        # It also wraps optimizer.step to see whether it runs before the first
        # scheduler.step(); that wrapper costs every update, so it is undone and a
        # post hook, removed at the scheduler's first step, looks instead.
        self._optimizer_stepped = False
        own_step = vars(optimizer).get("step", _MISSING)
        super().__init__(optimizer)
        if vars(optimizer).get("step", _MISSING) is not own_step:
            if own_step is _MISSING:
                del optimizer.step
            else:
                optimizer.step = own_step  # type: ignore[method-assign]
        self._order_hook = optimizer.register_step_post_hook(_order_hook(self))
        # After a resume the step continues from the optimizer's own count
        # (docs/semantics.md, *Time*).
        start = optimizer_step_count(optimizer) if start_step is None else start_step
        if start:
            self._step = start
            self._apply()

    # Changing what the rates come from drops the rates computed ahead.
    @property
    def schedules(self) -> list[Schedule]:
        """The schedule (one for every group) or one schedule per parameter group."""
        return list(self._schedules)

    @schedules.setter
    def schedules(self, value: list[Schedule]) -> None:
        self._schedules = tuple(value)
        self._ahead = []

    @property
    def group_scale(self) -> list[float]:
        """Each parameter group's factor on the schedule's lr (assign a new list to change)."""
        return list(self._group_scale)

    @group_scale.setter
    def group_scale(self, value: list[float]) -> None:
        self._group_scale = tuple(float(k) for k in value)
        self._ahead = []

    @property
    def cycle_momentum(self) -> bool:
        """Whether each step writes the schedule's momentum (or ``beta_1``)."""
        return self._cycle_momentum

    @cycle_momentum.setter
    def cycle_momentum(self, value: bool) -> None:
        self._cycle_momentum = bool(value)
        self._ahead = []

    # The step is the scheduler's only changing state; last_epoch is its PyTorch name.
    @property
    def last_epoch(self) -> int:
        """PyTorch's name for :attr:`step_count` (``SequentialLR`` reads and sets it)."""
        return self._step

    @last_epoch.setter
    def last_epoch(self, value: int) -> None:
        self._step = int(value)

    @property
    def step_count(self) -> int:
        """The number of optimizer updates already applied (docs/semantics.md, *Time*)."""
        return self._step

    def _resolve_cycle_momentum(self, schedules: list[Schedule]) -> bool:
        return resolve_cycle_momentum(self.optimizer, schedules, self._cycle_momentum_arg)

    def _resolve_group_scale(self, value: Any) -> list[float]:
        return resolve_group_scale(self.optimizer.param_groups, value)

    def _group_schedules(self) -> list[Schedule]:
        n = len(self.optimizer.param_groups)
        return list(self._schedules * n if len(self._schedules) == 1 else self._schedules)

    def lrs_at(self, step: int) -> list[float]:
        """The learning rate of every parameter group at ``step``."""
        t = _checked_step(step)
        return [
            float(s.lr_at(t, PYTHON)) * k
            for s, k in zip(self._group_schedules(), self._group_scale, strict=True)
        ]

    def momenta_at(self, step: int) -> list[float]:
        """The momentum (or ``beta_1``) of every parameter group at ``step``."""
        t = _checked_step(step)
        return [float(s.momentum_at(t, PYTHON)) for s in self._group_schedules()]

    def get_last_momentum(self) -> list[float]:
        """Each group's momentum (``beta_1`` for the Adam family) as the last step left it.

        The companion of ``get_last_lr()``, for a logger: the value the next
        ``optimizer.step()`` uses; NaN for a group that has neither.
        """
        return [
            float(g["betas"][0]) if "betas" in g else float(g.get("momentum", math.nan))
            for g in self.optimizer.param_groups
        ]

    def get_last_lr(self) -> list[float | torch.Tensor]:
        """Each group's learning rate as the last step left it (a new list)."""
        return list(self._last_lr)

    def get_lr(self) -> list[float | torch.Tensor]:
        """The learning rates for the current step (pure: writes nothing)."""
        return list(self.lrs_at(self._step))

    def step(self, epoch: int | None = None) -> None:
        """Advance to the next update's rates (call it after every ``optimizer.step()``).

        ``epoch`` (deprecated in PyTorch) jumps to that step instead.
        """
        if epoch is None and self._step_count > 1:
            # The per-update path, kept short (bench/overhead.py): look up the rates
            # computed ahead and write them; anything unusual goes through _apply.
            self._step_count += 1
            step = self._step = self._step + 1
            i = step - self._ahead_start
            ahead = self._ahead
            if 0 <= i < len(ahead):
                lrs, moms = ahead[i]
                groups = self.optimizer.param_groups
                if len(groups) == len(lrs):
                    for group, lr in zip(groups, lrs, strict=True):
                        if type(group["lr"]) is not float:  # a tensor (torch.compile)
                            break
                        group["lr"] = lr
                    else:
                        if moms is not None:
                            write_momenta(groups, moms)
                        self._last_lr = lrs  # type: ignore[assignment]  # get_last_lr() copies
                        return
            self._apply()
            return
        if self._step_count == 1:
            self._order_hook.remove()  # it has told what it could: off the update path
            if not self._optimizer_stepped:
                warnings.warn(_ORDER_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        # LRScheduler.step() and SequentialLR both come through here.
        self._step = self._step + 1 if epoch is None else int(epoch)
        self._apply()

    def _compute_ahead(self, start: int) -> None:
        """The rates of updates ``start`` to ``start + _AHEAD - 1``, with the core's math."""
        _checked_step(start)
        steps = range(start, start + _AHEAD)
        scale = self._group_scale
        moms: list[list[float]] | None = None
        if len(self._schedules) == 1:  # one schedule for every group: its math once a step
            (s,) = self._schedules
            lrs = [[float(s.lr_at(float(t), PYTHON)) * k for k in scale] for t in steps]
            if self._cycle_momentum:
                moms = [[float(s.momentum_at(float(t), PYTHON))] * len(scale) for t in steps]
        else:
            lrs = [self.lrs_at(t) for t in steps]
            if self._cycle_momentum:
                moms = [self.momenta_at(t) for t in steps]
        if len(lrs[0]) != len(self.optimizer.param_groups):
            raise ValueError(
                f"this scheduler has rates for {len(lrs[0])} parameter groups; the "
                f"optimizer has {len(self.optimizer.param_groups)}"
            )
        self._ahead = list(zip(lrs, moms if moms is not None else [None] * len(lrs), strict=True))
        self._ahead_start = start

    def _apply(self) -> None:
        i = self._step - self._ahead_start
        if not 0 <= i < len(self._ahead):
            self._compute_ahead(self._step)
            i = 0
        lrs, moms = self._ahead[i]
        groups = self.optimizer.param_groups
        if len(groups) != len(lrs):  # a group was added since
            self._compute_ahead(self._step)
            lrs, moms = self._ahead[0]
        last: list[float | torch.Tensor] = list(lrs)
        for j, (group, lr) in enumerate(zip(groups, lrs, strict=True)):
            current = group["lr"]
            if isinstance(current, torch.Tensor):  # torch.compile: filled in place
                current.fill_(lr)
                last[j] = current.clone()
            else:
                group["lr"] = lr
        if moms is not None:
            write_momenta(groups, moms)
        self._last_lr = last

    def state_dict(self) -> dict[str, Any]:
        """``{'step': int, 'schedules': [serialized], 'group_scale': [float]}``."""
        return {
            "step": self._step,
            "schedules": [schedule_entry(s) for s in self.schedules],
            "group_scale": list(self._group_scale),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step, schedules and group scales; write the step's rates at once."""
        if not isinstance(state_dict, dict) or set(state_dict) != set(_STATE_KEYS):
            got = sorted(state_dict) if isinstance(state_dict, dict) else state_dict
            raise ValueError(
                f"expected a cyclr CyclicLR state_dict with keys {_STATE_KEYS}; "
                f"received keys {got!r}"
            )
        n_groups = len(self.optimizer.param_groups)
        entries, scale = state_dict["schedules"], state_dict["group_scale"]
        if len(entries) not in (1, n_groups) or len(scale) != n_groups:
            raise ValueError(
                f"the state_dict is for {len(scale)} parameter groups; this "
                f"optimizer has {n_groups}"
            )
        current = self.schedules
        if len(current) != len(entries):
            current = self._group_schedules() if len(entries) == n_groups else current[:1]
        pairs = enumerate(zip(entries, current, strict=True))
        schedules = [restore_schedule(e, c, i) for i, (e, c) in pairs]
        self.cycle_momentum = self._resolve_cycle_momentum(schedules)
        self.schedules = schedules
        self.group_scale = [float(k) for k in scale]
        self._step = int(state_dict["step"])
        if self._step >= 0:  # -1: inside SequentialLR, before this scheduler's milestone
            self._apply()

    def __repr__(self) -> str:
        shown = self.schedules[0] if len(self.schedules) == 1 else self.schedules
        return f"CyclicLR(step={self._step}, schedule={shown!r})"
