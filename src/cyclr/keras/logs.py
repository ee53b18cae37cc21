"""Learning rates and momenta in Keras' ``logs``: :class:`LogLearningRate` and the keys.

:class:`LogLearningRate` logs an in-graph schedule's values under the keys
:class:`cyclr.keras.CyclicLR` writes its own under (``'learning_rate'``,
``'momentum'``). ``_Shifted`` is the momentum schedule ``CyclicLR`` installs
in the optimizer (its schedule from the cycle's origin on), which
``LogLearningRate`` leaves to ``CyclicLR`` to log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from cyclr._base import Schedule
from cyclr.keras import backend
from cyclr.keras.schedules import _CoreSchedule, as_keras_schedule

__all__ = ["LogLearningRate"]

#: The ``logs`` key of the learning rate: Keras' own (``LearningRateScheduler``,
#: ``ReduceLROnPlateau`` and ``TensorBoard`` write ``logs["learning_rate"]``).
_LR_KEY = "learning_rate"
#: The ``logs`` key of the momentum (or Adam's ``beta_1``), when it follows a schedule.
_MOMENTUM_KEY = "momentum"


class LogLearningRate(keras.callbacks.Callback):
    """Put the learning rate (and momentum) of an in-graph schedule into Keras' ``logs``.

    With a schedule passed to the optimizer (``SGD(learning_rate=
    cyclr.keras.CyclicalLearningRate(...))``), no cyclr code runs per batch and
    Keras logs the learning rate only to ``TensorBoard``, once per epoch
    (``epoch_learning_rate``, read from the optimizer). This callback adds it,
    under Keras' key ``'learning_rate'``, to the batch and epoch ``logs``, so
    ``CSVLogger``, ``History`` and ``TensorBoard(update_freq='batch')`` record
    it too; and ``'momentum'`` when the optimizer's momentum (or ``beta_1``)
    follows a cyclr schedule (:class:`cyclr.keras.SGD`, ``Adam``, ``AdamW``).
    :class:`CyclicLR` logs its own values and needs no help.

    What is logged:

    - batch logs: the values the batch's update used, ``schedule(step)`` with
      ``step`` the updates applied before it;
    - epoch logs: the values the optimizer holds after the epoch,
      ``schedule(optimizer.iterations)`` (the next update's), which is what
      ``TensorBoard`` writes as ``epoch_learning_rate``, so every logger agrees.

    A cyclr schedule is evaluated in Python (a few microseconds) from a step
    counted on the host: the optimizer is read once per epoch, never per batch.
    Any other ``LearningRateSchedule``, or a plain learning rate, is read from
    the optimizer, which costs a device-to-host copy per batch; pass
    ``per_batch=False`` to log at the end of each epoch only.

    Keras runs callbacks in list order: put this one before the loggers,
    ``callbacks=[LogLearningRate(), TensorBoard(...), CSVLogger(...)]``.

    Args:
      per_batch: also write the batch ``logs`` (default ``True``).

    Raises:
      ValueError: ``per_batch`` not a bool, naming the value received.

    >>> LogLearningRate()
    LogLearningRate(per_batch=True)
    """

    def __init__(self, per_batch: bool = True) -> None:
        super().__init__()
        if not isinstance(per_batch, bool):
            raise ValueError(f"per_batch must be True or False; received per_batch={per_batch!r}")
        self.per_batch = per_batch
        self._epoch_start = 0  # optimizer.iterations when the epoch began
        self._read: tuple[Callable[[int], float], Callable[[int], float] | None] = (
            float,
            None,
        )  # replaced in on_train_begin

    def __repr__(self) -> str:
        return f"{type(self).__name__}(per_batch={self.per_batch})"

    def _optimizer(self) -> Any:
        optimizer = self.model.optimizer
        # mixed precision wraps the optimizer that holds the schedule
        return getattr(optimizer, "inner_optimizer", optimizer)

    def _readers(self) -> tuple[Callable[[int], float], Callable[[int], float] | None]:
        """How to read the learning rate and momentum (``None``: fixed) at an update count."""
        optimizer = self._optimizer()
        schedule = getattr(optimizer, "_learning_rate", None)
        lr_at: Callable[[int], float]
        if isinstance(schedule, _CoreSchedule):
            lr_at = schedule.schedule.__call__  # Python floats, no device work
        elif isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            keras_schedule = schedule

            def lr_at(step: int) -> float:
                return backend.to_float(keras_schedule(step))
        else:  # a variable, set by the user or by another callback

            def lr_at(step: int) -> float:
                return backend.to_float(optimizer.learning_rate)

        momentum_at: Callable[[int], float] | None = None
        cyclic = getattr(optimizer, "momentum_schedule", None)
        if isinstance(cyclic, _CoreSchedule):
            momentum_at = cyclic.schedule.momentum
        elif cyclic is not None and not isinstance(cyclic, _Shifted):  # CyclicLR logs its own
            momentum_schedule = cyclic

            def momentum_at(step: int) -> float:
                return backend.to_float(momentum_schedule.momentum(step))

        return lr_at, momentum_at

    def _write(self, logs: dict[str, Any], step: int) -> None:
        lr_at, momentum_at = self._read
        logs[_LR_KEY] = float(lr_at(step))
        if momentum_at is not None:
            logs[_MOMENTUM_KEY] = float(momentum_at(step))

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Decide, once per ``fit``, how the optimizer's values are read."""
        self._read = self._readers()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Read the optimizer's update count once: batch steps are counted from it."""
        if self.per_batch:
            self._epoch_start = backend.step_of(self._optimizer())

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Add the values the batch's update used to the batch ``logs``."""
        if self.per_batch and logs is not None:
            # Keras passes the index, within the epoch, of the last batch the call ran
            self._write(logs, self._epoch_start + batch)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Add the values the optimizer holds after the epoch to the epoch ``logs``."""
        if logs is not None:
            self._write(logs, backend.step_of(self._optimizer()))


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
