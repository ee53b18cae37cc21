"""``CyclicLR``: a drop-in for bckenstler's Keras callback, on every Keras 3 backend."""
from __future__ import annotations

import math
import numbers
import warnings

import keras

from cyclr.cyclic import CyclicSchedule
from cyclr.keras import _backend
from cyclr.keras.optimizers import supports_momentum_schedule
from cyclr.keras.schedules import as_keras_schedule

__all__ = ["CyclicLR"]


def _step_size(value):
    """bckenstler's ``step_size`` may be a float (``4 * len(x) / batch_size``): round it."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value) or value < 1:
        raise ValueError(f"step_size must be a positive number of steps; "
                         f"received step_size={value!r}")
    rounded = round(value)
    if rounded != value:
        warnings.warn(f"step_size={value!r} is not a whole number of steps; using "
                      f"step_size={rounded}", stacklevel=3)
    return rounded


class CyclicLR(keras.callbacks.Callback):
    """Cyclical learning rate callback (Smith 2017), bckenstler's ``CyclicLR`` signature.

    Before every batch it sets the optimizer's learning rate to
    ``schedule(step)``, where ``step`` is ``optimizer.iterations``: the number of
    updates the optimizer has applied, which is saved and restored with it, so
    a resumed run continues its cycle (SPEC.md). Use
    :class:`cyclr.keras.CyclicalLearningRate` instead to compute the same
    values inside the compiled step, with no Python per batch.

    Differences from bckenstler's callback, all deliberate:

    - a ``step_size`` that is not a whole number (the seed's
      ``4 * len(x_train) / batch_size``) is rounded, with a warning;
    - ``scale_mode`` defaults to the mode's own (``'cycle'``, or
      ``'iterations'`` for ``exp_range``, or ``'cycle'`` for a ``scale_fn``);
      given explicitly, it is honoured rather than silently ignored;
    - the step comes from the optimizer, not a counter in the callback.

    Args:
      base_lr, max_lr, step_size, mode, gamma, scale_fn, scale_mode: as bckenstler.
      step_size_up, step_size_down, waveform, decay_target: cyclr's extras
        (see :class:`cyclr.CyclicSchedule`).
      base_momentum, max_momentum: cycle momentum too, inverse to the lr. Needs
        :class:`cyclr.keras.SGD`, ``Adam`` or ``AdamW`` (Keras' own optimizers
        compile momentum in as a constant).
      schedule: a ready cyclr schedule (``CyclicSchedule``, ``OneCycle``, ...)
        instead of the arguments above.
      cycle_momentum: whether to drive the optimizer's momentum by the schedule.
        Default: yes when ``base_momentum``/``max_momentum`` are given (an
        optimizer that cannot is an error), and for a ``schedule`` with momentum
        (such as ``OneCycle``) when the optimizer can, with a warning when not.

    Attributes:
      history: ``{'lr': [...], 'iterations': [...], <batch logs>...}``, one entry
        per batch as in bckenstler's callback (``iterations`` counts updates
        applied after the batch; ``momentum`` is added when it cycles).

    Raises:
      ValueError: naming the parameter and the value received.
    """

    def __init__(self, base_lr=0.001, max_lr=0.006, step_size=2000., mode="triangular",
                 gamma=1., scale_fn=None, scale_mode=None, *, step_size_up=None,
                 step_size_down=None, waveform="triangular", decay_target="amplitude",
                 base_momentum=None, max_momentum=None, schedule=None, cycle_momentum=None):
        super().__init__()
        if cycle_momentum is None:
            explicit = base_momentum is not None or max_momentum is not None
            cycle_momentum = True if explicit else ("auto" if schedule is not None else False)
        elif not isinstance(cycle_momentum, bool):
            raise ValueError(f"cycle_momentum must be True, False or None; received "
                             f"cycle_momentum={cycle_momentum!r}")
        if schedule is not None:
            given = {name: value for name, value, default in (
                ("base_lr", base_lr, 0.001), ("max_lr", max_lr, 0.006),
                ("step_size", step_size, 2000.), ("mode", mode, "triangular"),
                ("gamma", gamma, 1.), ("scale_fn", scale_fn, None),
                ("scale_mode", scale_mode, None), ("step_size_up", step_size_up, None),
                ("step_size_down", step_size_down, None), ("waveform", waveform, "triangular"),
                ("decay_target", decay_target, "amplitude"),
                ("base_momentum", base_momentum, None), ("max_momentum", max_momentum, None),
            ) if value is not default and value != default}
            if given:
                raise ValueError("schedule= fixes these; pass them to the schedule instead: "
                                 + ", ".join(f"{k}={v!r}" for k, v in given.items()))
            self.schedule = as_keras_schedule(schedule).schedule
        else:
            if step_size_up is not None or step_size_down is not None:
                if step_size != 2000.:
                    raise ValueError("give step_size or step_size_up/step_size_down, not both; "
                                     f"received step_size={step_size!r}, step_size_up="
                                     f"{step_size_up!r}, step_size_down={step_size_down!r}")
                step_size = None
            if scale_fn is not None and scale_mode is None:
                scale_mode = "cycle"
            self.schedule = CyclicSchedule(
                base_lr, max_lr, _step_size(step_size),
                step_size_up=_step_size(step_size_up), step_size_down=_step_size(step_size_down),
                mode=mode, gamma=gamma, waveform=waveform, decay_target=decay_target,
                scale_fn=scale_fn, scale_mode=scale_mode, base_momentum=base_momentum,
                max_momentum=max_momentum)
        if cycle_momentum is True and not self.schedule.has_momentum:
            raise ValueError("cycle_momentum=True needs a schedule with momentum (give "
                             "base_momentum/max_momentum); received "
                             f"schedule={self.schedule!r}")
        self.cycle_momentum = cycle_momentum if self.schedule.has_momentum else False
        self.history: dict[str, list] = {}
        self._origin = 0        # the optimizer step at which the schedule's step 0 falls
        self._pending_reset = False
        self._momentum_ready = False
        self._last = None

    # bckenstler's names, for code that reads them
    @property
    def base_lr(self):
        return getattr(self.schedule, "base_lr", None)

    @property
    def max_lr(self):
        return getattr(self.schedule, "max_lr", None)

    def clr(self, step=None) -> float:
        """The learning rate at optimizer step ``step`` (default: the next update)."""
        if step is None:
            step = _backend.step_of(self.model.optimizer)
        return self.schedule(max(0, step - self._origin))

    def reset(self, base_lr=None, max_lr=None, step_size=None):
        """Restart the cycle, optionally with new bounds or step size (bckenstler's ``_reset``).

        The schedule's step 0 moves to the optimizer's next update. This
        origin lives in the callback, not in the saved model.
        """
        if not isinstance(self.schedule, CyclicSchedule):
            raise ValueError(f"reset needs a CyclicSchedule; this callback runs "
                             f"schedule={self.schedule!r}")
        from dataclasses import replace
        changes = {}
        if base_lr is not None:
            changes["base_lr"] = base_lr
        if max_lr is not None:
            changes["max_lr"] = max_lr
        if step_size is not None:
            changes.update(step_size=_step_size(step_size), step_size_up=None,
                           step_size_down=None)
        self.schedule = replace(self.schedule, **changes)
        self._pending_reset = True

    _reset = reset

    def set_model(self, model):
        if model is not getattr(self, "_model", None):
            self._momentum_ready = False  # a new model's optimizer needs the schedule
        super().set_model(model)

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if isinstance(getattr(optimizer, "_learning_rate", None),
                      keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError("CyclicLR sets the learning rate itself; compile with a float "
                             "learning_rate, or pass the schedule to the optimizer instead "
                             "(cyclr.keras.CyclicalLearningRate); received learning_rate="
                             f"{optimizer._learning_rate!r}")
        if getattr(self.model, "steps_per_execution", 1) != 1:
            raise ValueError("CyclicLR sets the learning rate once per batch and needs "
                             "steps_per_execution=1; use cyclr.keras.CyclicalLearningRate "
                             "for compiled multi-step execution; received steps_per_execution="
                             f"{self.model.steps_per_execution!r}")
        if self.cycle_momentum == "auto":
            self.cycle_momentum = supports_momentum_schedule(optimizer)
            if not self.cycle_momentum:
                warnings.warn(f"the schedule cycles momentum but {type(optimizer).__name__} "
                              "cannot follow it (use cyclr.keras.SGD, Adam or AdamW); "
                              "cycling the learning rate only", stacklevel=2)
        if self.cycle_momentum:
            if not supports_momentum_schedule(optimizer):
                raise ValueError(
                    "cycling momentum needs cyclr.keras.SGD, Adam or AdamW: Keras' own "
                    "optimizers compile momentum/beta_1 in as a constant; received optimizer="
                    f"{type(optimizer).__name__}")
            if not self._momentum_ready:
                self._install_momentum()

    def _install_momentum(self):
        # The momentum is read inside the compiled step, so a new schedule or
        # origin means compiling the step again (once per fit or reset).
        self.model.optimizer.set_momentum_schedule(_Shifted(self.schedule, self._origin))
        self.model.make_train_function(force=True)
        self._momentum_ready = True

    def on_train_batch_begin(self, batch, logs=None):
        _backend.sync(self.model)
        optimizer = self.model.optimizer
        step = _backend.step_of(optimizer)
        if self._pending_reset:
            self._origin, self._pending_reset = step, False
            if self.cycle_momentum:
                self._install_momentum()
        lr = self.clr(step)
        optimizer.learning_rate = lr
        self._last = (step, lr)

    def on_train_batch_end(self, batch, logs=None):
        step, lr = self._last
        self.history.setdefault("lr", []).append(lr)
        self.history.setdefault("iterations", []).append(step + 1)
        if self.cycle_momentum is True:
            local = max(0, step - self._origin)
            self.history.setdefault("momentum", []).append(self.schedule.momentum(local))
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(_backend.to_float(value))


class _Shifted:
    """The callback's schedule, starting at optimizer step ``origin``, for the momentum.

    Not a saved object: a model that should store its momentum schedule is built
    with one (``cyclr.keras.SGD(momentum=clr)``).
    """

    has_momentum = True

    def __init__(self, schedule, origin: int):
        self._keras = as_keras_schedule(schedule)
        self.schedule = self._keras.schedule
        self.origin = origin

    def momentum(self, step):
        step = keras.ops.cast(step, "float32") - float(self.origin)
        return self._keras.momentum(keras.ops.maximum(step, 0.0))
