"""Warm-up, then a decay: the schedules most runs use, with their frameworks' numbers.

:class:`WarmupCosine`, :class:`WarmupStableDecay` (WSD), :class:`WarmupLinear` and
:class:`WarmupConstant` share one linear warm-up: from ``init_lr`` at step 0 to
``peak_lr`` at step ``warmup_steps``. ``step`` counts the updates already applied, as
everywhere in cyclr (``docs/semantics.md``, *Time*), and each schedule holds its last
value after ``total_steps``. Each class names the counterparts it equals, step for
step, and the one relation to use where a counterpart counts steps differently.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

from cyclr._base import Schedule, check_choice, check_count, check_rate, register
from cyclr._facade import as_scalar
from cyclr.ops import Ops, TensorLike

#: The cool-down shapes of :class:`WarmupStableDecay`.
DECAYS = ("linear", "1-sqrt", "cosine")


def decayed_fraction(decay: str, p: TensorLike, ops: Ops) -> TensorLike:
    """How far a cool-down has gone, 0 to 1, at progress ``p`` in [0, 1].

    - ``linear``: ``p``
    - ``1-sqrt`` (Hägele et al. 2024): ``sqrt(p)``: what is left falls as ``1 - sqrt(p)``
    - ``cosine``: ``(1 - cos(pi * p)) / 2``

    Args:
      decay: one of :data:`DECAYS`.
      p: the progress through the cool-down, clipped to [0, 1].
      ops: the array operations of ``p``'s kind.

    Returns:
      The fraction of ``peak_lr - final_lr`` shed at ``p``, of ``p``'s kind.

    Raises:
      ValueError: an unknown ``decay``.

    >>> from cyclr.ops import PYTHON
    >>> [decayed_fraction(d, 0.25, PYTHON) for d in DECAYS]
    [0.25, 0.5, 0.1464466094067262]
    """
    if decay == "linear":
        return p
    if decay == "1-sqrt":
        return p**0.5  # Python's power: every backend's tensors have it (ops has no sqrt)
    if decay == "cosine":
        return (1.0 - ops.cos(math.pi * p)) / 2.0
    raise ValueError(f"decay must be one of {DECAYS}; received decay={decay!r}")


class _Warmup(Schedule):
    """What the four share: the rate checks, the step checks and the warm-up itself."""

    # Fields of every subclass (each a dataclass); annotations only, for the methods below.
    peak_lr: float
    warmup_steps: int
    init_lr: float

    def _check_rates(self, *below_peak: str) -> None:
        """``peak_lr > 0``; each of ``below_peak`` in ``[0, peak_lr]``; all stored as floats."""
        value = as_scalar(self.peak_lr)
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and not float(value) > 0:
            raise ValueError(f"peak_lr must be > 0; received peak_lr={value!r}")
        peak = check_rate("peak_lr", value)
        object.__setattr__(self, "peak_lr", peak)
        for name in below_peak:
            value = check_rate(name, as_scalar(getattr(self, name)))
            if value > peak:
                raise ValueError(
                    f"{name} must be <= peak_lr; received {name}={value!r}, peak_lr={peak!r}"
                )
            object.__setattr__(self, name, value)

    def _check_steps(self, total_steps: Any = None, decay_steps: int | None = None) -> None:
        """Store the step counts as ints; the warm-up and the decay must fit in ``total_steps``.

        ``decay_steps`` is WSD's cool-down; without it the decay is what follows the warm-up,
        at least one step. ``total_steps=None``: a schedule without an end (nothing to fit).
        """
        warmup = check_count("warmup_steps", as_scalar(self.warmup_steps), minimum=0)
        object.__setattr__(self, "warmup_steps", warmup)
        if total_steps is None:
            return
        total = check_count("total_steps", as_scalar(total_steps))
        object.__setattr__(self, "total_steps", total)
        received = f"received warmup_steps={warmup!r}, total_steps={total!r}"
        if decay_steps is None and warmup >= total:
            raise ValueError(
                "warmup_steps must be < total_steps, leaving at least one step to decay; "
                + received
            )
        if decay_steps is not None and warmup + decay_steps > total:
            raise ValueError(
                "warmup_steps + decay_steps must be <= total_steps; "
                f"{received}, decay_steps={decay_steps!r}"
            )

    def _warm_up(self, t: TensorLike, ops: Ops, after: TensorLike) -> TensorLike:
        """The warm-up ``init_lr + (peak_lr - init_lr) * t / warmup_steps``, then ``after``."""
        if self.warmup_steps == 0:
            return after
        rising = self.init_lr + (self.peak_lr - self.init_lr) * (t / self.warmup_steps)
        return ops.where(t < self.warmup_steps, rising, after)

    def _cool_down(
        self, t: TensorLike, ops: Ops, start: int, steps: int, decay: str, final_lr: float
    ) -> TensorLike:
        """``peak_lr`` until ``start``, then down to ``final_lr`` over ``steps`` steps, held."""
        p = ops.clip((t - start) / steps, 0.0, 1.0)
        return self.peak_lr + (final_lr - self.peak_lr) * decayed_fraction(decay, p, ops)


@dataclass(frozen=True, repr=False)
class _WarmupDecay(_Warmup):
    """A warm-up to ``peak_lr``, then one decay to ``final_lr`` at ``total_steps``.

    ``WarmupCosine`` and ``WarmupLinear`` differ only in the decay's shape, ``_shape``.
    """

    peak_lr: float
    total_steps: int
    warmup_steps: int
    _: KW_ONLY
    init_lr: float = 0.0
    final_lr: float = 0.0
    _shape: ClassVar[str]

    def __post_init__(self) -> None:
        self._check_rates("init_lr", "final_lr")
        self._check_steps(self.total_steps)

    def lr_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """The learning rate at float step ``t`` (a scalar, array or tensor)."""
        steps = self.total_steps - self.warmup_steps
        after = self._cool_down(t, ops, self.warmup_steps, steps, self._shape, self.final_lr)
        return self._warm_up(t, ops, after)


@register
@dataclass(frozen=True, repr=False)
class WarmupCosine(_WarmupDecay):
    """A linear warm-up to ``peak_lr``, then a cosine decay to ``final_lr`` at ``total_steps``.

    With ``w = warmup_steps`` and ``T = total_steps``::

        t <  w:  lr = init_lr + (peak_lr - init_lr) * t / w
        t >= w:  p  = min((t - w) / (T - w), 1)
                 lr = peak_lr - (peak_lr - final_lr) * (1 - cos(pi * p)) / 2

    ``lr(w) = peak_lr``, ``lr(T) = final_lr``, held after. Equal at every step to:

    - Transformers ``get_cosine_schedule_with_warmup(opt, w, T)`` with the optimizer's lr
      ``peak_lr`` (``init_lr = final_lr = 0``), and
      ``get_cosine_with_min_lr_schedule_with_warmup(..., min_lr_rate=r)``
      (``final_lr = r * peak_lr``), for ``t <= T``: past ``T`` their cosine climbs again.
    - Transformers ``get_cosine_with_min_lr_schedule_with_warmup_lr_rate(opt, w, T,
      min_lr_rate=r)`` counts one step ahead: its rate at ``t`` is this schedule's at ``t + 1``.
    - optax ``warmup_cosine_decay_schedule(init_lr, peak_lr, w, decay_steps=T, end_value=
      final_lr)`` (optax's ``decay_steps`` includes the warm-up).
    - Keras ``CosineDecay(init_lr, decay_steps=T - w, alpha=final_lr / peak_lr,
      warmup_target=peak_lr, warmup_steps=w)`` (Keras' ``decay_steps`` excludes it).

    Args:
      peak_lr: the rate at the end of the warm-up, ``> 0``.
      total_steps: the step at which the decay reaches ``final_lr``.
      warmup_steps: the length of the warm-up, ``0 <= warmup_steps < total_steps``.
      init_lr: the first rate, in ``[0, peak_lr]``.
      final_lr: the floor, in ``[0, peak_lr]``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> s = WarmupCosine(1.0, total_steps=5, warmup_steps=2)
    >>> [round(s(t), 12) for t in range(7)]
    [0.0, 0.5, 1.0, 0.75, 0.25, 0.0, 0.0]
    """

    _shape: ClassVar[str] = "cosine"


@register
@dataclass(frozen=True, repr=False)
class WarmupStableDecay(_Warmup):
    """Warm-up, stable, decay (WSD, Hägele et al. 2024): ``peak_lr`` held until a cool-down.

    With ``w = warmup_steps``, ``T = total_steps``, ``D = decay_steps``::

        t <  w:  lr = init_lr + (peak_lr - init_lr) * t / w
        t >= w:  p  = min(max((t - (T - D)) / D, 0), 1)
                 lr = peak_lr - (peak_lr - final_lr) * d(p)

    with ``d(p) = p`` (``decay='linear'``), ``sqrt(p)`` (``'1-sqrt'``, the paper's best) or
    ``(1 - cos(pi * p)) / 2`` (``'cosine'``). The rate is ``peak_lr`` from ``w`` to ``T - D``
    and ``final_lr`` from ``T`` on. Equal at every step to Transformers
    ``get_wsd_schedule(opt, w, D, num_training_steps=T, decay_type=decay,
    min_lr_ratio=r)`` with the optimizer's lr ``peak_lr`` and
    ``init_lr = final_lr = r * peak_lr`` (its warm-up starts at the floor).

    Args:
      peak_lr: the stable rate, ``> 0``.
      total_steps: the step at which the cool-down reaches ``final_lr``.
      warmup_steps: the length of the warm-up, ``>= 0``.
      decay_steps: the length of the cool-down, ``>= 1``; ``warmup_steps + decay_steps <=
        total_steps`` (what is left is the stable phase).
      decay: the cool-down's shape, one of :data:`DECAYS`.
      init_lr: the first rate, in ``[0, peak_lr]``.
      final_lr: the floor, in ``[0, peak_lr]``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> s = WarmupStableDecay(1.0, total_steps=8, warmup_steps=2, decay_steps=4)
    >>> [s(t) for t in range(10)]
    [0.0, 0.5, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    peak_lr: float
    total_steps: int
    warmup_steps: int
    decay_steps: int
    _: KW_ONLY
    decay: str = "linear"
    init_lr: float = 0.0
    final_lr: float = 0.0

    def __post_init__(self) -> None:
        self._check_rates("init_lr", "final_lr")
        check_choice("decay", self.decay, DECAYS)
        decay_steps = check_count("decay_steps", as_scalar(self.decay_steps))
        object.__setattr__(self, "decay_steps", decay_steps)
        self._check_steps(self.total_steps, decay_steps)

    def lr_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """The learning rate at float step ``t`` (a scalar, array or tensor)."""
        start = self.total_steps - self.decay_steps
        after = self._cool_down(t, ops, start, self.decay_steps, self.decay, self.final_lr)
        return self._warm_up(t, ops, after)


@register
@dataclass(frozen=True, repr=False)
class WarmupLinear(_WarmupDecay):
    """A linear warm-up to ``peak_lr``, then a linear decay to ``final_lr`` at ``total_steps``.

    The schedule Bergsma et al. (2025) find best for LLM pre-training (decay to zero). With
    ``w = warmup_steps`` and ``T = total_steps``::

        t <  w:  lr = init_lr + (peak_lr - init_lr) * t / w
        t >= w:  lr = peak_lr - (peak_lr - final_lr) * min((t - w) / (T - w), 1)

    Equal at every step to Transformers ``get_linear_schedule_with_warmup(opt, w, T)``
    with the optimizer's lr ``peak_lr`` (``init_lr = final_lr = 0``).

    Args:
      peak_lr: the rate at the end of the warm-up, ``> 0``.
      total_steps: the step at which the decay reaches ``final_lr``.
      warmup_steps: the length of the warm-up, ``0 <= warmup_steps < total_steps``.
      init_lr: the first rate, in ``[0, peak_lr]``.
      final_lr: the floor, in ``[0, peak_lr]``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> s = WarmupLinear(1.0, total_steps=6, warmup_steps=2)
    >>> [s(t) for t in range(8)]
    [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """

    _shape: ClassVar[str] = "linear"


@register
@dataclass(frozen=True, repr=False)
class WarmupConstant(_Warmup):
    """A linear warm-up to ``peak_lr``, then ``peak_lr`` for good.

    What a schedule-free optimizer runs with. With ``w = warmup_steps``::

        t <  w:  lr = init_lr + (peak_lr - init_lr) * t / w
        t >= w:  lr = peak_lr

    Equal at every step to Transformers ``get_constant_schedule_with_warmup(opt, w)`` with
    the optimizer's lr ``peak_lr`` (``init_lr = 0``) and to optax
    ``warmup_constant_schedule(init_lr, peak_lr, w)`` for ``w >= 1`` (with ``w = 0`` optax
    holds ``init_lr`` for good; this schedule is ``peak_lr`` from step 0). The warm-up built into
    ``schedulefree.AdamWScheduleFree(lr=peak_lr, warmup_steps=w)`` counts one step ahead:
    its rate for update ``t`` (its ``scheduled_lr``) is this schedule's at ``t + 1``.

    Args:
      peak_lr: the rate from ``warmup_steps`` on, ``> 0``.
      warmup_steps: the length of the warm-up, ``>= 0``.
      init_lr: the first rate, in ``[0, peak_lr]``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> s = WarmupConstant(1.0, warmup_steps=4)
    >>> [s(t) for t in range(6)]
    [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """

    peak_lr: float
    warmup_steps: int
    _: KW_ONLY
    init_lr: float = 0.0

    def __post_init__(self) -> None:
        self._check_rates("init_lr")
        self._check_steps()

    def lr_at(self, t: TensorLike, ops: Ops) -> TensorLike:
        """The learning rate at float step ``t`` (a scalar, array or tensor)."""
        return self._warm_up(t, ops, t * 0.0 + self.peak_lr)
