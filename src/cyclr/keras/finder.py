"""The learning-rate range test for Keras: the ``LRFinder`` callback and ``find_lr``.

The callback drives :class:`cyclr.rangetest.RangeTest` (ladder, smoothing and
divergence live there): before each batch it sets the optimizer's learning
rate to the next rung, after it records that batch's own loss. Afterwards the
model's weights and the optimizer's variables (its step count, slots and
learning rate) are what they were before, bit-for-bit (docs/semantics.md, *Restore*).
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal, TypeVar

import keras
import numpy as np
import numpy.typing as npt

from cyclr._base import check_count
from cyclr.keras import backend
from cyclr.keras._fit_args import alias, batches_per_epoch, split_validation
from cyclr.keras._validation import validation_scores
from cyclr.rangetest import RangeTest, RangeTestResult
from cyclr.rangetest.settings import DEFAULT_END_LR, DEFAULT_NUM_STEPS, DEFAULT_START_LR

__all__ = ["LRFinder", "find_lr"]

_Path = TypeVar("_Path", bound="str | os.PathLike[str]")


class LRFinder(keras.callbacks.Callback):
    """Learning-rate range test as a callback: ``model.fit(..., callbacks=[LRFinder()])``.

    The ladder spans every batch of that ``fit`` (``steps * epochs``), or
    ``num_steps`` batches if given (``fit`` is stopped there). The loss of a
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
    ``num_steps`` that many, for the rungs it was validated with (75 per decade).

    Args:
      start_lr: the first rung.
      end_lr: the last rung.
      num_steps: rungs; default all batches of the ``fit``.
      step_mode: ``'exp'`` or ``'linear'``.
      beta: the smoothing decay; see :class:`cyclr.rangetest.RangeTest`.
      diverge_factor: the divergence threshold; see :class:`cyclr.rangetest.RangeTest`.
      min_steps_before_stop: the first rung checked for divergence; likewise.
      validation_data: ``(x, y)`` evaluated after the batch of every
        ``val_every``-th rung (NaN at the others), for ``monitor`` ``'val_loss'``
        or ``'val_accuracy'`` (needs ``metrics=['accuracy']``). Slow: keep it
        small (one batch of a few hundred examples reads well).
      monitor: the curve the suggestions read: ``'loss'`` (default without
        ``validation_data``), ``'val_loss'`` (default with it) or ``'val_accuracy'``.
      fine_tuning: the model starts from trained weights and all of it trains:
        ``result.bounds()`` reads a factor 2 lower (``BoundsSettings(fine_tuning=True)``,
        measured on four fine-tunings: docs/results.md, *Fine-tuning: the reading a
        factor 2 lower*).
      val_every: evaluate ``validation_data`` every this many rungs (from rung 0).
      validation_batch_size: batch size for the validation pass.
        Every ``BatchNormalization`` layer that trains (``trainable``) is measured
        with its moving averages recalibrated on ``validation_data`` first (a
        forward pass in training mode, dropout and noise layers off; the
        averages are put back afterwards): a range test's averages lag the
        weights by about ``1 / (1 - momentum)`` updates, which would make the
        validation loss rise far too early. A frozen layer keeps its averages.
      restore: put weights and optimizer variables back afterwards (default).
      min_lr: the gist's name of ``start_lr``, for its users (``LRFinder(min_lr,
        max_lr)`` works as there).
      max_lr: the gist's name of ``end_lr`` (everywhere else in cyclr ``max_lr`` is
        the top of a cycle).

    Raises:
      ValueError: naming the parameter and the value received.

    Attributes:
      result: the :class:`cyclr.RangeTestResult`, once the test has ended.
    """

    def __init__(
        self,
        start_lr: float = DEFAULT_START_LR,
        end_lr: float = DEFAULT_END_LR,
        num_steps: int | None = None,
        *,
        step_mode: str = "exp",
        beta: float = 0.98,
        diverge_factor: float = 4.0,
        min_steps_before_stop: int = 5,
        validation_data: tuple[Any, Any] | list[Any] | None = None,
        monitor: str | None = None,
        fine_tuning: bool = False,
        val_every: int = 1,
        validation_batch_size: int | None = None,
        restore: bool = True,
        min_lr: float | None = None,
        max_lr: float | None = None,
    ) -> None:
        super().__init__()
        start_lr = alias("min_lr", min_lr, "start_lr", start_lr, DEFAULT_START_LR)
        end_lr = alias("max_lr", max_lr, "end_lr", end_lr, DEFAULT_END_LR)
        if monitor is None:
            monitor = "loss" if validation_data is None else "val_loss"
        # Validate everything now, not at the start of fit.
        self._settings: dict[str, Any] = dict(
            start_lr=start_lr,
            end_lr=end_lr,
            step_mode=step_mode,
            beta=beta,
            diverge_factor=diverge_factor,
            min_steps_before_stop=min_steps_before_stop,
            monitor=monitor,
            fine_tuning=fine_tuning,
        )
        RangeTest(num_steps=2 if num_steps is None else num_steps, **self._settings)
        if monitor != "loss" and validation_data is None:
            raise ValueError(
                f"monitor={monitor!r} needs validation_data; received validation_data=None"
            )
        if validation_data is not None and (
            not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2
        ):
            raise ValueError(
                "validation_data must be a pair (x, y); received "
                f"validation_data={type(validation_data).__name__}"
            )
        self.num_steps = num_steps
        self.validation_data = validation_data
        self.val_every = check_count("val_every", val_every)
        self.validation_batch_size = validation_batch_size
        self.restore_state = bool(restore)
        self.test: RangeTest | None = None
        self.result: RangeTestResult | None = None
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
        num_steps = self.num_steps
        if num_steps is None:
            steps, epochs = self.params.get("steps"), self.params.get("epochs")
            if not steps or not epochs:
                raise ValueError(
                    "cannot tell how many batches this fit runs; pass "
                    f"num_steps; received num_steps=None, steps={steps!r}"
                )
            num_steps = int(steps) * int(epochs)
        self.test = RangeTest(num_steps=num_steps, **self._settings)
        self.result = None
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        backend.sync(model)
        variables = list(model.weights) + list(optimizer.variables)
        self._saved = (variables, backend.snapshot(variables))

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
        validate = self.validation_data is not None and rung % self.val_every == 0
        extra = self._validate() if validate else {}
        if not self.test.record(loss, **extra):
            self.model.stop_training = True

    def _validate(self) -> dict[str, float]:
        assert self.validation_data is not None  # only called with validation data
        return validation_scores(
            self.model,
            self.validation_data,
            self.validation_batch_size,
            self._settings["monitor"],
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
        self.result = self.test.result()
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
    batch_size: int | None = None,
    start_lr: float = DEFAULT_START_LR,
    end_lr: float = DEFAULT_END_LR,
    num_steps: int = DEFAULT_NUM_STEPS,
    step_mode: str = "exp",
    validation_data: tuple[Any, Any] | list[Any] | None = None,
    monitor: str | None = None,
    fine_tuning: bool = False,
    val_every: int = 1,
    validation_batch_size: int | None = None,
    beta: float = 0.98,
    diverge_factor: float = 4.0,
    min_steps_before_stop: int = 5,
    verbose: int | str = 0,
    **fit_kwargs: Any,
) -> RangeTestResult:
    """Run a range test on a compiled ``model`` and return its :class:`cyclr.RangeTestResult`.

    ``x``/``y`` are whatever ``model.fit`` accepts: arrays, a ``tf.data.Dataset``,
    a ``keras.utils.PyDataset`` or a generator. It trains ``num_steps`` batches
    (passing over the data as often as needed), then puts the weights and
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
      batch_size: as ``model.fit`` (Keras' default, 32, for arrays).
      start_lr: the first rung of the ladder (docs/semantics.md, *The learning-rate range test*).
      end_lr: the last rung.
      num_steps: the number of rungs, one batch each.
      step_mode: ``'exp'`` or ``'linear'``.
      validation_data: ``(x, y)`` evaluated after the batch of every
        ``val_every``-th rung (NaN at the others), for ``monitor`` ``'val_loss'``
        or ``'val_accuracy'`` (needs ``metrics=['accuracy']``). One batch of a
        few hundred held-out examples every 2 rungs costs little.
      monitor: the curve the suggestions read: ``'loss'`` (default without
        ``validation_data``), ``'val_loss'`` (default with it) or ``'val_accuracy'``.
      fine_tuning: the model starts from trained weights and all of it trains:
        ``result.bounds()`` reads a factor 2 lower (``BoundsSettings(fine_tuning=True)``,
        measured on four fine-tunings: docs/results.md, *Fine-tuning: the reading a
        factor 2 lower*).
      val_every: evaluate ``validation_data`` every this many rungs (from rung 0).
      validation_batch_size: batch size for the validation pass (Keras' default, 32);
        BatchNorm layers are recalibrated on ``validation_data`` first (see ``LRFinder``).
      beta: the smoothing decay (docs/semantics.md, *The learning-rate range test*).
      diverge_factor: stop once the smoothed loss exceeds this multiple of the best.
      min_steps_before_stop: the first rung (1-based) checked for divergence.
      verbose: as ``model.fit``.
      **fit_kwargs: passed on to ``model.fit`` (``shuffle``, ``callbacks``...), but
        ``validation_split``: as in ``model.fit``, the last fraction of the arrays
        ``x`` and ``y`` (before any shuffling) is held out, and it is the
        ``validation_data`` of the test (read for the bounds).

    Returns:
      The :class:`cyclr.RangeTestResult`; ``.bounds()`` gives the suggested bounds.

    Raises:
      ValueError: naming the parameter and the value received.
    """
    x, y, validation_data = split_validation(
        x, y, validation_data, fit_kwargs.pop("validation_split", None)
    )
    finder = LRFinder(
        start_lr=start_lr,
        end_lr=end_lr,
        num_steps=num_steps,
        step_mode=step_mode,
        beta=beta,
        diverge_factor=diverge_factor,
        min_steps_before_stop=min_steps_before_stop,
        validation_data=validation_data,
        monitor=monitor,
        fine_tuning=fine_tuning,
        val_every=val_every,
        validation_batch_size=validation_batch_size,
    )
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
