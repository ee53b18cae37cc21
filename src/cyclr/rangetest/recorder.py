"""The range-test recorder that framework adapters drive, one batch at a time."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from cyclr.rangetest.ladder import EMA, ladder_lr, lr_ladder
from cyclr.rangetest.result import RangeTestResult, RangeTestSettings
from cyclr.rangetest.settings import checked_settings


class RangeTest:
    """Walk a learning-rate ladder, smooth the losses, decide when to stop.

    An adapter sets the optimizer's learning rate to ``next_lr``, trains one
    batch, and passes that batch's loss to ``record``; it stops when ``record``
    returns ``False``. It stops on:

    - ``'non_finite_loss'``: the raw loss is NaN or infinite (at any rung);
    - ``'diverged'``: from rung ``min_steps_before_stop`` (1-based) on,
      ``smooth > best + (diverge_factor - 1) * |best|``, ``best`` the lowest
      smoothed loss so far (``smooth > 4 * best`` for positive losses);
    - ``'end_of_ladder'``: every rung was run;
    - ``'interrupted'``: the adapter called ``interrupt()`` (an exception, Ctrl-C).

    Args:
      settings: the ladder, smoothing and stop (``RangeTestSettings``; its defaults
        when ``None``). ``val_every`` and ``monitor`` are for the adapter that
        scores validation data (``record(loss, val_loss=...)``).

    Raises:
      ValueError: naming the parameter and the value received.

    >>> test = RangeTest(RangeTestSettings(1.0, 16.0, 5, beta=0.0, min_steps_before_stop=2))
    >>> [test.next_lr, test.record(2.0), test.next_lr, test.record(9.0)]
    [1.0, True, 2.0, False]
    >>> test.stop_reason, test.result().losses.tolist()
    ('diverged', [2.0, 9.0])
    """

    def __init__(self, settings: RangeTestSettings | None = None) -> None:
        self.settings = checked_settings(settings)
        if self.settings.start_lr is None:
            raise ValueError(
                "start_lr=None means the optimizer's own learning rate, which this recorder "
                "does not know; received settings.start_lr=None: give a rate"
            )
        self._start_lr: float = self.settings.start_lr
        self._ema = EMA(self.settings.beta)
        self._lrs: list[float] = []
        self._losses: list[float] = []
        self._smoothed: list[float] = []
        self._val_losses: list[float] = []
        self._val_accuracies: list[float] = []
        self.best = math.inf
        self.stop_reason: str | None = None

    # -- the ladder ------------------------------------------------------------------------

    @property
    def ladder(self) -> npt.NDArray[np.float64]:
        """The whole ladder (``num_steps`` rungs), whatever has been run.

        The rungs actually run are ``result().lrs``.
        """
        s = self.settings
        return lr_ladder(self._start_lr, s.end_lr, s.num_steps, s.step_mode)

    def lr(self, i: int) -> float:
        """The learning rate of rung ``i`` (0-based).

        Args:
          i: the rung, ``0 <= i < num_steps``.

        Returns:
          Its learning rate.

        Raises:
          IndexError: ``i`` outside ``[0, num_steps)``.
        """
        s = self.settings
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < s.num_steps:
            raise IndexError(f"rung must be an integer in [0, {s.num_steps}); received i={i!r}")
        return ladder_lr(int(i), self._start_lr, s.end_lr, s.num_steps, s.step_mode)

    @property
    def rungs_recorded(self) -> int:
        """How many rungs have been recorded (the index of the next rung to train)."""
        return len(self._losses)

    @property
    def done(self) -> bool:
        """Whether the test has stopped (``stop_reason`` says why)."""
        return self.stop_reason is not None

    @property
    def next_lr(self) -> float | None:
        """The learning rate to train the next batch at; ``None`` once done."""
        return None if self.done else self.lr(self.rungs_recorded)

    # -- recording -------------------------------------------------------------------------

    def record(self, loss: Any, *, val_loss: Any = None, val_accuracy: Any = None) -> bool:
        """Record the loss of the batch trained at ``next_lr``; return whether to go on.

        Args:
          loss: that batch's training loss (anything ``float()`` accepts).
          val_loss: the validation loss measured at this rung, if any.
          val_accuracy: the validation accuracy measured at this rung, if any.

        Returns:
          ``True`` to train the next rung, ``False`` once the test has stopped.

        Raises:
          RuntimeError: the test has already stopped.
          ValueError: ``loss`` is not a number.
        """
        if self.done:
            raise RuntimeError(
                f"the range test has stopped ({self.stop_reason}); start a new RangeTest"
            )
        value = _number("loss", loss)
        i = self.rungs_recorded
        self._lrs.append(self.lr(i))
        self._losses.append(value)
        self._record_metric(self._val_losses, "val_loss", val_loss)
        self._record_metric(self._val_accuracies, "val_accuracy", val_accuracy)
        smooth = self._ema.update(value)
        self._smoothed.append(smooth)
        s = self.settings
        if not math.isfinite(value):
            self.stop_reason = "non_finite_loss"
            return False
        self.best = min(self.best, smooth)
        if self.rungs_recorded >= s.min_steps_before_stop and smooth > self.best + (
            s.diverge_factor - 1.0
        ) * abs(self.best):
            self.stop_reason = "diverged"
        elif self.rungs_recorded == s.num_steps:
            self.stop_reason = "end_of_ladder"
        return not self.done

    def _record_metric(self, values: list[float], name: str, value: Any) -> None:
        # a metric first given at rung i > 0 is NaN before it; one skipped later is NaN there
        if value is None:
            if values:
                values.append(math.nan)
            return
        values.extend([math.nan] * (self.rungs_recorded - 1 - len(values)))
        values.append(_number(name, value))

    def interrupt(self) -> None:
        """Stop the test early (``stop_reason='interrupted'``); a stopped test is unchanged."""
        if not self.done:
            self.stop_reason = "interrupted"

    def result(
        self, optimizer: str | None = None, batchnorm: bool | None = None
    ) -> RangeTestResult:
        """The recorded curves and settings.

        Args:
          optimizer: the class name of the optimizer the test ran with, when known
            (:attr:`RangeTestResult.optimizer`).
          batchnorm: whether the model has BatchNorm layers, when known
            (:attr:`RangeTestResult.batchnorm`).

        Returns:
          A :class:`RangeTestResult` of the rungs recorded.

        Raises:
          RuntimeError: the test is still running (call ``interrupt()`` first).
        """
        if self.stop_reason is None:  # not done
            raise RuntimeError(
                f"the range test is still running ({self.rungs_recorded} of "
                f"{self.settings.num_steps} rungs); call interrupt() first"
            )

        def pad(values: list[float]) -> list[float] | None:
            # a metric measured at some rungs is NaN at the others; one never given is None
            return values + [math.nan] * (self.rungs_recorded - len(values)) if values else None

        return RangeTestResult(
            self._lrs,
            self._losses,
            self._smoothed,
            self.stop_reason,
            self.settings,
            pad(self._val_losses),
            pad(self._val_accuracies),
            optimizer,
            batchnorm,
        )


def _number(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; received {name}={value!r}") from None
