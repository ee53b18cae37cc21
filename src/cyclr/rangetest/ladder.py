"""The range test's learning-rate ladder and its loss smoothing.

The rules are in docs/semantics.md, *The learning-rate range test*.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks

STEP_MODES = ("exp", "linear")


def check_ladder(
    start_lr: Any, end_lr: Any, num_steps: Any, step_mode: Any = "exp"
) -> tuple[float, float, int, str]:
    """Validate ladder settings; return them normalized ``(start, end, n, mode)``.

    Args:
      start_lr: the first rung; ``> 0`` for ``exp``, ``>= 0`` for ``linear``.
      end_lr: the last rung, ``> start_lr``.
      num_steps: the number of rungs, ``>= 2``.
      step_mode: ``'exp'`` (geometric) or ``'linear'``.

    Returns:
      ``(start_lr, end_lr, num_steps, step_mode)`` as float, float, int and str.

    Raises:
      ValueError: naming the parameter and the value received.
    """
    step_mode = _checks.choice("step_mode", step_mode, STEP_MODES)
    start_lr = _checks.real("start_lr", start_lr)
    end_lr = _checks.real("end_lr", end_lr)
    num_steps = _checks.count("num_steps", num_steps, 2)
    if step_mode == "exp" and start_lr <= 0.0:
        raise ValueError(
            f"start_lr must be > 0 for step_mode='exp'; received start_lr={start_lr!r}"
        )
    if start_lr < 0.0:
        raise ValueError(f"start_lr must be >= 0; received start_lr={start_lr!r}")
    if end_lr <= start_lr:
        raise ValueError(
            "end_lr must be greater than start_lr; received "
            f"start_lr={start_lr!r}, end_lr={end_lr!r}"
        )
    return start_lr, end_lr, num_steps, step_mode


def ladder_lr(
    i: int, start_lr: float, end_lr: float, num_steps: int, step_mode: str = "exp"
) -> float:
    """The learning rate of rung ``i`` (0-based) of a ladder; no validation.

    ``exp``: ``start * (end/start)**(i/(n-1))``; ``linear``: ``start + (end-start)*i/(n-1)``.
    The last rung returns ``end_lr`` exactly.

    Args:
      i: the rung, ``0 <= i < num_steps``.
      start_lr: the first rung.
      end_lr: the last rung.
      num_steps: the number of rungs, ``>= 2``.
      step_mode: ``'exp'`` or ``'linear'``.

    Returns:
      The rung's learning rate.
    """
    if i == num_steps - 1:
        return float(end_lr)
    t = i / (num_steps - 1)
    if step_mode == "exp":
        return float(start_lr * (end_lr / start_lr) ** t)
    return float(start_lr + (end_lr - start_lr) * t)


def lr_ladder(
    start_lr: float, end_lr: float, num_steps: int, step_mode: str = "exp"
) -> npt.NDArray[np.float64]:
    """The ``num_steps`` learning rates of a range test, both end points included.

    ::

        exp:    lr[i] = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))
        linear: lr[i] = start_lr + (end_lr - start_lr) * i / (num_steps - 1)

    Smith's linear test is ``step_mode='linear'`` with ``step_size = num_steps``.

    Args:
      start_lr: the first rung; ``> 0`` for ``exp``, ``>= 0`` for ``linear``.
      end_lr: the last rung, ``> start_lr``.
      num_steps: the number of rungs, ``>= 2``.
      step_mode: ``'exp'`` (geometric) or ``'linear'``.

    Returns:
      A float64 array, strictly increasing, ``lr[0] == start_lr``, ``lr[-1] == end_lr``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> lr_ladder(1.0, 16.0, 5).tolist()
    [1.0, 2.0, 4.0, 8.0, 16.0]
    >>> lr_ladder(0.0, 3.0, 4, step_mode="linear").tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    start_lr, end_lr, num_steps, step_mode = check_ladder(start_lr, end_lr, num_steps, step_mode)
    return np.array(
        [ladder_lr(i, start_lr, end_lr, num_steps, step_mode) for i in range(num_steps)],
        dtype=np.float64,
    )


def check_beta(beta: Any) -> float:
    """Return ``beta`` as a float in ``[0, 1)``, or raise ``ValueError`` naming it.

    Args:
      beta: the smoothing decay received.

    Returns:
      ``beta`` as a float.

    Raises:
      ValueError: ``beta`` is not a real number in ``[0, 1)``.
    """
    decay = _checks.real("beta", beta)
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"beta must be in [0, 1); received beta={decay!r}")
    return decay


class EMA:
    """The debiased exponential moving average, one value at a time.

    ::

        avg    = beta * avg + (1 - beta) * loss        (avg starts at 0)
        smooth = avg / (1 - beta ** (i + 1))           (i: 0-based count)

    Args:
      beta: the decay, in ``[0, 1)``.

    Raises:
      ValueError: ``beta`` outside ``[0, 1)``.

    >>> ema = EMA(0.5)
    >>> [ema.update(x) for x in (2.0, 2.0, 0.25)]
    [2.0, 2.0, 1.0]
    """

    def __init__(self, beta: float = 0.98) -> None:
        self.beta = check_beta(beta)
        self.count = 0
        self._avg = 0.0

    def update(self, value: float) -> float:
        """Add ``value``; return the smoothed value including it.

        Args:
          value: the next raw value.

        Returns:
          The debiased average of every value so far.
        """
        self._avg = self.beta * self._avg + (1.0 - self.beta) * float(value)
        self.count += 1
        return self._avg / (1.0 - self.beta**self.count)


def smooth_losses(losses: npt.ArrayLike, beta: float = 0.98) -> npt.NDArray[np.float64]:
    """Smooth a loss curve with the debiased exponential moving average.

    The range test's smoothing (docs/semantics.md, *The learning-rate range test*).

    ::

        avg[i]    = beta * avg[i-1] + (1 - beta) * loss[i]     (avg[-1] = 0)
        smooth[i] = avg[i] / (1 - beta ** (i + 1))

    ``smooth[i]`` is the weighted mean of ``loss[0..i]`` with weights ``beta**(i-j)``;
    ``beta = 0`` returns the losses unchanged. A non-finite loss makes every later
    value non-finite, as it does in the recorder.

    Args:
      losses: a 1-D sequence of numbers.
      beta: the decay, in ``[0, 1)``.

    Returns:
      A float64 array of the same length.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> smooth_losses([2.0, 2.0, 0.25], beta=0.5).tolist()
    [2.0, 2.0, 1.0]
    """
    values = _checks.vector("losses", losses)
    ema = EMA(beta)
    return np.array([ema.update(v) for v in values], dtype=np.float64)
