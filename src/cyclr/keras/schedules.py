"""cyclr schedules as Keras ``LearningRateSchedule`` objects, computed in the graph.

The optimizer owns the step: it calls ``schedule(optimizer.iterations)`` inside
its compiled update, so no Python runs per batch (on the torch backend, which
runs the update eagerly, the step is read from the CPU and the core's Python
math gives the rate) and a model restored from a
``.keras`` file continues at the step it was saved at. Each class is
registered with Keras (package ``"cyclr"``) when ``cyclr.keras`` is imported,
so ``keras.models.load_model`` needs no ``custom_objects``.

Keras logs a schedule's rate only to ``TensorBoard``, once per epoch; add
:class:`cyclr.keras.LogLearningRate` to the callbacks to put it (and
the momentum) into the batch and epoch ``logs`` that ``CSVLogger`` and
``History`` record.

>>> import keras, cyclr.keras
>>> clr = cyclr.keras.CyclicalLearningRate(1.0, 5.0, step_size=4)
>>> [round(float(clr(i)), 6) for i in range(6)]
[1.0, 2.0, 3.0, 4.0, 5.0, 4.0]
>>> opt = keras.optimizers.SGD(learning_rate=clr)
"""

from __future__ import annotations

import numbers
from typing import Any

import keras

import cyclr
from cyclr._base import Schedule
from cyclr._facade import default_scale_mode, forwards_to, given_keywords
from cyclr.cyclic import CyclicSchedule
from cyclr.keras._ops import KERAS_OPS
from cyclr.onecycle import OneCycle
from cyclr.ops import PYTHON

__all__ = ["CyclicalLearningRate", "KerasSchedule", "OneCycleSchedule"]


#: Keras' torch backend runs the optimizer eagerly: there a dozen ``keras.ops`` calls
#: on 0-d tensors cost ~47 µs a step (bench/overhead.py), where the core's Python
#: math on the step read from the CPU costs ~4 µs
_EAGER_TORCH = keras.backend.backend() == "torch"
if _EAGER_TORCH:  # already imported by the backend
    import torch as _torch


def _host_step(step: Any) -> float | None:
    """The step as a float where reading it is free, else ``None`` (the graph's math).

    That is on Keras' torch backend: a CPU scalar outside ``torch.compile``, or a
    Python int.
    """
    if not _EAGER_TORCH:
        return None
    # A Keras Variable keeps its tensor in ._value (.value adds an autocast check,
    # 1.4 µs, that an integer step never needs).
    value = getattr(step, "_value", None)
    if not isinstance(value, _torch.Tensor):
        value = getattr(step, "value", step)
    if isinstance(value, _torch.Tensor):
        if not value.is_cpu or value.ndim != 0 or _torch.compiler.is_compiling():
            return None  # a GPU read would wait for the device
        t = float(value)
    elif isinstance(value, numbers.Integral) and not isinstance(value, bool):
        t = float(value)
    else:
        return None
    return t if t >= 0 else None


def _torch_float32(value: float) -> Any:
    """A Python float as the float32 0-d tensor ``keras.ops`` would have returned."""
    return _torch.scalar_tensor(value, dtype=_torch.float32)


