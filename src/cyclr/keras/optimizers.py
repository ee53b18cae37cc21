"""Keras optimizers whose momentum (SGD) or ``beta_1`` (Adam, AdamW) follows a schedule.

Keras' own optimizers hold ``momentum`` and ``beta_1`` as Python floats, which
the TensorFlow and JAX backends compile into the training step as constants:
changing them between batches has no effect there. These subclasses read the
value from a cyclr schedule at ``optimizer.iterations`` inside the compiled
update, the same way a ``LearningRateSchedule`` is read, so cyclical momentum
(docs/semantics.md, *Cyclical momentum*: inverse to the learning rate) works on
every backend, needs no per-batch Python, and is saved in ``.keras`` files.

>>> import cyclr.keras
>>> clr = cyclr.keras.CyclicalLearningRate(1e-3, 6e-3, step_size=2000,
...                                        base_momentum=0.85, max_momentum=0.95)
>>> opt = cyclr.keras.SGD(learning_rate=clr, momentum=clr)
>>> round(float(opt.momentum_at(2000)), 6)
0.85

With a float, they are exactly Keras' optimizers. Keras logs no momentum:
:class:`cyclr.keras.LogLearningRate` (for a schedule passed here) and
:class:`cyclr.keras.CyclicLR` (for its own) write it to the ``logs`` as ``'momentum'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import keras
from keras import ops

from cyclr._base import Schedule
from cyclr.keras.schedules import as_keras_schedule

__all__ = ["SGD", "Adam", "AdamW"]


class _MomentumSchedule(Protocol):
    """What the optimizers read: a Keras schedule of a cyclr schedule with a momentum."""

    @property
    def schedule(self) -> Schedule: ...

    @property
    def has_momentum(self) -> bool: ...

    def momentum(self, step: Any) -> Any: ...


def _split(name: str, value: Any) -> tuple[_MomentumSchedule | None, float]:
    """``(schedule or None, float for Keras' own code)`` from a float, schedule or config."""
    if isinstance(value, dict):
        value = keras.saving.deserialize_keras_object(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None, float(value)
    schedule = value
    if not callable(getattr(value, "momentum", None)):
        try:
            schedule = as_keras_schedule(value)
        except ValueError:
            schedule = None
    if schedule is None or not schedule.has_momentum:
        raise ValueError(
            f"{name} must be a float or a cyclr schedule with a momentum "
            f"(give base_momentum/max_momentum); received {name}={value!r}"
        )
    start = float(schedule.schedule.momentum(0))
    # Keras' own code (SGD.build) only asks whether the value is nonzero.
    return schedule, (start if start > 0.0 else 1.0)


class _ScheduledMomentum:
    """What the three optimizers share: a momentum schedule read at ``iterations``."""

    _hyper = "momentum"  # the Keras argument the schedule drives
    momentum_schedule: _MomentumSchedule | None = None
    #: the momentum of the update being applied, computed once for all variables
    _momentum_now: Any = None

    if TYPE_CHECKING:  # provided by the Keras optimizer and by each subclass
        iterations: Any  # the update count, a keras.Variable

        def _static_momentum(self) -> Any: ...

    def momentum_at(self, step: Any = None) -> Any:
        """The momentum (or ``beta_1``) applied at ``step`` (default: the next update).

        Args:
          step: an update count (int or tensor); ``None`` for ``optimizer.iterations``.

        Returns:
          The momentum as a float32 tensor (a constant without a schedule).
        """
        step = self.iterations if step is None else step
        if self.momentum_schedule is None:
            return ops.convert_to_tensor(self._static_momentum(), "float32")
        return self.momentum_schedule.momentum(step)

    def _update_momentum(self) -> Any:
        """The scheduled momentum of the update being applied (once per update)."""
        if self._momentum_now is not None:
            return self._momentum_now
        assert self.momentum_schedule is not None
        return self.momentum_schedule.momentum(self.iterations)

    def _backend_update_step(
        self, grads: list[Any], trainable_variables: list[Any], learning_rate: Any
    ) -> None:
        # Keras updates variable by variable: the schedule's math once for all of
        # them (on TensorFlow it cost 3% of a small model's step per variable).
        schedule = self.momentum_schedule
        self._momentum_now = None if schedule is None else schedule.momentum(self.iterations)
        try:
            return super()._backend_update_step(  # type: ignore[misc]
                grads, trainable_variables, learning_rate
            )
        finally:
            self._momentum_now = None

    def set_momentum_schedule(self, schedule: Any) -> None:
        """Drive the momentum by ``schedule`` from the next compiled step on.

        A step function that is already compiled keeps the old value: rebuild it
        (``model.make_train_function(force=True)``), as :class:`cyclr.keras.CyclicLR`
        does.

        Args:
          schedule: a float, or a cyclr schedule with a momentum (or its Keras config).

        Raises:
          ValueError: anything else, naming the value.
        """
        self.momentum_schedule, _ = _split(self._hyper, schedule)

    def _schedule_config(self, config: dict[str, Any]) -> dict[str, Any]:
        # a callback's momentum (cyclr.keras.CyclicLR) is not part of the optimizer
        if isinstance(self.momentum_schedule, keras.optimizers.schedules.LearningRateSchedule):
            config[self._hyper] = keras.saving.serialize_keras_object(self.momentum_schedule)
        return config


@keras.saving.register_keras_serializable(package="cyclr")
class SGD(_ScheduledMomentum, keras.optimizers.SGD):
    """Keras SGD whose ``momentum`` may be a cyclr schedule with momentum.

    The update is Keras' heavy-ball rule with ``mu`` read from the schedule at
    the step being applied::

        v <- mu * v - lr * g
        w <- w + v                       (nesterov: w + mu * v - lr * g)

    Args:
      learning_rate: a float or a ``LearningRateSchedule``, as Keras takes it.
      momentum: a float, or a cyclr schedule with a momentum (or its Keras config).
      nesterov: Nesterov momentum, as Keras.
      **kwargs: passed to ``keras.optimizers.SGD``.

    Raises:
      ValueError: a ``momentum`` that is neither, naming the value.
    """

    _hyper = "momentum"
    momentum: float  # Keras' own attribute: what SGD.build and the fused update read

    def __init__(
        self,
        learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 0.01,
        momentum: float | keras.optimizers.schedules.LearningRateSchedule | dict[str, Any] = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        schedule, value = _split("momentum", momentum)
        super().__init__(learning_rate=learning_rate, momentum=value, nesterov=nesterov, **kwargs)
        self.momentum_schedule = schedule

    def _static_momentum(self) -> Any:
        return self.momentum

    def set_momentum_schedule(self, schedule: Any) -> None:
        """Drive the momentum by ``schedule``; see :meth:`_ScheduledMomentum.set_momentum_schedule`.

        Args:
          schedule: a float, or a cyclr schedule with a momentum (or its Keras config).

        Raises:
          ValueError: this SGD has no velocity buffers (built with momentum 0), or a
            bad ``schedule``.
        """
        if self.built and not self.momentums:
            raise ValueError(
                "this SGD was built with momentum=0.0 and has no velocity "
                "buffers; create it with a nonzero momentum or the schedule; "
                f"received momentum={self.momentum!r}"
            )
        super().set_momentum_schedule(schedule)
        self.momentum = _split("momentum", schedule)[1]

    def _backend_update_step(
        self, grads: list[Any], trainable_variables: list[Any], learning_rate: Any
    ) -> None:
        # Keras's torch backend swaps in its fused (torch._foreach) SGD only for its own
        # class, so a subclass would update variable by variable: do what it does, with
        # the momentum read once per step.
        if keras.backend.backend() != "torch":
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        return _torch_sgd_step(self, grads, trainable_variables, learning_rate)

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """One variable's heavy-ball update, ``mu`` read from the schedule at ``iterations``."""
        if self.momentum_schedule is None:
            return super().update_step(gradient, variable, learning_rate)
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        mu = ops.cast(self._update_momentum(), variable.dtype)
        velocity = self.momentums[self._get_variable_index(variable)]
        step = ops.multiply(gradient, lr)
        self.assign(velocity, ops.subtract(ops.multiply(velocity, mu), step))
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(velocity, mu), step))
        else:
            self.assign_add(variable, velocity)

    def get_config(self) -> dict[str, Any]:
        """Keras' config, with the momentum schedule serialized in place of the float."""
        return self._schedule_config(super().get_config())


def _torch_sgd_step(
    optimizer: SGD, grads: list[Any], variables: list[Any], learning_rate: Any
) -> None:
    """Keras's heavy-ball update on the torch backend, over all variables at once."""
    import torch

    with torch.no_grad():
        params = [v.value for v in variables]
        lr = learning_rate.item() if isinstance(learning_rate, torch.Tensor) else learning_rate
        if not optimizer.momentums:  # built with momentum 0: plain SGD
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        mu = (
            optimizer.momentum
            if optimizer.momentum_schedule is None
            else float(optimizer._update_momentum())
        )
        velocities = [
            optimizer.momentums[optimizer._get_variable_index(v)].value for v in variables
        ]
        torch._foreach_mul_(velocities, mu)
        torch._foreach_add_(velocities, grads, alpha=-lr)
        if optimizer.nesterov:
            torch._foreach_add_(params, grads, alpha=-lr)
            torch._foreach_add_(params, velocities, alpha=mu)
        else:
            torch._foreach_add_(params, velocities)


class _ScheduledBeta1(_ScheduledMomentum):
    """Adam-family: ``beta_1`` is a property reading the schedule inside the update."""

    _hyper = "beta_1"

    _beta_1: Any

    def _static_momentum(self) -> Any:
        return self._beta_1

    @property
    def beta_1(self) -> Any:
        """``beta_1`` at the step being applied: the schedule's momentum, else the float."""
        if self.momentum_schedule is None:
            return self._beta_1
        return self._update_momentum()

    @beta_1.setter
    def beta_1(self, value: Any) -> None:
        self._beta_1 = value


@keras.saving.register_keras_serializable(package="cyclr")
class Adam(_ScheduledBeta1, keras.optimizers.Adam):
    """Keras Adam whose ``beta_1`` may be a cyclr schedule with momentum.

    Keras' update is unchanged; it reads ``beta_1`` at the step being applied,
    also in the bias correction ``1 - beta_1**(step + 1)``.

    Args:
      learning_rate: a float or a ``LearningRateSchedule``, as Keras takes it.
      beta_1: a float, or a cyclr schedule with a momentum (or its Keras config).
      **kwargs: passed to ``keras.optimizers.Adam``.

    Raises:
      ValueError: a ``beta_1`` that is neither, naming the value.
    """

    def __init__(
        self,
        learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 0.001,
        beta_1: float | keras.optimizers.schedules.LearningRateSchedule | dict[str, Any] = 0.9,
        **kwargs: Any,
    ) -> None:
        schedule, value = _split("beta_1", beta_1)
        super().__init__(learning_rate=learning_rate, beta_1=value, **kwargs)
        self.momentum_schedule = schedule

    def get_config(self) -> dict[str, Any]:
        """Keras' config, with the momentum schedule serialized in place of the float."""
        return self._schedule_config(super().get_config())


@keras.saving.register_keras_serializable(package="cyclr")
class AdamW(_ScheduledBeta1, keras.optimizers.AdamW):
    """Keras AdamW whose ``beta_1`` may be a cyclr schedule with momentum.

    Args:
      learning_rate: a float or a ``LearningRateSchedule``, as Keras takes it.
      weight_decay: decoupled weight decay, as Keras.
      beta_1: a float, or a cyclr schedule with a momentum (or its Keras config).
      **kwargs: passed to ``keras.optimizers.AdamW``.

    Raises:
      ValueError: a ``beta_1`` that is neither, naming the value.
    """

    def __init__(
        self,
        learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float | keras.optimizers.schedules.LearningRateSchedule | dict[str, Any] = 0.9,
        **kwargs: Any,
    ) -> None:
        schedule, value = _split("beta_1", beta_1)
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, beta_1=value, **kwargs
        )
        self.momentum_schedule = schedule

    def get_config(self) -> dict[str, Any]:
        """Keras' config, with the momentum schedule serialized in place of the float."""
        return self._schedule_config(super().get_config())


def supports_momentum_schedule(optimizer: keras.optimizers.Optimizer) -> bool:
    """Whether ``optimizer`` reads its momentum from a schedule (cyclr's SGD, Adam, AdamW).

    Args:
      optimizer: any Keras optimizer.

    Returns:
      ``True`` for this module's optimizers.
    """
    return isinstance(optimizer, _ScheduledMomentum)
