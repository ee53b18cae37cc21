"""The learning-rate range test for Keras: the ``LRFinder`` callback and ``find_lr``.

The callback drives :class:`cyclr.rangetest.RangeTest` (ladder, smoothing and
divergence live there): before each batch it sets the optimizer's learning
rate to the next rung, after it records that batch's own loss. Afterwards the
model's weights and the optimizer's variables (its step count, slots and
learning rate) are what they were before, bit-for-bit (docs/semantics.md, *Restore*).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Literal, TypeVar

import keras
import numpy as np
import numpy.typing as npt

from cyclr.keras import backend
from cyclr.keras._fit_args import alias, batches_per_epoch, split_validation
from cyclr.keras._validation import has_batchnorm, validation_scores
from cyclr.rangetest import RangeTest, RangeTestResult, RangeTestSettings
from cyclr.rangetest.policies import optimizer_name
from cyclr.rangetest.settings import (
    DEFAULT_END_LR,
    DEFAULT_START_LR,
    checked_settings,
    resolve_monitor,
    with_start_lr,
)

__all__ = ["LRFinder", "find_lr"]

_Path = TypeVar("_Path", bound="str | os.PathLike[str]")


class LRFinder(keras.callbacks.Callback):
    """Learning-rate range test as a callback: ``model.fit(..., callbacks=[LRFinder()])``.

    With ``settings=None`` the ladder (1e-5 -> 10, or ``min_lr`` -> ``max_lr``) spans
    every batch of that ``fit`` (``steps * epochs``); with ``settings`` it has
    ``settings.num_steps`` rungs and ``fit`` is stopped there. The loss of a
    rung is the loss of the batch trained at that rate: Keras reports a running
    mean over the epoch in batch hooks, so the callback resets the model's
    metrics before every batch (the progress bar shows batch values).

    The test stops on a non-finite loss or divergence (docs/semantics.md, *The
    learning-rate range test*) by setting ``model.stop_training``. When ``fit``
    returns, weights and optimizer variables are restored. An exception ends ``fit`` without telling
    callbacks, so to restore after one use :func:`find_lr`, or the callback as
    a context manager::

        with LRFinder() as finder:
            model.fit(x, y, epochs=2, callbacks=[finder])

    The default ladder runs from 1e-5 to 10, the one ``result.bounds()`` was
    validated on; give the ``fit`` about 450 batches (``find_lr``'s default), or
    ``RangeTestSettings()`` (450 rungs), for the rungs it was validated with (75 per decade).

    Args: Ladder, smoothing, stop and reading: settings
      settings: the ladder, smoothing, stop, validation cadence (``val_every``) and
        the curve read (:class:`cyclr.RangeTestSettings`, docs/semantics.md, *The
        learning-rate range test*); ``None``: its defaults, the ladder spanning the
        ``fit``. ``monitor=None`` reads ``'val_loss'`` with ``validation_data``, else
        ``'loss'``; ``'val_accuracy'`` needs ``metrics=['accuracy']``.
        ``start_lr=None`` starts at the compiled optimizer's learning rate, read when
        ``fit`` begins. ``fine_tuning=True``: the model starts from trained weights and
        all of it trains; ``result.bounds()`` reads a factor 2 lower (docs/results.md,
        *Fine-tuning: the reading a factor 2 lower*).
      min_lr: the gist's name of the first rung, for its users (``LRFinder(min_lr=...,
        max_lr=...)`` works as there); refused with a ``settings.start_lr`` of its own.
      max_lr: the gist's name of the last rung (everywhere else in cyclr ``max_lr`` is
        the top of a cycle); refused with a ``settings.end_lr`` of its own.

    Args: Validation
      validation_data: ``(x, y)`` evaluated after the batch of every
        ``settings.val_every``-th rung from rung 0 (NaN at the others). Slow: keep
        it small (one batch of a few hundred examples reads well).
      validation_batch_size: batch size for the validation pass.
        Every ``BatchNormalization`` layer that trains (``trainable``) is measured
        with its moving averages recalibrated on ``validation_data`` first (a
        forward pass in training mode, dropout and noise layers off; the
        averages are put back afterwards): a range test's averages lag the
        weights by about ``1 / (1 - momentum)`` updates, which would make the
        validation loss rise far too early. A frozen layer keeps its averages.

    Args: Where the snapshot lives
      restore: put weights and optimizer variables back afterwards (default), from
        a copy in host memory taken when ``fit`` begins.

    Raises:
      ValueError: naming the parameter and the value received.

    Attributes:
      result: the :class:`cyclr.RangeTestResult`, once the test has ended; its
        ``optimizer`` is the class name of the model's optimizer (inside a
        ``LossScaleOptimizer``) and its ``batchnorm`` whether the model has
        ``BatchNormalization`` layers, which ``result.schedule(policy, ...)`` reads.
    """

    def __init__(
        self,
        settings: RangeTestSettings | None = None,
        *,
        validation_data: tuple[Any, Any] | list[Any] | None = None,
        validation_batch_size: int | None = None,
        restore: bool = True,
        min_lr: float | None = None,
        max_lr: float | None = None,
    ) -> None:
        super().__init__()
        # Validate everything now, not at the start of fit.
        self._spans_fit = settings is None  # the ladder's length is the fit's
        checked = checked_settings(settings)
        start = alias("min_lr", min_lr, "settings.start_lr", checked.start_lr, DEFAULT_START_LR)
        end = alias("max_lr", max_lr, "settings.end_lr", checked.end_lr, DEFAULT_END_LR)
        if (start, end) != (checked.start_lr, checked.end_lr):
            checked = dataclasses.replace(checked, start_lr=start, end_lr=end)
        if validation_data is not None and (
            not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2
        ):
            raise ValueError(
                "validation_data must be a pair (x, y); received "
                f"validation_data={type(validation_data).__name__}"
            )
        if checked.monitor not in (None, "loss") and validation_data is None:
            raise ValueError(
                f"settings.monitor={checked.monitor!r} reads a validation curve, which needs "
                "validation_data (find_lr: or validation_split); received validation_data=None"
            )
        self._settings = resolve_monitor(checked, validation_data is not None)
        self.validation_data = validation_data
        self.validation_batch_size = validation_batch_size
        self.restore_state = bool(restore)
        self.test: RangeTest | None = None
        self.result: RangeTestResult | None = None
        self._optimizer: str | None = None  # the class name of the fit's optimizer
        self._batchnorm: bool | None = None  # whether the model has BatchNorm layers
        self._saved: tuple[list[Any], list[npt.NDArray[Any]]] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Check the model, build the ladder, and save the state to restore."""
        model = self.model
        optimizer = model.optimizer
        if isinstance(
            getattr(optimizer, "_learning_rate", None),
            keras.optimizers.schedules.LearningRateSchedule,
        ):
            raise ValueError(
                "the range test sets the learning rate itself; compile with a "
                "float learning_rate; received learning_rate="
                f"{optimizer._learning_rate!r}"
            )
        if getattr(model, "steps_per_execution", 1) != 1:
            raise ValueError(
                "the range test needs one batch per step; received "
                f"steps_per_execution={model.steps_per_execution!r}"
            )
        self.test = RangeTest(self._run_settings(optimizer))
        self.result = None
        self._optimizer = optimizer_name(optimizer)  # a LossScaleOptimizer's inner one
        self._batchnorm = has_batchnorm(model)
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        backend.sync(model)
        variables = list(model.weights) + list(optimizer.variables)
        self._saved = (variables, backend.snapshot(variables))

    def _run_settings(self, optimizer: keras.optimizers.Optimizer) -> RangeTestSettings:
        """The settings of this fit's test: the fit's length, the optimizer's rate filled in."""
        settings = self._settings
        if self._spans_fit:
            steps, epochs = self.params.get("steps"), self.params.get("epochs")
            if not steps or not epochs:
                raise ValueError(
                    "cannot tell how many batches this fit runs; pass "
                    "settings=cyclr.RangeTestSettings(num_steps=...); received "
                    f"settings=None, steps={steps!r}"
                )
            settings = dataclasses.replace(settings, num_steps=int(steps) * int(epochs))
        if settings.start_lr is None:  # the compiled optimizer's rate, as it is now
            settings = with_start_lr(settings, backend.to_float(optimizer.learning_rate))
        return settings

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Set the learning rate of the next rung (or stop ``fit`` past the ladder)."""
        backend.sync(self.model)
        assert self.test is not None  # set by on_train_begin
        if self.test.done:  # fit ran on past the ladder
            self.model.stop_training = True
            return
        self.model.optimizer.learning_rate = self.test.next_lr
        # logs['loss'] is the mean since the last reset: make it this batch's loss
        self.model.reset_metrics()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Record the batch's loss (and validation scores); stop ``fit`` when the test stops."""
        assert self.test is not None  # set by on_train_begin
        if self.test.done:
            return
        assert logs is not None  # Keras passes the batch's logs
        loss = backend.to_float(logs["loss"])
        rung = self.test.rungs_recorded  # the rung this batch trained
        every = self.test.settings.val_every
        validate = self.validation_data is not None and rung % every == 0
        extra = self._validate() if validate else {}
        if not self.test.record(loss, **extra):
            self.model.stop_training = True

    def _validate(self) -> dict[str, float]:
        monitor = self._settings.monitor
        assert self.validation_data is not None and monitor is not None  # resolved in __init__
        return validation_scores(
            self.model, self.validation_data, self.validation_batch_size, monitor
        )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """End the test and restore the state (:meth:`finish`)."""
        self.finish()

    def finish(self) -> RangeTestResult | None:
        """End the test (``'interrupted'`` if it had not stopped) and restore the state.

        Called at the end of ``fit``; call it yourself after an exception, or use
        the callback as a context manager. Calling it twice is harmless.

        Returns:
          The :class:`cyclr.RangeTestResult`, or ``None`` if no ``fit`` started.
        """
        if self.test is None:
            return None
        if self._saved is not None:
            backend.sync(self.model)
            if self.restore_state:
                backend.restore(*self._saved)
            self._saved = None
        self.test.interrupt()
        self.result = self.test.result(self._optimizer, self._batchnorm)
        return self.result

    def __enter__(self) -> LRFinder:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.finish()
        return False

    # -- reading the result ----------------------------------------------------------------

    def _require_result(self) -> RangeTestResult:
        if self.result is None:
            raise RuntimeError(
                "the range test has not run yet: pass this LRFinder to "
                "model.fit(..., callbacks=[finder]) first"
            )
        return self.result

    @property
    def lrs(self) -> npt.NDArray[np.float64]:
        """The rungs run (``result.lrs``); raises ``RuntimeError`` before the test."""
        return self._require_result().lrs

    @property
    def losses(self) -> npt.NDArray[np.float64]:
        """The raw losses recorded (``result.losses``); raises ``RuntimeError`` before."""
        return self._require_result().losses

    def plot(self, path: _Path, **kwargs: Any) -> _Path:
        """Draw loss against learning rate, suggestions marked, to ``path``.

        Args:
          path: the image file; the format follows its suffix.
          **kwargs: as :meth:`cyclr.RangeTestResult.plot` (``monitor``, ``title``, ``dpi``).

        Returns:
          ``path``.

        Raises:
          RuntimeError: the test has not run yet.
        """
        return self._require_result().plot(path, **kwargs)


