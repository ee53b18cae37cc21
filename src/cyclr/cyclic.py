"""Cyclical learning rates (Smith 2017): waveforms, bound decay, cyclical momentum.

Also the keyword forms the adapters' drop-in facades are built on
(:meth:`CyclicSchedule.from_torch_kwargs`, :meth:`CyclicSchedule.from_bckenstler_kwargs`),
so that each peer's signature is written once; the facades' shared plumbing is in
``cyclr._facade``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import KW_ONLY, dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from cyclr._base import Schedule, check_choice, check_rate, register
from cyclr._cyclic_args import DEFAULT_BASE_MOMENTUM as DEFAULT_BASE_MOMENTUM
from cyclr._cyclic_args import DEFAULT_MAX_MOMENTUM as DEFAULT_MAX_MOMENTUM
from cyclr._cyclic_args import resolve_momentum, resolve_step_sizes, torch_momentum
from cyclr._facade import ScaleFn, _Unset, as_scalar, default_scale_mode, whole_steps
from cyclr.ops import Ops

MODES = ("triangular", "triangular2", "exp_range")
WAVEFORMS = ("triangular", "sine", "parabolic")
DECAY_TARGETS = ("amplitude", "bounds")
SCALE_MODES = ("cycle", "iterations")


def waveform(name: str, h: Any, ops: Ops) -> Any:
    """Map the triangle height ``h`` in [0, 1] through a waveform; ``w(0)=0``, ``w(1)=1``.

    - ``triangular``: ``h``
    - ``sine`` (Hann window): ``(1 - cos(pi h)) / 2``
    - ``parabolic`` (Welch window): ``1 - (1 - h)**2``

    >>> from cyclr.ops import PYTHON
    >>> [round(waveform(w, 0.5, PYTHON), 12) for w in WAVEFORMS]
    [0.5, 0.5, 0.75]
    """
    if name == "triangular":
        return h
    if name == "sine":
        return (1.0 - ops.cos(math.pi * h)) / 2.0
    if name == "parabolic":
        return 1.0 - (1.0 - h) ** 2
    raise ValueError(f"waveform must be one of {WAVEFORMS}; received waveform={name!r}")


@register
@dataclass(frozen=True, repr=False)
class CyclicSchedule(Schedule):
    """A cyclical learning rate between ``base_lr`` and ``max_lr`` (Smith 2017).

    A cycle lasts ``up + down`` steps (``step_size`` sets both; it is a half
    cycle)::

        cycle = floor(1 + step / (up + down))
        pos   = step - (cycle - 1) * (up + down)
        h     = pos / up if pos < up else 1 - (pos - up) / down
        lr    = low + (max_lr - base_lr) * waveform(h) * scale

    ``scale`` is 1 (``triangular``), ``1 / 2**(cycle - 1)`` (``triangular2``),
    ``gamma**step`` (``exp_range``) or ``scale_fn(x)`` with ``x`` the cycle or
    the step (``scale_mode``). ``low`` is ``base_lr`` (``decay_target=
    'amplitude'``, PyTorch's numbers) or ``base_lr * scale`` (``'bounds'``).
    Cyclical momentum, when given, runs inverse to the lr:
    ``max_momentum - (max_momentum - base_momentum) * waveform(h) * scale``.

    Args:
      base_lr, max_lr: the bounds, ``0 <= base_lr <= max_lr``.
      step_size: steps per half cycle; or give ``step_size_up``/``step_size_down``.
      mode: ``'triangular'``, ``'triangular2'`` or ``'exp_range'``.
      gamma: decay per step for ``exp_range``, in (0, 1].
      waveform: ``'triangular'``, ``'sine'`` or ``'parabolic'``.
      decay_target: ``'amplitude'`` or ``'bounds'``.
      scale_fn: a custom decay ``x -> scale``; needs ``scale_mode``. A
        module-level function keeps the schedule picklable; it cannot go
        into ``to_config()``.
      scale_mode: ``'cycle'`` or ``'iterations'``: what ``x`` the decay reads.
      base_momentum, max_momentum: cycle momentum too (defaults 0.85, 0.95
        when only one is given).

    Raises:
      ValueError: naming the parameter and the value received.

    >>> s = CyclicSchedule(1.0, 5.0, step_size=4)
    >>> [s(i) for i in range(10)]
    [1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 2.0, 1.0, 2.0]
    """

    base_lr: float
    max_lr: float
    step_size: int | None = None
    _: KW_ONLY
    step_size_up: int | None = None
    step_size_down: int | None = None
    mode: str = "triangular"
    gamma: float = 1.0
    waveform: str = "triangular"
    decay_target: str = "amplitude"
    scale_fn: ScaleFn | None = None
    scale_mode: str | None = None
    base_momentum: float | None = None
    max_momentum: float | None = None

    if TYPE_CHECKING:  # per instance, set in __post_init__; not dataclass fields
        _up: ClassVar[int]
        _down: ClassVar[int]

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("base_lr", check_rate("base_lr", as_scalar(self.base_lr)))
        put("max_lr", check_rate("max_lr", as_scalar(self.max_lr)))
        if self.base_lr > self.max_lr:
            raise ValueError(
                "base_lr must be <= max_lr; received "
                f"base_lr={self.base_lr!r}, max_lr={self.max_lr!r}"
            )
        sizes = resolve_step_sizes(self.step_size, self.step_size_up, self.step_size_down)
        for name, value in zip(
            ("step_size", "step_size_up", "step_size_down", "_up", "_down"), sizes, strict=True
        ):
            put(name, value)
        check_choice("mode", self.mode, MODES)
        check_choice("waveform", self.waveform, WAVEFORMS)
        check_choice("decay_target", self.decay_target, DECAY_TARGETS)
        if self.scale_mode is not None:
            check_choice("scale_mode", self.scale_mode, SCALE_MODES)
        gamma = as_scalar(self.gamma)
        if (
            isinstance(gamma, bool)
            or not isinstance(gamma, numbers.Real)
            or not (0.0 < float(gamma) <= 1.0)
        ):
            raise ValueError(f"gamma must be in (0, 1]; received gamma={gamma!r}")
        put("gamma", float(gamma))
        if self.gamma != 1.0 and (self.mode != "exp_range" or self.scale_fn is not None):
            raise ValueError(
                f"gamma only applies to mode='exp_range' without a scale_fn; "
                f"received gamma={self.gamma!r} with mode={self.mode!r}"
                + ("" if self.scale_fn is None else " and a scale_fn")
            )
        if self.scale_mode is not None and self.mode == "triangular" and self.scale_fn is None:
            raise ValueError(
                "scale_mode only applies to a decaying mode or a scale_fn; "
                f"received scale_mode={self.scale_mode!r} with mode='triangular'"
            )
        if self.scale_fn is not None:
            if not callable(self.scale_fn):
                raise ValueError(f"scale_fn must be callable; received scale_fn={self.scale_fn!r}")
            if self.scale_mode is None:
                raise ValueError(
                    "scale_fn needs scale_mode ('cycle' or 'iterations'); received scale_mode=None"
                )
            if self.mode != "triangular":
                raise ValueError(
                    f"scale_fn replaces mode; leave mode='triangular'; received mode={self.mode!r}"
                )
        if self.base_momentum is not None or self.max_momentum is not None:
            base, top = resolve_momentum(self.base_momentum, self.max_momentum)
            put("base_momentum", base)
            put("max_momentum", top)

    @classmethod
    def from_torch_kwargs(
        cls,
        base_lr: float,
        max_lr: float,
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: ScaleFn | None = None,
        scale_mode: str | None = None,
        cycle_momentum: bool = True,
        base_momentum: float = _Unset(0.8),
        max_momentum: float = _Unset(0.9),
        *,
        waveform: str = "triangular",
        decay_target: str = "amplitude",
    ) -> CyclicSchedule:
        """The schedule ``torch.optim.lr_scheduler.CyclicLR`` computes from the same arguments.

        PyTorch's names, order and defaults, plus cyclr's ``waveform`` and ``decay_target``.
        Unlike PyTorch, a ``scale_mode`` given with a built-in ``mode`` is honoured
        (``None``: the mode's own; ``'cycle'`` for a ``scale_fn``), and momentum
        bounds given with ``cycle_momentum=False`` are refused, not ignored.

        Args:
          base_lr: the lower bound.
          max_lr: the upper bound.
          step_size_up: steps from ``base_lr`` up to ``max_lr`` (PyTorch's default 2000).
          step_size_down: steps back down; ``None``: ``step_size_up``.
          mode: ``'triangular'``, ``'triangular2'`` or ``'exp_range'``.
          gamma: the per-step decay of ``exp_range``.
          scale_fn: a custom decay ``x -> scale``, replacing ``mode``.
          scale_mode: what ``scale_fn`` reads: ``'cycle'`` or ``'iterations'``.
          cycle_momentum: cycle momentum inverse to the lr (PyTorch's default).
          base_momentum: the momentum at ``max_lr`` (PyTorch's default 0.8).
          max_momentum: the momentum at ``base_lr`` (PyTorch's default 0.9).
          waveform: cyclr's extra: ``'triangular'``, ``'sine'`` or ``'parabolic'``.
          decay_target: cyclr's extra: ``'amplitude'`` or ``'bounds'``.

        Returns:
          The :class:`CyclicSchedule`.

        Raises:
          ValueError: naming the parameter and the value received.

        >>> CyclicSchedule.from_torch_kwargs(0.01, 0.1, 4, cycle_momentum=False)
        CyclicSchedule(base_lr=0.01, max_lr=0.1, step_size_up=4)
        """
        base_momentum, max_momentum = torch_momentum(cycle_momentum, base_momentum, max_momentum)
        return cls(
            base_lr,
            max_lr,
            step_size_up=step_size_up,
            step_size_down=step_size_down,
            mode=mode,
            gamma=gamma,
            waveform=waveform,
            decay_target=decay_target,
            scale_fn=scale_fn,
            scale_mode=default_scale_mode(scale_fn, scale_mode),
            base_momentum=base_momentum,
            max_momentum=max_momentum,
        )

    @classmethod
    def from_bckenstler_kwargs(
        cls,
        base_lr: float = 0.001,
        max_lr: float = 0.006,
        step_size: float | None = _Unset(2000.0),
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: ScaleFn | None = None,
        scale_mode: str | None = None,
        *,
        step_size_up: float | None = None,
        step_size_down: float | None = None,
        waveform: str = "triangular",
        decay_target: str = "amplitude",
        base_momentum: float | None = None,
        max_momentum: float | None = None,
    ) -> CyclicSchedule:
        """The schedule of bckenstler's Keras ``CyclicLR`` callback from the same arguments.

        The snippet's names, order and defaults, plus cyclr's keyword-only extras. A
        fractional step size is rounded with a warning. The default ``step_size`` yields
        to ``step_size_up``/``step_size_down``; an explicit one next to them is refused.
        ``scale_mode=None`` is the mode's own (``'cycle'`` for a ``scale_fn``), which
        is what the snippet's ``'cycle'`` default does (its ``exp_range`` ignores it).

        Args:
          base_lr: the lower bound (bckenstler's default 0.001).
          max_lr: the upper bound (bckenstler's default 0.006).
          step_size: steps per half cycle (bckenstler's default 2000; a fraction is rounded).
          mode: ``'triangular'``, ``'triangular2'`` or ``'exp_range'``.
          gamma: the per-step decay of ``exp_range``.
          scale_fn: a custom decay ``x -> scale``, replacing ``mode``.
          scale_mode: what ``scale_fn`` reads: ``'cycle'`` or ``'iterations'``.
          step_size_up: cyclr's extra: steps from ``base_lr`` up to ``max_lr``.
          step_size_down: cyclr's extra: steps back down.
          waveform: cyclr's extra: ``'triangular'``, ``'sine'`` or ``'parabolic'``.
          decay_target: cyclr's extra: ``'amplitude'`` or ``'bounds'``.
          base_momentum: cyclr's extra: the momentum at ``max_lr`` (cycles momentum).
          max_momentum: cyclr's extra: the momentum at ``base_lr``.

        Returns:
          The :class:`CyclicSchedule`.

        Raises:
          ValueError: naming the parameter and the value received.

        >>> CyclicSchedule.from_bckenstler_kwargs(step_size_up=100).step_size_up
        100
        """
        if type(step_size) is _Unset:
            step_size = (
                None if step_size_up is not None or step_size_down is not None else float(step_size)
            )
        steps = {
            k: whole_steps(k, v, stacklevel=3)
            for k, v in (
                ("step_size", step_size),
                ("step_size_up", step_size_up),
                ("step_size_down", step_size_down),
            )
        }
        return cls(
            base_lr,
            max_lr,
            **steps,
            mode=mode,
            gamma=gamma,
            waveform=waveform,
            decay_target=decay_target,
            scale_fn=scale_fn,
            scale_mode=default_scale_mode(scale_fn, scale_mode),
            base_momentum=base_momentum,
            max_momentum=max_momentum,
        )

    @property
    def has_momentum(self) -> bool:  # type: ignore[override]
        """Whether momentum cycles too (``base_momentum`` given)."""
        return self.base_momentum is not None

    @property
    def up(self) -> int:
        """Steps from ``base_lr`` up to ``max_lr``."""
        return self._up

    @property
    def down(self) -> int:
        """Steps from ``max_lr`` back down to ``base_lr``."""
        return self._down

    @property
    def cycle_length(self) -> int:
        """Steps in one full cycle: ``up + down``."""
        return self._up + self._down

    @property
    def effective_scale_mode(self) -> str:
        """What the decay reads: the given ``scale_mode``, else the mode's own."""
        if self.scale_mode is not None:
            return self.scale_mode
        return "iterations" if self.mode == "exp_range" else "cycle"

    @property
    def decays(self) -> bool:
        """Whether the amplitude shrinks (a decaying ``mode`` or a ``scale_fn``)."""
        return self.scale_fn is not None or self.mode != "triangular"

    def scale_at(self, t: Any, ops: Ops) -> Any:
        """The decay factor at float step ``t``: 1 for ``triangular``."""
        cycle = ops.floor(1.0 + t / self.cycle_length)
        return self._scale(t, cycle, ops)

    def _scale(self, t: Any, cycle: Any, ops: Ops) -> Any:
        x = cycle if self.effective_scale_mode == "cycle" else t
        if self.scale_fn is not None:
            return self.scale_fn(x)
        if self.mode == "triangular2":
            return 0.5 ** (x - 1.0)  # = 1 / 2**(x - 1) exactly; underflows to 0, never overflows
        if self.mode == "exp_range":
            # gamma**x, with log(gamma) taken in float64: a float32 backend that rounded
            # gamma itself (0.99994) would be 2.6e-4 off by step 42,000.
            return ops.exp(x * math.log(self.gamma))
        return 1.0

    def _height(self, t: Any, ops: Ops) -> tuple[Any, Any]:
        total = self.cycle_length
        cycle = ops.floor(1.0 + t / total)
        pos = t - (cycle - 1.0) * total
        h = ops.where(pos < self._up, pos / self._up, 1.0 - (pos - self._up) / self._down)
        return waveform(self.waveform, h, ops), self._scale(t, cycle, ops)

    def lr_at(self, t: Any, ops: Ops) -> Any:
        """The learning rate at float step ``t`` (a scalar, array or tensor)."""
        w, scale = self._height(t, ops)
        low = self.base_lr * scale if self.decay_target == "bounds" else self.base_lr
        return low + (self.max_lr - self.base_lr) * w * scale

    def momentum_at(self, t: Any, ops: Ops) -> Any:
        """The momentum at float step ``t``, inverse to the learning rate."""
        base, top = self.base_momentum, self.max_momentum
        if base is None or top is None:
            return super().momentum_at(t, ops)
        w, scale = self._height(t, ops)
        return top - (top - base) * w * scale

    def to_config(self) -> dict[str, Any]:
        """The constructor arguments; a custom ``scale_fn`` cannot be saved and raises."""
        if self.scale_fn is not None:
            raise ValueError(
                f"a custom scale_fn cannot be saved in a config; received scale_fn="
                f"{self.scale_fn!r}. Pickle the schedule instead, or express the "
                "decay with mode='triangular2'/'exp_range'"
            )
        return super().to_config()

    def with_bounds(self, base_lr: float, max_lr: float) -> CyclicSchedule:
        """The same schedule with new bounds (bckenstler's ``_reset``).

        Args:
          base_lr: the new lower bound.
          max_lr: the new upper bound.

        Returns:
          A copy of this schedule with ``base_lr`` and ``max_lr`` replaced.
        """
        return replace(self, base_lr=base_lr, max_lr=max_lr)
