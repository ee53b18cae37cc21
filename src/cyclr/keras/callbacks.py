"""``CyclicLR``: a drop-in for bckenstler's Keras callback, on every Keras 3 backend.

Also :class:`LogLearningRate` (from :mod:`cyclr.keras.logs`), which puts an
in-graph schedule's learning rate (and momentum) into Keras' ``logs``, as
``CyclicLR`` does for its own.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import keras

from cyclr._base import Schedule
from cyclr._facade import forwards_to, given_keywords, whole_steps
from cyclr.cyclic import CyclicSchedule
from cyclr.keras import backend
from cyclr.keras.logs import _LR_KEY, _MOMENTUM_KEY, LogLearningRate, _Shifted
from cyclr.keras.optimizers import supports_momentum_schedule
from cyclr.keras.schedules import as_keras_schedule

__all__ = ["CyclicLR", "LogLearningRate"]


class CyclicLR(keras.callbacks.Callback):
    """Cyclical learning rate callback (Smith 2017), bckenstler's ``CyclicLR`` signature.

    Before every batch it sets the optimizer's learning rate to
    ``schedule(step)``, where ``step`` is ``optimizer.iterations``: the number of
    updates the optimizer has applied, which is saved and restored with it, so
    a resumed run continues its cycle (docs/semantics.md, *Time*). Use
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

    Logging: it writes the learning rate into Keras' ``logs`` under
    ``'learning_rate'`` (Keras' own key; also ``'momentum'`` when momentum
    cycles), so ``keras.callbacks.TensorBoard``, ``CSVLogger``, ``History`` and
    the progress bar record it. Batch logs hold the values the batch's update
    used; epoch logs those of the epoch's last update, which is what
    ``TensorBoard`` reads from the optimizer itself (``epoch_learning_rate``).
    Keras runs callbacks in list order, so put this one before the loggers:
    ``callbacks=[clr, TensorBoard(...), CSVLogger(...)]``. The values are the
    Python floats the callback already holds: no extra work per batch.

    Attributes:
      history: ``{'lr': [...], 'iterations': [...], <batch logs>...}``, one entry
        per batch as in bckenstler's callback (``iterations`` counts updates
        applied after the batch; ``momentum`` is added when it cycles; the batch
        logs, as floats, at each epoch's end).

    Raises:
      ValueError: naming the parameter and the value received.
      TypeError: for an argument bckenstler's callback and cyclr do not take.

    >>> clr = CyclicLR(base_lr=0.001, max_lr=0.006, step_size=2000., mode="triangular")
    >>> clr.schedule
    CyclicSchedule(base_lr=0.001, max_lr=0.006, step_size=2000)
    """

    @property
    def async_safe(self) -> bool:
        """Whether Keras may run the batch-end hook on its callback thread (TensorFlow).

        The hook reads only what its batch's ``on_train_batch_begin`` stored, so it
        is safe anywhere; it pays on TensorFlow, where the step does not wait for the
        batch's logs to reach the host. On JAX and torch the thread's hand-offs cost
        more than they save (measured with the per-step overhead benchmark;
        docs/results.md, *Overhead per training step*), so Keras calls it in line.
        """
        return keras.backend.backend() == "tensorflow"

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
        self._last_momentum: float | None = None
        # The update count, kept on the host between reads of optimizer.iterations (a
        # device read, and on TensorFlow the larger part of a batch hook's cost): read at
        # the start of each epoch, counted within it. None: read it every batch (an
        # optimizer that may skip updates, as a LossScaleOptimizer does).
        self._step: int | None = None
        # this epoch's batch logs (unconverted) and the values each batch used, by batch
        self._raw_logs: dict[int, dict[str, Any]] = {}
        self._batch_values: dict[int, tuple[float, float | None]] = {}

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
    ) -> None:
        """bckenstler's ``_reset``, with its argument names: :meth:`reset` under them.

        ``clr._reset()`` restarts the cycle; ``clr._reset(new_base_lr, new_max_lr,
        new_step_size)`` (by position or name) also changes what is given.

        Args:
          new_base_lr: as ``reset``'s ``base_lr``.
          new_max_lr: as ``reset``'s ``max_lr``.
          new_step_size: as ``reset``'s ``step_size``.
        """
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

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Add what a stopped epoch logged to ``history``."""
        self._flush_logs()

    def _flush_logs(self) -> None:
        for batch in sorted(self._raw_logs):
            for key, value in self._raw_logs[batch].items():
                self.history.setdefault(key, []).append(backend.to_float(value))
        self._raw_logs = {}

    def _install_momentum(self) -> None:
        # The momentum is read inside the compiled step, so a new schedule or
        # origin means compiling the step again (once per fit or reset).
        self.model.optimizer.set_momentum_schedule(_Shifted(self.schedule, self._origin))
        self.model.make_train_function(force=True)
        self._momentum_ready = True

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Read the optimizer's update count once; the batches of the epoch count on."""
        backend.sync(self.model)
        optimizer = self.model.optimizer
        skips = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        self._step = None if skips else backend.step_of(optimizer)
        self._flush_logs()  # a fit that raised mid-epoch leaves its batches here
        self._batch_values = {}

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Set the learning rate for the update about to be applied; record it in ``history``."""
        backend.sync(self.model)
        optimizer = self.model.optimizer
        step = backend.step_of(optimizer) if self._step is None else self._step
        if self._pending_reset:
            self._origin, self._pending_reset = step, False
            if self.cycle_momentum:
                self._install_momentum()
        lr = self.clr(step)
        backend.set_learning_rate(optimizer, lr)
        if self._step is not None:
            self._step = step + 1
        self.history.setdefault("lr", []).append(lr)
        self.history.setdefault("iterations", []).append(step + 1)
        momentum = None
        if self.cycle_momentum is True:
            momentum = self.schedule.momentum(max(0, step - self._origin))
            self.history.setdefault("momentum", []).append(momentum)
        self._last, self._last_momentum = (step, lr), momentum
        self._batch_values[batch] = (lr, momentum)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Keep the batch's logs for ``history``; add its lr (and momentum) to ``logs``.

        It reads only what the batch's own ``on_train_batch_begin`` stored, so Keras
        may call it on its callback thread (``async_safe``), the training step not
        waiting for the logs to reach the host.
        """
        if logs is None:
            return
        # kept as they come and made floats at the epoch's end, in batch order
        self._raw_logs[batch] = dict(logs)
        lr, momentum = self._batch_values.get(batch, (None, None))
        # after the copy: history keeps bckenstler's 'lr', not a copy under Keras' key
        if lr is not None:
            logs[_LR_KEY] = lr
        if momentum is not None:
            logs[_MOMENTUM_KEY] = momentum

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Add the epoch's batch logs to ``history``; the last lr (and momentum) to ``logs``."""
        self._flush_logs()
        if logs is None or self._last is None:
            return
        logs[_LR_KEY] = self._last[1]
        if self._last_momentum is not None:
            logs[_MOMENTUM_KEY] = self._last_momentum
