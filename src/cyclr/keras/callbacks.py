"""``CyclicLR``: a drop-in for bckenstler's Keras callback, on every Keras 3 backend."""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import keras

from cyclr._base import Schedule
from cyclr._facade import forwards_to, given_keywords, whole_steps
from cyclr.cyclic import CyclicSchedule
from cyclr.keras import backend
from cyclr.keras.optimizers import supports_momentum_schedule
from cyclr.keras.schedules import as_keras_schedule

__all__ = ["CyclicLR"]


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
      *args, **keywords: bckenstler's ``base_lr=0.001, max_lr=0.006,
        step_size=2000., mode='triangular', gamma=1., scale_fn=None,
        scale_mode=None`` (by position or name), and cyclr's keyword-only
        ``step_size_up``, ``step_size_down``, ``waveform``, ``decay_target``,
        ``base_momentum`` and ``max_momentum``: the arguments of
        :meth:`cyclr.CyclicSchedule.from_bckenstler_kwargs`, which builds the
        schedule. Momentum bounds cycle momentum too, inverse to the lr; that
        needs :class:`cyclr.keras.SGD`, ``Adam`` or ``AdamW`` (Keras' own
        optimizers compile momentum in as a constant).
      schedule: a ready cyclr schedule (``CyclicSchedule``, ``OneCycle``, ...)
        instead of those arguments; any of them next to it is refused by name,
        even one equal to its default.
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
      TypeError: for an argument bckenstler's callback and cyclr do not take.

    >>> clr = CyclicLR(base_lr=0.001, max_lr=0.006, step_size=2000., mode="triangular")
    >>> clr.schedule
    CyclicSchedule(base_lr=0.001, max_lr=0.006, step_size=2000)
    """

    @forwards_to(CyclicSchedule.from_bckenstler_kwargs)
    def __init__(
        self,
        *args: Any,
        schedule: Schedule | None = None,
        cycle_momentum: bool | None = None,
        **keywords: Any,
    ) -> None:
        super().__init__()
        if cycle_momentum is not None and not isinstance(cycle_momentum, bool):
            raise ValueError(
                f"cycle_momentum must be True, False or None; received "
                f"cycle_momentum={cycle_momentum!r}"
            )
        given = given_keywords(
            CyclicSchedule.from_bckenstler_kwargs,
            args,
            keywords,
            owner="CyclicLR",
            schedule=schedule,
        )
        if schedule is not None:
            self.schedule = as_keras_schedule(schedule).schedule
        else:
            self.schedule = CyclicSchedule.from_bckenstler_kwargs(**given)
        if cycle_momentum is True and not self.schedule.has_momentum:
            raise ValueError(
                "cycle_momentum=True needs a schedule with momentum (give "
                "base_momentum/max_momentum); received "
                f"schedule={self.schedule!r}"
            )
        #: True, False, or "auto" (decided on the optimizer in on_train_begin)
        self.cycle_momentum: bool | str = False
        if self.schedule.has_momentum:
            self.cycle_momentum = (
                "auto"
                if cycle_momentum is None and schedule is not None
                else cycle_momentum is not False
            )
        self.history: dict[str, list[Any]] = {}
        self._origin = 0  # the optimizer step at which the schedule's step 0 falls
        self._pending_reset = False
        self._momentum_ready = False
        self._last: tuple[int, float] | None = None

    # bckenstler's names, for code that reads them
    @property
    def base_lr(self) -> float | None:
        """The schedule's ``base_lr`` (bckenstler's attribute), ``None`` if it has none."""
        return getattr(self.schedule, "base_lr", None)

    @property
    def max_lr(self) -> float | None:
        """The schedule's ``max_lr`` (bckenstler's attribute), ``None`` if it has none."""
        return getattr(self.schedule, "max_lr", None)

    def clr(self, step: int | None = None) -> float:
        """The learning rate at optimizer step ``step`` (default: the next update)."""
        if step is None:
            step = backend.step_of(self.model.optimizer)
        return self.schedule(max(0, step - self._origin))

    def reset(
        self,
        base_lr: float | None = None,
        max_lr: float | None = None,
        step_size: float | None = None,
    ) -> None:
        """Restart the cycle, optionally with new bounds or step size.

        The schedule's step 0 moves to the optimizer's next update. This
        origin lives in the callback, not in the saved model.

        Args:
          base_lr: a new lower bound; ``None`` keeps the current one.
          max_lr: a new upper bound; ``None`` keeps the current one.
          step_size: a new half cycle (up and down); ``None`` keeps the current one.

        Raises:
          ValueError: naming the parameter and the value received, or when the
            callback runs a schedule other than a ``CyclicSchedule``.
        """
        if not isinstance(self.schedule, CyclicSchedule):
            raise ValueError(
                f"reset needs a CyclicSchedule; this callback runs schedule={self.schedule!r}"
            )
        changes: dict[str, Any] = {}
        if base_lr is not None:
            changes["base_lr"] = base_lr
        if max_lr is not None:
            changes["max_lr"] = max_lr
        if step_size is not None:
            changes.update(
                step_size=whole_steps("step_size", step_size, stacklevel=2),
                step_size_up=None,
                step_size_down=None,
            )
        self.schedule = replace(self.schedule, **changes)
        self._pending_reset = True

    def _reset(
        self,
        new_base_lr: float | None = None,
        new_max_lr: float | None = None,
        new_step_size: float | None = None,
        **old_names: Any,
    ) -> None:
        """bckenstler's ``_reset``, with its argument names: :meth:`reset` under them.

        ``clr._reset()`` restarts the cycle; ``clr._reset(new_base_lr, new_max_lr,
        new_step_size)`` (by position or name) also changes what is given.

        Args:
          new_base_lr: as ``reset``'s ``base_lr``.
          new_max_lr: as ``reset``'s ``max_lr``.
          new_step_size: as ``reset``'s ``step_size``.
          **old_names: ``base_lr``, ``max_lr``, ``step_size``: what cyclr 0.1's
            ``_reset`` took; deprecated, write ``reset(...)`` or the ``new_`` names.

        Raises:
          TypeError: for any other keyword.
        """
        if old_names:
            given = given_keywords(self.reset, (), old_names, owner="CyclicLR._reset")
            warnings.warn(
                "CyclicLR._reset(base_lr=..., max_lr=..., step_size=...) is "
                "deprecated and will be removed in the next release; use "
                "reset(base_lr=..., ...) or _reset(new_base_lr=..., ...)",
                DeprecationWarning,
                stacklevel=2,
            )
            new_base_lr = given.get("base_lr", new_base_lr)
            new_max_lr = given.get("max_lr", new_max_lr)
            new_step_size = given.get("step_size", new_step_size)
        self.reset(new_base_lr, new_max_lr, new_step_size)

    def set_model(self, model: Any) -> None:
        """Keras' hook; a new model needs its momentum schedule installed again."""
        if model is not getattr(self, "_model", None):
            self._momentum_ready = False  # a new model's optimizer needs the schedule
        super().set_model(model)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Check the optimizer and install the momentum schedule when momentum cycles."""
        optimizer = self.model.optimizer
        if isinstance(
            getattr(optimizer, "_learning_rate", None),
            keras.optimizers.schedules.LearningRateSchedule,
        ):
            raise ValueError(
                "CyclicLR sets the learning rate itself; compile with a float "
                "learning_rate, or pass the schedule to the optimizer instead "
                "(cyclr.keras.CyclicalLearningRate); received learning_rate="
                f"{optimizer._learning_rate!r}"
            )
        if getattr(self.model, "steps_per_execution", 1) != 1:
            raise ValueError(
                "CyclicLR sets the learning rate once per batch and needs "
                "steps_per_execution=1; use cyclr.keras.CyclicalLearningRate "
                "for compiled multi-step execution; received steps_per_execution="
                f"{self.model.steps_per_execution!r}"
            )
        if self.cycle_momentum == "auto":
            self.cycle_momentum = supports_momentum_schedule(optimizer)
            if not self.cycle_momentum:
                warnings.warn(
                    f"the schedule cycles momentum but {type(optimizer).__name__} "
                    "cannot follow it (use cyclr.keras.SGD, Adam or AdamW); "
                    "cycling the learning rate only",
                    stacklevel=2,
                )
        if self.cycle_momentum:
            if not supports_momentum_schedule(optimizer):
                raise ValueError(
                    "cycling momentum needs cyclr.keras.SGD, Adam or AdamW: Keras' own "
                    "optimizers compile momentum/beta_1 in as a constant; received optimizer="
                    f"{type(optimizer).__name__}"
                )
            if not self._momentum_ready:
                self._install_momentum()

    def _install_momentum(self) -> None:
        # The momentum is read inside the compiled step, so a new schedule or
        # origin means compiling the step again (once per fit or reset).
        self.model.optimizer.set_momentum_schedule(_Shifted(self.schedule, self._origin))
        self.model.make_train_function(force=True)
        self._momentum_ready = True

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Set the learning rate for the update about to be applied."""
        backend.sync(self.model)
        optimizer = self.model.optimizer
        step = backend.step_of(optimizer)
        if self._pending_reset:
            self._origin, self._pending_reset = step, False
            if self.cycle_momentum:
                self._install_momentum()
        lr = self.clr(step)
        optimizer.learning_rate = lr
        self._last = (step, lr)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Record the batch's lr, update count and logs in ``history``."""
        assert self._last is not None, "on_train_batch_begin sets it"
        step, lr = self._last
        self.history.setdefault("lr", []).append(lr)
        self.history.setdefault("iterations", []).append(step + 1)
        if self.cycle_momentum is True:
            local = max(0, step - self._origin)
            self.history.setdefault("momentum", []).append(self.schedule.momentum(local))
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(backend.to_float(value))


class _Shifted:
    """The callback's schedule, starting at optimizer step ``origin``, for the momentum.

    Not a saved object: a model that should store its momentum schedule is built
    with one (``cyclr.keras.SGD(momentum=clr)``).
    """

    has_momentum = True

    def __init__(self, schedule: Schedule, origin: int) -> None:
        self._keras = as_keras_schedule(schedule)
        self.schedule = self._keras.schedule
        self.origin = origin

    def momentum(self, step: Any) -> Any:
        step = keras.ops.cast(step, "float32") - float(self.origin)
        return self._keras.momentum(keras.ops.maximum(step, 0.0))
