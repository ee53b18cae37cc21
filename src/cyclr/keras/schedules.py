"""cyclr schedules as Keras ``LearningRateSchedule`` objects, computed in the graph.

The optimizer owns the step: it calls ``schedule(optimizer.iterations)`` inside
its compiled update, so no Python runs per batch and a model restored from a
``.keras`` file continues at the step it was saved at. Each class is
registered with Keras (package ``"cyclr"``) when ``cyclr.keras`` is imported,
so ``keras.models.load_model`` needs no ``custom_objects``.

>>> import keras, cyclr.keras
>>> clr = cyclr.keras.CyclicalLearningRate(1.0, 5.0, step_size=4)
>>> [round(float(clr(i)), 6) for i in range(6)]
[1.0, 2.0, 3.0, 4.0, 5.0, 4.0]
>>> opt = keras.optimizers.SGD(learning_rate=clr)
"""
from __future__ import annotations

import keras

import cyclr
from cyclr._base import Schedule
from cyclr.cyclic import CyclicSchedule
from cyclr.keras._ops import KERAS_OPS
from cyclr.onecycle import OneCycle

__all__ = ["CyclicalLearningRate", "KerasSchedule", "OneCycleSchedule"]


class _CoreSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A Keras schedule evaluating one core :class:`cyclr.Schedule` with ``keras.ops``."""

    #: the core schedule this object evaluates; set by subclasses.
    schedule: Schedule

    def __call__(self, step):
        """The learning rate at ``step`` (an int or an integer tensor), as float32."""
        return self.schedule.lr_at(KERAS_OPS.asfloat(step), KERAS_OPS)

    def momentum(self, step):
        """The momentum (or Adam ``beta_1``) at ``step``, as float32.

        Raises:
          ValueError: if the schedule has no momentum (see ``has_momentum``).
        """
        if not self.schedule.has_momentum:
            self.schedule.momentum(0)  # raises the core's explanation
        return self.schedule.momentum_at(KERAS_OPS.asfloat(step), KERAS_OPS)

    @property
    def has_momentum(self) -> bool:
        return self.schedule.has_momentum

    def __repr__(self):
        return f"{type(self).__name__}({self.schedule!r})"


@keras.saving.register_keras_serializable(package="cyclr")
class CyclicalLearningRate(_CoreSchedule):
    """A cyclical learning rate (Smith 2017) as a Keras schedule.

    The same numbers as :class:`cyclr.CyclicSchedule` (see SPEC.md)::

        cycle = floor(1 + step / (up + down))
        h     = triangle height of step within its cycle, in [0, 1]
        lr    = base_lr + (max_lr - base_lr) * waveform(h) * scale

    Args: as :class:`cyclr.CyclicSchedule`. ``scale_fn`` works in training but
    cannot be saved; give ``mode='triangular2'`` or ``'exp_range'`` for a
    decay that goes into ``.keras`` files. ``base_momentum``/``max_momentum``
    add a momentum schedule that :class:`cyclr.keras.SGD`, ``Adam`` and
    ``AdamW`` read when passed as their ``momentum``/``beta_1``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> s = CyclicalLearningRate(1e-3, 6e-3, step_size=2000)
    >>> s.get_config()["step_size"], float(s(2000))
    (2000, 0.006000000052154064)
    """

    def __init__(self, base_lr, max_lr, step_size=None, *, step_size_up=None,
                 step_size_down=None, mode="triangular", gamma=1.0, waveform="triangular",
                 decay_target="amplitude", scale_fn=None, scale_mode=None,
                 base_momentum=None, max_momentum=None):
        self.schedule = CyclicSchedule(
            base_lr, max_lr, step_size, step_size_up=step_size_up,
            step_size_down=step_size_down, mode=mode, gamma=gamma, waveform=waveform,
            decay_target=decay_target, scale_fn=scale_fn, scale_mode=scale_mode,
            base_momentum=base_momentum, max_momentum=max_momentum)

    @classmethod
    def from_schedule(cls, schedule: CyclicSchedule) -> CyclicalLearningRate:
        """The Keras form of a core :class:`cyclr.CyclicSchedule`."""
        if not isinstance(schedule, CyclicSchedule):
            raise ValueError(f"schedule must be a cyclr.CyclicSchedule; received "
                             f"schedule={schedule!r}")
        fields = {k: getattr(schedule, k) for k in schedule.__dataclass_fields__}
        return cls(**fields)

    def get_config(self) -> dict:
        """Exactly the constructor arguments: ``from_config(get_config())`` is equal."""
        return self.schedule.to_config()


@keras.saving.register_keras_serializable(package="cyclr")
class OneCycleSchedule(_CoreSchedule):
    """The one-cycle policy (Smith 2018) as a Keras schedule; numbers of :class:`cyclr.OneCycle`.

    Its momentum (default 0.95 -> 0.85 -> 0.95) drives :class:`cyclr.keras.SGD`
    ``momentum`` or ``Adam``/``AdamW`` ``beta_1`` when passed to them.

    >>> s = OneCycleSchedule(1.0, total_steps=10, pct_start=0.5, anneal="linear",
    ...                      div_factor=2.0, final_div_factor=1.0)
    >>> [round(float(s(i)), 3) for i in (0, 2, 4, 9, 50)]
    [0.5, 0.75, 1.0, 0.5, 0.5]
    """

    def __init__(self, max_lr, total_steps, *, pct_start=0.3, anneal="cos", div_factor=25.0,
                 final_div_factor=1e4, three_phase=False, base_momentum=0.85,
                 max_momentum=0.95):
        self.schedule = OneCycle(
            max_lr, total_steps, pct_start=pct_start, anneal=anneal, div_factor=div_factor,
            final_div_factor=final_div_factor, three_phase=three_phase,
            base_momentum=base_momentum, max_momentum=max_momentum)

    def get_config(self) -> dict:
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

    def __init__(self, schedule):
        if isinstance(schedule, dict):
            schedule = cyclr.deserialize(schedule)
        if not isinstance(schedule, Schedule):
            raise ValueError("schedule must be a cyclr Schedule or its serialized dict; "
                             f"received schedule={schedule!r}")
        self.schedule = schedule

    def get_config(self) -> dict:
        return {"schedule": cyclr.serialize(self.schedule)}


def as_keras_schedule(schedule) -> _CoreSchedule:
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
