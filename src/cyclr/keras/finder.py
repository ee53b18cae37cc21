"""The learning-rate range test for Keras: the ``LRFinder`` callback and ``find_lr``.

The callback drives :class:`cyclr.rangetest.RangeTest` (ladder, smoothing and
divergence live there): before each batch it sets the optimizer's learning
rate to the next rung, after it records that batch's own loss. Afterwards the
model's weights and the optimizer's variables (its step count, slots and
learning rate) are what they were before, bit-for-bit (SPEC.md).
"""
from __future__ import annotations

import math

import keras
import numpy as np

from cyclr.keras import _backend
from cyclr.rangetest import RangeTest, RangeTestResult

__all__ = ["LRFinder", "find_lr"]


class LRFinder(keras.callbacks.Callback):
    """Learning-rate range test as a callback: ``model.fit(..., callbacks=[LRFinder()])``.

    The ladder spans every batch of that ``fit`` (``steps * epochs``), or
    ``num_steps`` batches if given (``fit`` is stopped there). The loss of a
    rung is the loss of the batch trained at that rate: Keras reports a running
    mean over the epoch in batch hooks, so the callback resets the model's
    metrics before every batch (the progress bar shows batch values).

    The test stops on a non-finite loss or divergence (SPEC.md) by setting
    ``model.stop_training``. When ``fit`` returns, weights and optimizer
    variables are restored. An exception ends ``fit`` without telling
    callbacks, so to restore after one use :func:`find_lr`, or the callback as
    a context manager::

        with LRFinder(1e-4, 1.0) as finder:
            model.fit(x, y, epochs=2, callbacks=[finder])

    Args:
      min_lr, max_lr: the first and last rung.
      num_steps: rungs; default all batches of the ``fit``.
      step_mode: ``'exp'`` or ``'linear'``.
      beta, diverge_factor, min_steps_before_stop: see :class:`cyclr.rangetest.RangeTest`.
      validation_data: ``(x, y)`` evaluated after every batch, for ``monitor``
        ``'val_loss'`` or ``'val_accuracy'`` (needs ``metrics=['accuracy']``).
        Slow: keep it small.
      monitor: the curve the suggestions read: ``'loss'``, ``'val_loss'``, ``'val_accuracy'``.
      validation_batch_size: batch size for the validation pass.
      restore: put weights and optimizer variables back afterwards (default).

    Attributes:
      result: the :class:`cyclr.RangeTestResult`, once the test has ended.
    """

    def __init__(self, min_lr=1e-4, max_lr=1.0, num_steps=None, *, step_mode="exp",
                 beta=0.98, diverge_factor=4.0, min_steps_before_stop=5,
                 validation_data=None, monitor="loss", validation_batch_size=None,
                 restore=True):
        super().__init__()
        # Validate everything now, not at the start of fit.
        self._settings = dict(start_lr=min_lr, end_lr=max_lr, step_mode=step_mode, beta=beta,
                              diverge_factor=diverge_factor,
                              min_steps_before_stop=min_steps_before_stop, monitor=monitor)
        RangeTest(num_steps=2 if num_steps is None else num_steps, **self._settings)
        if monitor != "loss" and validation_data is None:
            raise ValueError(f"monitor={monitor!r} needs validation_data; received "
                             "validation_data=None")
        if validation_data is not None and (not isinstance(validation_data, (tuple, list))
                                            or len(validation_data) != 2):
            raise ValueError("validation_data must be a pair (x, y); received "
                             f"validation_data={type(validation_data).__name__}")
        self.num_steps = num_steps
        self.validation_data = validation_data
        self.validation_batch_size = validation_batch_size
        self.restore_state = bool(restore)
        self.test: RangeTest | None = None
        self.result: RangeTestResult | None = None
        self._saved = None

    # -- lifecycle -------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        model = self.model
        optimizer = model.optimizer
        if isinstance(getattr(optimizer, "_learning_rate", None),
                      keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError("the range test sets the learning rate itself; compile with a "
                             "float learning_rate; received learning_rate="
                             f"{optimizer._learning_rate!r}")
        if getattr(model, "steps_per_execution", 1) != 1:
            raise ValueError("the range test needs one batch per step; received "
                             f"steps_per_execution={model.steps_per_execution!r}")
        num_steps = self.num_steps
        if num_steps is None:
            steps, epochs = self.params.get("steps"), self.params.get("epochs")
            if not steps or not epochs:
                raise ValueError("cannot tell how many batches this fit runs; pass "
                                 f"num_steps; received num_steps=None, steps={steps!r}")
            num_steps = int(steps) * int(epochs)
        self.test = RangeTest(num_steps=num_steps, **self._settings)
        self.result = None
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        _backend.sync(model)
        variables = list(model.weights) + list(optimizer.variables)
        self._saved = (variables, _backend.snapshot(variables))

    def on_train_batch_begin(self, batch, logs=None):
        _backend.sync(self.model)
        if self.test.done:  # fit ran on past the ladder
            self.model.stop_training = True
            return
        self.model.optimizer.learning_rate = self.test.next_lr
        # logs['loss'] is the mean since the last reset: make it this batch's loss
        self.model.reset_metrics()

    def on_train_batch_end(self, batch, logs=None):
        if self.test.done:
            return
        loss = _backend.to_float(logs["loss"])
        extra = self._validate() if self.validation_data is not None else {}
        if not self.test.record(loss, **extra):
            self.model.stop_training = True

    def _validate(self) -> dict:
        _backend.sync(self.model)
        x, y = self.validation_data
        scores = self.model.evaluate(x, y, batch_size=self.validation_batch_size, verbose=0,
                                     return_dict=True)
        if keras.backend.backend() == "torch":
            self.model.train()  # evaluate leaves torch modules in eval mode
        out = {"val_loss": float(scores["loss"])}
        if "accuracy" in scores:
            out["val_accuracy"] = float(scores["accuracy"])
        elif self._settings["monitor"] == "val_accuracy":
            raise ValueError("monitor='val_accuracy' needs the model compiled with "
                             f"metrics=['accuracy']; evaluate returned {sorted(scores)}")
        return out

    def on_train_end(self, logs=None):
        self.finish()

    def finish(self) -> RangeTestResult | None:
        """End the test (``'interrupted'`` if it had not stopped) and restore the state.

        Called at the end of ``fit``; call it yourself after an exception, or use
        the callback as a context manager. Calling it twice is harmless.
        """
        if self.test is None:
            return None
        if self._saved is not None:
            _backend.sync(self.model)
            if self.restore_state:
                _backend.restore(*self._saved)
            self._saved = None
        self.test.interrupt()
        self.result = self.test.result()
        return self.result

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.finish()
        return False

    # -- reading the result ----------------------------------------------------------------

    def _require_result(self) -> RangeTestResult:
        if self.result is None:
            raise RuntimeError("the range test has not run yet: pass this LRFinder to "
                               "model.fit(..., callbacks=[finder]) first")
        return self.result

    @property
    def lrs(self) -> np.ndarray:
        return self._require_result().lrs

    @property
    def losses(self) -> np.ndarray:
        return self._require_result().losses

    def suggest_bounds(self, monitor=None) -> tuple[float, float]:
        """``(base_lr, max_lr)`` for a cyclical schedule, read off the curve."""
        bounds = self._require_result().bounds(monitor)
        return bounds.base_lr, bounds.max_lr

    def plot(self, path, **kwargs):
        """Draw loss against learning rate, suggestions marked, to ``path``."""
        return self._require_result().plot(path, **kwargs)


def _batches_per_epoch(x, batch_size):
    """Batches in one pass over ``x``, or ``None`` for a generator of unknown length."""
    if isinstance(x, np.ndarray) or hasattr(x, "shape"):
        return math.ceil(len(x) / (batch_size or 32))
    if isinstance(x, (list, tuple, dict)):
        first = next(iter(x.values())) if isinstance(x, dict) else x[0]
        return math.ceil(len(first) / (batch_size or 32))
    try:
        n = len(x)
    except TypeError:
        return None
    return n if n > 0 else None


def find_lr(model, x, y=None, *, batch_size=None, start_lr=1e-7, end_lr=10.0, num_steps=100,
            step_mode="exp", validation_data=None, monitor="loss", beta=0.98,
            diverge_factor=4.0, min_steps_before_stop=5, verbose=0, **fit_kwargs):
    """Run a range test on a compiled ``model`` and return its :class:`cyclr.RangeTestResult`.

    ``x``/``y`` are whatever ``model.fit`` accepts: arrays, a ``tf.data.Dataset``,
    a ``keras.utils.PyDataset`` or a generator. It trains ``num_steps`` batches
    (passing over the data as often as needed), then puts the weights and
    optimizer variables back, also when an exception ends the fit.

    Args:
      model: a compiled Keras model with a float learning rate.
      start_lr, end_lr, num_steps, step_mode, beta, diverge_factor,
      min_steps_before_stop: the ladder and stopping rule (SPEC.md).
      validation_data, monitor: read ``'val_loss'`` or ``'val_accuracy'`` on
        ``validation_data`` after every batch instead of the training loss.
      fit_kwargs: passed on to ``model.fit`` (``shuffle``, ``callbacks``...).

    Returns:
      The :class:`cyclr.RangeTestResult`; ``.bounds()`` gives the suggested bounds.

    Raises:
      ValueError: naming the parameter and the value received.
    """
    finder = LRFinder(start_lr, end_lr, num_steps, step_mode=step_mode, beta=beta,
                      diverge_factor=diverge_factor, min_steps_before_stop=min_steps_before_stop,
                      validation_data=validation_data, monitor=monitor)
    per_epoch = _batches_per_epoch(x, batch_size)
    if per_epoch is None:  # a generator: one "epoch" of num_steps batches
        fit_kwargs.setdefault("steps_per_epoch", finder.num_steps)
        fit_kwargs.setdefault("shuffle", False)  # generators yield their own order
        epochs = 1
    else:
        epochs = math.ceil(finder.num_steps / per_epoch)
    callbacks = list(fit_kwargs.pop("callbacks", None) or []) + [finder]
    with finder:
        model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                  callbacks=callbacks, **fit_kwargs)
    return finder.result