def find_lr(
    model: keras.Model,
    x: Any,
    y: Any = None,
    *,
    settings: RangeTestSettings | None = None,
    validation_data: tuple[Any, Any] | list[Any] | None = None,
    validation_split: float = 0.0,
    validation_batch_size: int | None = None,
    batch_size: int | None = None,
    verbose: int | str = 0,
    **fit_kwargs: Any,
) -> RangeTestResult:
    """Run a range test on a compiled ``model`` and return its :class:`cyclr.RangeTestResult`.

    ``x``/``y`` are whatever ``model.fit`` accepts: arrays, a ``tf.data.Dataset``,
    a ``keras.utils.PyDataset`` or a generator. It trains ``settings.num_steps``
    batches (passing over the data as often as needed), then puts the weights and
    optimizer variables back, also when an exception ends the fit.

    The default ladder, 1e-5 -> 10 in 450 rungs (75 per decade, for SGD and Adam
    alike), is the one ``result.bounds()`` was validated on by training (see
    docs/results.md, *Do the suggested bounds train well?*); the reading is the same on
    ladders of 100 to 1000 rungs within the seed-to-seed noise (docs/results.md, *The
    bounds on six ladders*), a few hundred rungs give it the most room.

    Args:
      model: a compiled Keras model with a float learning rate.
      x: the inputs, as ``model.fit`` takes them.
      y: the targets, if ``x`` does not carry them.

    Args: Ladder, smoothing, stop and reading: settings
      settings: the ladder (one batch a rung), smoothing, stop, validation cadence
        (``val_every``) and the curve read (:class:`cyclr.RangeTestSettings`,
        docs/semantics.md, *The learning-rate range test*); default
        ``RangeTestSettings()``. ``monitor=None`` reads ``'val_loss'`` with
        validation data, else ``'loss'``; ``'val_accuracy'`` needs
        ``metrics=['accuracy']``. ``start_lr=None`` starts at the compiled
        optimizer's learning rate. ``fine_tuning=True``: the model starts from
        trained weights and all of it trains; ``result.bounds()`` reads a factor 2
        lower (docs/results.md, *Fine-tuning: the reading a factor 2 lower*).

    Args: Validation
      validation_data: ``(x, y)`` evaluated after the batch of every
        ``settings.val_every``-th rung from rung 0 (NaN at the others). One batch of
        a few hundred held-out examples every 2 rungs (the default) costs little.
      validation_split: as in ``model.fit``, the last fraction of the arrays ``x``
        and ``y`` (before any shuffling) is held out, and it is the
        ``validation_data`` of the test (read for the bounds); ``0`` holds out none.
      validation_batch_size: batch size for the validation pass (Keras' default, 32);
        BatchNorm layers are recalibrated on ``validation_data`` first (see ``LRFinder``).

    Args: The step
      batch_size: as ``model.fit`` (Keras' default, 32, for arrays).
      **fit_kwargs: passed on to ``model.fit`` (``shuffle``, ``callbacks``...).

    Args: Output
      verbose: as ``model.fit``.

    Returns:
      The :class:`cyclr.RangeTestResult`; ``.bounds()`` gives the suggested bounds.

    Raises:
      ValueError: naming the parameter and the value received.
    """
    settings = checked_settings(settings)
    x, y, validation_data = split_validation(x, y, validation_data, validation_split)
    finder = LRFinder(
        settings,
        validation_data=validation_data,
        validation_batch_size=validation_batch_size,
    )
    num_steps = settings.num_steps
    per_epoch = batches_per_epoch(x, batch_size)
    if per_epoch is None:  # a generator: one "epoch" of num_steps batches
        fit_kwargs.setdefault("steps_per_epoch", num_steps)
        fit_kwargs.setdefault("shuffle", False)  # generators yield their own order
        epochs = 1
    else:
        epochs = math.ceil(num_steps / per_epoch)
    callbacks = [*(fit_kwargs.pop("callbacks", None) or []), finder]
    with finder:
        model.fit(
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            **fit_kwargs,
        )
    return finder._require_result()  # set when fit ends, by the with block at the latest
