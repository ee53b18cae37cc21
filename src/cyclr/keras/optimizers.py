"""Keras optimizers whose momentum (SGD) or ``beta_1`` (Adam, AdamW) follows a schedule.

Keras' own optimizers hold ``momentum`` and ``beta_1`` as Python floats, which
the TensorFlow and JAX backends compile into the training step as constants:
changing them between batches has no effect there. These subclasses read the
value from a cyclr schedule at ``optimizer.iterations`` inside the compiled
update, the same way a ``LearningRateSchedule`` is read, so cyclical momentum
(SPEC.md: inverse to the learning rate) works on every backend, needs no
per-batch Python, and is saved in ``.keras`` files.

>>> import cyclr.keras
>>> clr = cyclr.keras.CyclicalLearningRate(1e-3, 6e-3, step_size=2000,
...                                        base_momentum=0.85, max_momentum=0.95)
>>> opt = cyclr.keras.SGD(learning_rate=clr, momentum=clr)
>>> round(float(opt.momentum_at(2000)), 6)
0.85

With a float, they are exactly Keras' optimizers.
"""
from __future__ import annotations

import keras
from keras import ops

from cyclr.keras.schedules import as_keras_schedule

__all__ = ["SGD", "Adam", "AdamW"]


def _split(name: str, value):
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
        raise ValueError(f"{name} must be a float or a cyclr schedule with a momentum "
                         f"(give base_momentum/max_momentum); received {name}={value!r}")
    start = float(schedule.schedule.momentum(0))
    # Keras' own code (SGD.build) only asks whether the value is nonzero.
    return schedule, (start if start > 0.0 else 1.0)


class _ScheduledMomentum:
    """What the three optimizers share: a momentum schedule read at ``iterations``."""

    _hyper = "momentum"  # the Keras argument the schedule drives
    momentum_schedule = None

    def momentum_at(self, step=None):
        """The momentum (or ``beta_1``) applied at ``step`` (default: the next update)."""
        step = self.iterations if step is None else step
        if self.momentum_schedule is None:
            return ops.convert_to_tensor(self._static_momentum(), "float32")
        return self.momentum_schedule.momentum(step)

    def set_momentum_schedule(self, schedule):
        """Drive the momentum by ``schedule`` from the next compiled step on.

        A step function that is already compiled keeps the old value: rebuild it
        (``model.make_train_function(force=True)``), as :class:`cyclr.keras.CyclicLR`
        does.
        """
        self.momentum_schedule, _ = _split(self._hyper, schedule)

    def _schedule_config(self, config: dict) -> dict:
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
    """

    _hyper = "momentum"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        schedule, value = _split("momentum", momentum)
        super().__init__(learning_rate=learning_rate, momentum=value, nesterov=nesterov,
                         **kwargs)
        self.momentum_schedule = schedule

    def _static_momentum(self):
        return self.momentum

    def set_momentum_schedule(self, schedule):
        if self.built and not self.momentums:
            raise ValueError("this SGD was built with momentum=0.0 and has no velocity "
                             "buffers; create it with a nonzero momentum or the schedule; "
                             f"received momentum={self.momentum!r}")
        super().set_momentum_schedule(schedule)
        self.momentum = _split("momentum", schedule)[1]

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        # Keras's torch backend swaps in its fused (torch._foreach) SGD only for its own
        # class, so a subclass would update variable by variable: do what it does, with
        # the momentum read once per step.
        if keras.backend.backend() != "torch":
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        return _torch_sgd_step(self, grads, trainable_variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        if self.momentum_schedule is None:
            return super().update_step(gradient, variable, learning_rate)
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        mu = ops.cast(self.momentum_schedule.momentum(self.iterations), variable.dtype)
        velocity = self.momentums[self._get_variable_index(variable)]
        step = ops.multiply(gradient, lr)
        self.assign(velocity, ops.subtract(ops.multiply(velocity, mu), step))
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(velocity, mu), step))
        else:
            self.assign_add(variable, velocity)

    def get_config(self):
        return self._schedule_config(super().get_config())


def _torch_sgd_step(optimizer, grads, variables, learning_rate):
    """Keras's heavy-ball update on the torch backend, over all variables at once."""
    import torch

    with torch.no_grad():
        params = [v.value for v in variables]
        lr = learning_rate.item() if isinstance(learning_rate, torch.Tensor) else learning_rate
        if not optimizer.momentums:     # built with momentum 0: plain SGD
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        mu = optimizer.momentum if optimizer.momentum_schedule is None else \
            float(optimizer.momentum_schedule.momentum(optimizer.iterations))
        velocities = [optimizer.momentums[optimizer._get_variable_index(v)].value
                      for v in variables]
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

    def _static_momentum(self):
        return self._beta_1

    @property
    def beta_1(self):
        if self.momentum_schedule is None:
            return self._beta_1
        return self.momentum_schedule.momentum(self.iterations)

    @beta_1.setter
    def beta_1(self, value):
        self._beta_1 = value


@keras.saving.register_keras_serializable(package="cyclr")
class Adam(_ScheduledBeta1, keras.optimizers.Adam):
    """Keras Adam whose ``beta_1`` may be a cyclr schedule with momentum.

    Keras' update is unchanged; it reads ``beta_1`` at the step being applied,
    also in the bias correction ``1 - beta_1**(step + 1)``.
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, **kwargs):
        schedule, value = _split("beta_1", beta_1)
        super().__init__(learning_rate=learning_rate, beta_1=value, **kwargs)
        self.momentum_schedule = schedule

    def get_config(self):
        return self._schedule_config(super().get_config())


@keras.saving.register_keras_serializable(package="cyclr")
class AdamW(_ScheduledBeta1, keras.optimizers.AdamW):
    """Keras AdamW whose ``beta_1`` may be a cyclr schedule with momentum."""

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, **kwargs):
        schedule, value = _split("beta_1", beta_1)
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay,
                         beta_1=value, **kwargs)
        self.momentum_schedule = schedule

    def get_config(self):
        return self._schedule_config(super().get_config())


def supports_momentum_schedule(optimizer) -> bool:
    return isinstance(optimizer, _ScheduledMomentum)
