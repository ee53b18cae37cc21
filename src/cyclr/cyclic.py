"""Cyclical learning rates (Smith 2017): waveforms, bound decay, cyclical momentum."""
from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass
from typing import Callable, Optional

from cyclr._base import Schedule, check_choice, check_count, check_rate, register
from cyclr._ops import Ops

MODES = ("triangular", "triangular2", "exp_range")
WAVEFORMS = ("triangular", "sine", "parabolic")
DECAY_TARGETS = ("amplitude", "bounds")
SCALE_MODES = ("cycle", "iterations")

DEFAULT_BASE_MOMENTUM = 0.85
DEFAULT_MAX_MOMENTUM = 0.95


def waveform(name: str, h, ops: Ops):
    """Map the triangle height ``h`` in [0, 1] through a waveform; ``w(0)=0``, ``w(1)=1``.

    - ``triangular``: ``h``
    - ``sine`` (Hann window): ``(1 - cos(pi h)) / 2``
    - ``parabolic`` (Welch window): ``1 - (1 - h)**2``

    >>> from cyclr._ops import PYTHON
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
    step_size: Optional[int] = None
    _: KW_ONLY
    step_size_up: Optional[int] = None
    step_size_down: Optional[int] = None
    mode: str = "triangular"
    gamma: float = 1.0
    waveform: str = "triangular"
    decay_target: str = "amplitude"
    scale_fn: Optional[Callable] = None
    scale_mode: Optional[str] = None
    base_momentum: Optional[float] = None
    max_momentum: Optional[float] = None

    def __post_init__(self):
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        put("base_lr", check_rate("base_lr", self.base_lr))
        put("max_lr", check_rate("max_lr", self.max_lr))
        if self.base_lr > self.max_lr:
            raise ValueError("base_lr must be <= max_lr; received "
                             f"base_lr={self.base_lr!r}, max_lr={self.max_lr!r}")
        self._resolve_step_sizes(put)
        check_choice("mode", self.mode, MODES)
        check_choice("waveform", self.waveform, WAVEFORMS)
        check_choice("decay_target", self.decay_target, DECAY_TARGETS)
        if self.scale_mode is not None:
            check_choice("scale_mode", self.scale_mode, SCALE_MODES)
        gamma = self.gamma
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) \
                or not (0.0 < float(gamma) <= 1.0):
            raise ValueError(f"gamma must be in (0, 1]; received gamma={gamma!r}")
        put("gamma", float(gamma))
        if self.gamma != 1.0 and (self.mode != "exp_range" or self.scale_fn is not None):
            raise ValueError(f"gamma only applies to mode='exp_range' without a scale_fn; "
                             f"received gamma={self.gamma!r} with mode={self.mode!r}"
                             + ("" if self.scale_fn is None else " and a scale_fn"))
        if self.scale_mode is not None and self.mode == "triangular" and self.scale_fn is None:
            raise ValueError("scale_mode only applies to a decaying mode or a scale_fn; "
                             f"received scale_mode={self.scale_mode!r} with mode='triangular'")
        if self.scale_fn is not None:
            if not callable(self.scale_fn):
                raise ValueError(f"scale_fn must be callable; received scale_fn={self.scale_fn!r}")
            if self.scale_mode is None:
                raise ValueError("scale_fn needs scale_mode ('cycle' or 'iterations'); "
                                 "received scale_mode=None")
            if self.mode != "triangular":
                raise ValueError("scale_fn replaces mode; leave mode='triangular'; "
                                 f"received mode={self.mode!r}")
        self._resolve_momentum(put)

    def _resolve_step_sizes(self, put):
        given_half = self.step_size is not None
        if given_half and (self.step_size_up is not None or self.step_size_down is not None):
            raise ValueError("give step_size or step_size_up/step_size_down, not both; received "
                             f"step_size={self.step_size!r}, step_size_up={self.step_size_up!r}, "
                             f"step_size_down={self.step_size_down!r}")
        if given_half:
            put("step_size", check_count("step_size", self.step_size))
            up = down = self.step_size
        elif self.step_size_up is not None:
            up = check_count("step_size_up", self.step_size_up)
            put("step_size_up", up)
            down = up
            if self.step_size_down is not None:
                down = check_count("step_size_down", self.step_size_down)
                put("step_size_down", down)
        elif self.step_size_down is not None:
            raise ValueError("step_size_down needs step_size_up; received step_size_up=None, "
                             f"step_size_down={self.step_size_down!r}")
        else:
            raise ValueError("step_size (or step_size_up) is required; received step_size=None")
        put("_up", up)
        put("_down", down)

    def _resolve_momentum(self, put):
        if self.base_momentum is None and self.max_momentum is None:
            return
        base = DEFAULT_BASE_MOMENTUM if self.base_momentum is None else self.base_momentum
        top = DEFAULT_MAX_MOMENTUM if self.max_momentum is None else self.max_momentum
        base, top = check_rate("base_momentum", base), check_rate("max_momentum", top)
        if top > 1.0:
            raise ValueError(f"max_momentum must be <= 1; received max_momentum={top!r}")
        if base > top:
            raise ValueError("base_momentum must be <= max_momentum; received "
                             f"base_momentum={base!r}, max_momentum={top!r}")
        put("base_momentum", base)
        put("max_momentum", top)

    @property
    def has_momentum(self) -> bool:  # type: ignore[override]
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
        return self._up + self._down

    @property
    def effective_scale_mode(self) -> str:
        """What the decay reads: the given ``scale_mode``, else the mode's own."""
        if self.scale_mode is not None:
            return self.scale_mode
        return "iterations" if self.mode == "exp_range" else "cycle"

    @property
    def decays(self) -> bool:
        return self.scale_fn is not None or self.mode != "triangular"

    def scale_at(self, t, ops: Ops):
        """The decay factor at float step ``t``: 1 for ``triangular``."""
        cycle = ops.floor(1.0 + t / self.cycle_length)
        return self._scale(t, cycle, ops)

    def _scale(self, t, cycle, ops: Ops):
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

    def _height(self, t, ops: Ops):
        total = self.cycle_length
        cycle = ops.floor(1.0 + t / total)
        pos = t - (cycle - 1.0) * total
        h = ops.where(pos < self._up, pos / self._up, 1.0 - (pos - self._up) / self._down)
        return waveform(self.waveform, h, ops), self._scale(t, cycle, ops)

    def lr_at(self, t, ops: Ops):
        w, scale = self._height(t, ops)
        low = self.base_lr * scale if self.decay_target == "bounds" else self.base_lr
        return low + (self.max_lr - self.base_lr) * w * scale

    def momentum_at(self, t, ops: Ops):
        if not self.has_momentum:
            return super().momentum_at(t, ops)
        w, scale = self._height(t, ops)
        return self.max_momentum - (self.max_momentum - self.base_momentum) * w * scale

    def to_config(self) -> dict:
        if self.scale_fn is not None:
            raise ValueError(
                f"a custom scale_fn cannot be saved in a config; received scale_fn="
                f"{self.scale_fn!r}. Pickle the schedule instead, or express the "
                "decay with mode='triangular2'/'exp_range'")
        return super().to_config()

    def with_bounds(self, base_lr: float, max_lr: float) -> "CyclicSchedule":
        """The same schedule with new bounds (bckenstler's ``_reset``)."""
        from dataclasses import replace
        return replace(self, base_lr=base_lr, max_lr=max_lr)