class _CoreSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A Keras schedule evaluating one core :class:`cyclr.Schedule` with ``keras.ops``."""

    #: the core schedule this object evaluates; set by subclasses.
    schedule: Schedule

    def __call__(self, step: Any) -> Any:
        """The learning rate at ``step`` (an int or an integer tensor), as float32."""
        t = _host_step(step)
        if t is not None:
            return _torch_float32(self.schedule.lr_at(t, PYTHON))
        return self.schedule.lr_at(KERAS_OPS.asfloat(step), KERAS_OPS)

    def momentum(self, step: Any) -> Any:
        """The momentum (or Adam ``beta_1``) at ``step``, as float32.

        Raises:
          ValueError: if the schedule has no momentum (see ``has_momentum``).
        """
        if not self.schedule.has_momentum:
            self.schedule.momentum(0)  # raises the core's explanation
        t = _host_step(step)
        if t is not None:
            return _torch_float32(self.schedule.momentum_at(t, PYTHON))
        return self.schedule.momentum_at(KERAS_OPS.asfloat(step), KERAS_OPS)

    @property
    def has_momentum(self) -> bool:
        """Whether the schedule has a momentum (a ``beta_1``) too."""
        return self.schedule.has_momentum

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.schedule!r})"


#: TF Addons' spellings, and what to write instead
_TF_ADDONS_NAMES = {
    "initial_learning_rate": "write base_lr (TF Addons' initial_learning_rate)",
    "maximal_learning_rate": "write max_lr (TF Addons' maximal_learning_rate)",
    "name": "cyclr's schedules are not named; leave name out",
}


@keras.saving.register_keras_serializable(package="cyclr")
class CyclicalLearningRate(_CoreSchedule):
    """A cyclical learning rate (Smith 2017) as a Keras schedule.

    The same numbers as :class:`cyclr.CyclicSchedule` (docs/semantics.md, *Cyclical schedules*)::

        cycle = floor(1 + step / (up + down))
        h     = triangle height of step within its cycle, in [0, 1]
        lr    = base_lr + (max_lr - base_lr) * waveform(h) * scale

    Args:
      *args, **keywords: those of :class:`cyclr.CyclicSchedule`, except that a
        ``scale_fn`` without a ``scale_mode`` reads the cycle (``'cycle'``, as
        TF Addons, PyTorch and bckenstler default). ``scale_fn`` works in
        training but cannot be saved; give ``mode='triangular2'`` or
        ``'exp_range'`` for a decay that goes into ``.keras`` files.
        ``base_momentum``/``max_momentum`` add a momentum schedule that
        :class:`cyclr.keras.SGD`, ``Adam`` and ``AdamW`` read when passed as
        their ``momentum``/``beta_1``.

    TF Addons' ``CyclicalLearningRate(initial_learning_rate, maximal_learning_rate,
    step_size, scale_fn, scale_mode='cycle', name)`` is this class with
    ``base_lr``, ``max_lr`` and ``scale_fn`` by name, and no ``name``; its
    spellings are refused with what to write instead.

    Raises:
      ValueError: naming the parameter and the value received.
      TypeError: for an argument :class:`cyclr.CyclicSchedule` does not take.

    >>> s = CyclicalLearningRate(1e-3, 6e-3, step_size=2000)
    >>> s.get_config()["step_size"], float(s(2000))
    (2000, 0.006000000052154064)
    """

    @forwards_to(CyclicSchedule)
    def __init__(self, *args: Any, **keywords: Any) -> None:
        if len(args) > 3:
            raise TypeError(
                "CyclicalLearningRate() takes base_lr, max_lr and step_size by "
                "position; pass scale_fn=..., scale_mode=... by name (TF Addons "
                f"takes scale_fn fourth); received {len(args)} positional "
                f"arguments: {args!r}"
            )
        given = given_keywords(
            CyclicSchedule, args, keywords, owner="CyclicalLearningRate", hints=_TF_ADDONS_NAMES
        )
        given["scale_mode"] = default_scale_mode(given.get("scale_fn"), given.get("scale_mode"))
        self.schedule = CyclicSchedule(**given)

    @classmethod
    def from_schedule(cls, schedule: CyclicSchedule) -> CyclicalLearningRate:
        """The Keras form of a core :class:`cyclr.CyclicSchedule`."""
        if not isinstance(schedule, CyclicSchedule):
            raise ValueError(
                f"schedule must be a cyclr.CyclicSchedule; received schedule={schedule!r}"
            )
        fields = {k: getattr(schedule, k) for k in schedule.__dataclass_fields__}
        return cls(**fields)

    def get_config(self) -> dict[str, Any]:
        """Exactly the constructor arguments: ``from_config(get_config())`` is equal."""
        return self.schedule.to_config()


@keras.saving.register_keras_serializable(package="cyclr")
class OneCycleSchedule(_CoreSchedule):
    """The one-cycle policy (Smith 2018) as a Keras schedule; numbers of :class:`cyclr.OneCycle`.

    Its momentum (default 0.95 -> 0.85 -> 0.95) drives :class:`cyclr.keras.SGD`
    ``momentum`` or ``Adam``/``AdamW`` ``beta_1`` when passed to them.

    Args:
      *args, **keywords: those of :class:`cyclr.OneCycle` (``total_steps``, or
        ``epochs`` and ``steps_per_epoch``).

    Raises:
      ValueError: naming the parameter and the value received.

    >>> s = OneCycleSchedule(1.0, total_steps=10, pct_start=0.5, anneal="linear",
    ...                      div_factor=2.0, final_div_factor=1.0)
    >>> [round(float(s(i)), 3) for i in (0, 2, 4, 9, 50)]
    [0.5, 0.75, 1.0, 0.5, 0.5]
    """

    @forwards_to(OneCycle)
    def __init__(self, *args: Any, **keywords: Any) -> None:
        self.schedule = OneCycle(
            **given_keywords(OneCycle, args, keywords, owner="OneCycleSchedule")
        )

    def get_config(self) -> dict[str, Any]:
        """Exactly the constructor arguments."""
        return self.schedule.to_config()


@keras.saving.register_keras_serializable(package="cyclr")
class KerasSchedule(_CoreSchedule):
    """Any core cyclr schedule (``join``, ``Linear``, ...) as a Keras schedule.

    Args:
      schedule: a :class:`cyclr.Schedule`, or its :func:`cyclr.serialize` dict
        (what ``get_config()`` returns, so ``from_config`` round-trips).

    >>> s = KerasSchedule(cyclr.join([cyclr.Linear(0.0, 1.0, 4), cyclr.Constant(1.0)], [4]))
    >>> [float(s(i)) for i in (0, 2, 9)]
    [0.0, 0.5, 1.0]
    """

    def __init__(self, schedule: Schedule | dict[str, Any]) -> None:
        if isinstance(schedule, dict):
            schedule = cyclr.deserialize(schedule)
        if not isinstance(schedule, Schedule):
            raise ValueError(
                "schedule must be a cyclr Schedule or its serialized dict; "
                f"received schedule={schedule!r}"
            )
        self.schedule = schedule

    def get_config(self) -> dict[str, Any]:
        """``{"schedule": cyclr.serialize(schedule)}``: ``from_config`` round-trips."""
        return {"schedule": cyclr.serialize(self.schedule)}


def as_keras_schedule(schedule: Any) -> _CoreSchedule:
    """``schedule`` as one of this module's Keras schedules (unchanged if it is one)."""
    if isinstance(schedule, _CoreSchedule):
        return schedule
    if isinstance(schedule, CyclicSchedule):
        return CyclicalLearningRate.from_schedule(schedule)
    if isinstance(schedule, OneCycle):
        return OneCycleSchedule(**schedule.to_config())
    if isinstance(schedule, Schedule):
        return KerasSchedule(schedule)
    raise ValueError(f"expected a cyclr schedule; received schedule={schedule!r}")
