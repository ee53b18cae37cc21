"""Sweeps logged elsewhere, read into the parts of a range-test result.

The readers of :mod:`cyclr.rangetest.logged` (and ``RangeTestResult.from_csv``,
``.from_tensorboard``, ``.from_lightning``) are built on these: each returns a
:class:`Sweep`, the constructor arguments of the result, so this module needs no result
class. What is read and the errors are told in :mod:`cyclr.rangetest.logged`.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks
from cyclr.rangetest.ladder import check_beta, smooth_losses
from cyclr.rangetest.settings import RangeTestSettings

#: The column names (CSV) or tags (TensorBoard) tried, in order, when none is given.
LR_NAMES = ("lr", "learning_rate")
#: Likewise for the loss.
LOSS_NAMES = ("loss", "train_loss")

_Source = str | os.PathLike[str]


class Sweep(NamedTuple):
    """A logged sweep as ``RangeTestResult``'s arguments: ``RangeTestResult(*sweep)``."""

    lrs: npt.NDArray[np.float64]
    losses: npt.NDArray[np.float64]
    smoothed: npt.NDArray[np.float64]
    stop_reason: str
    settings: RangeTestSettings


def unsmooth(smoothed: npt.ArrayLike, beta: float, *, start: int = 0) -> npt.NDArray[np.float64]:
    """Undo the range test's debiased moving average: the raw losses that were smoothed.

    ::

        avg[i]  = smoothed[i] * (1 - beta ** (start + i + 1))
        loss[i] = (avg[i] - beta * avg[i-1]) / (1 - beta)        (avg[-1] = 0)

    ``start = 0`` inverts :func:`cyclr.rangetest.smooth_losses` (and fastai's smoothing);
    Lightning's finder debiases one step late (``start = 1``). A NaN is kept as NaN and
    skipped: the average carries on from the last finite value, as Lightning's does for a
    batch without a loss. The inversion multiplies rounding errors by about
    ``1 / (1 - beta)`` (50 for 0.98): float32 logs give raw losses to about 1e-5 relative.

    Args:
      smoothed: the smoothed losses, a 1-D sequence of numbers.
      beta: the decay they were smoothed with, in ``[0, 1)``.
      start: the exponent's offset (see above), ``>= 0``.

    Returns:
      The raw losses, a float64 array as long as ``smoothed``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> from cyclr.rangetest import smooth_losses
    >>> unsmooth(smooth_losses([3.0, 1.0, 2.0], beta=0.9), 0.9).round(12).tolist()
    [3.0, 1.0, 2.0]
    """
    values = _checks.vector("smoothed", smoothed)
    beta = check_beta(beta)
    start = _checks.count("start", start, 0)
    raw = np.full(values.shape, np.nan)
    previous, seen = 0.0, start
    for i, value in enumerate(values):
        if math.isnan(value):
            continue
        seen += 1
        avg = value * (1.0 - beta**seen)
        raw[i] = (avg - beta * previous) / (1.0 - beta)
        previous = avg
    return raw


def _ladder_mode(lrs: npt.NDArray[np.float64]) -> str:
    """``'linear'`` when the rates are evenly spaced, else ``'exp'`` (informative only)."""
    if lrs.size < 3:
        return "exp"
    steps = np.diff(lrs)
    return "linear" if np.allclose(steps, steps.mean(), rtol=1e-3, atol=0.0) else "exp"


def sweep(
    source: str,
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    *,
    smoothed_beta: float | None,
    start: int = 0,
    stop_reason: str | None = None,
) -> Sweep:
    """The parts of the result of one logged sweep; ``source`` names it in every error."""
    rates = _checks.vector("lrs", lrs)
    values = _checks.vector("losses", losses)
    if rates.size < 2:
        raise ValueError(
            f"{source}: a range test needs at least 2 logged points; received {rates.size}"
        )
    if not np.all(np.isfinite(rates)) or rates[0] <= 0.0 or np.any(np.diff(rates) <= 0.0):
        shown = rates.tolist() if rates.size <= 12 else [*rates[:12].tolist(), "..."]
        raise ValueError(
            f"{source}: the learning rates must be finite, > 0 and strictly increasing, "
            f"one per rung of the sweep; received lrs={shown!r}"
        )
    if smoothed_beta is not None:
        beta = _checks.real("smoothed_beta", smoothed_beta)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"smoothed_beta must be in [0, 1); received smoothed_beta={beta!r}")
        values = unsmooth(values, beta, start=start)
    settings = RangeTestSettings(
        start_lr=float(rates[0]),
        end_lr=float(rates[-1]),
        num_steps=int(rates.size),
        step_mode=_ladder_mode(rates),
    )
    if stop_reason is None:
        stop_reason = "end_of_ladder" if np.all(np.isfinite(values)) else "non_finite_loss"
    return Sweep(rates, values, smooth_losses(values, settings.beta), stop_reason, settings)


def _pick(kind: str, given: str | None, defaults: Sequence[str], found: Sequence[str]) -> str:
    """The column or tag to read: ``given``, or the first of ``defaults`` that is there."""
    if given is not None:
        if not isinstance(given, str):
            raise ValueError(f"{kind} must be a string; received {kind}={given!r}")
        return given
    for name in defaults:
        if name in found:
            return name
    return defaults[0]  # missing: the caller's error lists what was found


def _asked(kind: str, name: str, given: str | None, defaults: Sequence[str]) -> str:
    """What was looked for, for an error: ``lr_column='x'`` or the defaults tried."""
    if given is not None:
        return f"{kind}={name!r}"
    return f"{kind} (none given; tried {', '.join(map(repr, defaults))})"


# -- CSV ---------------------------------------------------------------------------------


def csv_sweep(
    path: _Source,
    *,
    lr_column: str | None = None,
    loss_column: str | None = None,
    smoothed_beta: float | None = None,
    delimiter: str = ",",
) -> Sweep:
    """:func:`cyclr.rangetest.logged.read_csv`'s parts of the result."""
    name = os.fspath(path)
    with open(name, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = [cell.strip() for cell in next(reader, [])]
        lr_name = _pick("lr_column", lr_column, LR_NAMES, header)
        loss_name = _pick("loss_column", loss_column, LOSS_NAMES, header)
        for kind, column, given, defaults in (
            ("lr_column", lr_name, lr_column, LR_NAMES),
            ("loss_column", loss_name, loss_column, LOSS_NAMES),
        ):
            if column not in header:
                raise ValueError(
                    f"{name}: no column {_asked(kind, column, given, defaults)}; "
                    f"the columns found are {header!r}"
                )
        i_lr, i_loss = header.index(lr_name), header.index(loss_name)
        lrs: list[float] = []
        losses: list[float] = []
        for row_number, row in enumerate(reader, start=2):
            cells = [row[i].strip() if i < len(row) else "" for i in (i_lr, i_loss)]
            if not cells[0] or not cells[1]:
                continue
            numbers = []
            for column, cell in zip((lr_name, loss_name), cells, strict=True):
                try:
                    numbers.append(float(cell))
                except ValueError:
                    raise ValueError(
                        f"{name}, line {row_number}: column {column!r} must hold a number; "
                        f"received {cell!r}"
                    ) from None
            lrs.append(numbers[0])
            losses.append(numbers[1])
    return sweep(name, lrs, losses, smoothed_beta=smoothed_beta)


# -- TensorBoard -------------------------------------------------------------------------


def _event_accumulator(source: Path) -> Any:
    try:
        from tensorboard.backend.event_processing import (  # type: ignore[import-untyped]
            event_accumulator,
        )
    except ImportError:
        raise ImportError(
            "RangeTestResult.from_tensorboard reads event files with the tensorboard "
            "package, which is not installed: pip install tensorboard"
        ) from None
    accumulator = event_accumulator.EventAccumulator(
        str(source),
        size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0},
    )
    accumulator.Reload()
    return accumulator


def _scalar_series(accumulator: Any) -> dict[str, dict[int, float]]:
    """``{tag: {step: value}}`` of every scalar, written as a scalar or a 0-d tensor."""
    from tensorboard.util import tensor_util  # type: ignore[import-untyped]

    tags = accumulator.Tags()
    series: dict[str, dict[int, float]] = {}
    for tag in tags.get("scalars", []):
        series[tag] = {int(e.step): float(e.value) for e in accumulator.Scalars(tag)}
    for tag in tags.get("tensors", []):
        points: dict[int, float] = {}
        for event in accumulator.Tensors(tag):
            try:
                array = tensor_util.make_ndarray(event.tensor_proto)
            except (TypeError, ValueError):
                break
            if array.size != 1 or not np.issubdtype(array.dtype, np.number):
                break  # not a scalar (Keras' model summary text, histograms)
            points[int(event.step)] = float(array.reshape(()))
        else:
            if points:
                series[tag] = points
    return series


def tensorboard_sweep(
    logdir_or_file: _Source,
    *,
    lr_tag: str | None = None,
    loss_tag: str | None = None,
    smoothed_beta: float | None = None,
) -> Sweep:
    """:func:`cyclr.rangetest.logged.read_tensorboard`'s parts of the result."""
    source = Path(os.fspath(logdir_or_file))
    if not source.exists():
        raise FileNotFoundError(f"no such TensorBoard folder or file: {str(source)!r}")
    series = _scalar_series(_event_accumulator(source))
    found = sorted(series)
    lr_name = _pick("lr_tag", lr_tag, LR_NAMES, found)
    loss_name = _pick("loss_tag", loss_tag, LOSS_NAMES, found)
    for kind, tag, given, defaults in (
        ("lr_tag", lr_name, lr_tag, LR_NAMES),
        ("loss_tag", loss_name, loss_tag, LOSS_NAMES),
    ):
        if tag in series:
            continue
        message = (
            f"{source}: no scalar {_asked(kind, tag, given, defaults)}; "
            f"the scalar tags found are {found!r}"
        )
        if not found and source.is_dir():
            runs = sorted(
                str(p.parent.relative_to(source))
                for p in source.rglob("*tfevents*")
                if p.parent != source
            )
            if runs:
                message += f"; event files are in the subfolders {sorted(set(runs))!r}: pass one"
        raise ValueError(message)
    lrs, losses = series[lr_name], series[loss_name]
    steps = sorted(set(lrs) & set(losses))
    if not steps:
        raise ValueError(
            f"{source}: no step has both {lr_name!r} (steps {min(lrs)}..{max(lrs)}) and "
            f"{loss_name!r} (steps {min(losses)}..{max(losses)})"
        )
    return sweep(
        str(source),
        [lrs[s] for s in steps],
        [losses[s] for s in steps],
        smoothed_beta=smoothed_beta,
    )


# -- Lightning ---------------------------------------------------------------------------

#: The decay of Lightning's ``lr_find`` smoothing (``_LRCallback(beta=0.98)``).
_LIGHTNING_BETA = 0.98
#: Lightning's default ``early_stop_threshold``: it stops once ``smoothed > 4 * best``.
_LIGHTNING_THRESHOLD = 4.0


def lightning_sweep(lr_finder: Any, *, start_step: int = 0) -> Sweep:
    """:func:`cyclr.rangetest.logged.read_lightning`'s parts of the result."""
    results = getattr(lr_finder, "results", None)
    if (
        not isinstance(results, Mapping)
        or not isinstance(results.get("lr"), Sequence)
        or not isinstance(results.get("loss"), Sequence)
    ):
        keys = sorted(results) if isinstance(results, Mapping) else None
        raise ValueError(
            "lr_finder must be what Lightning's Tuner.lr_find returned, with "
            "results['lr'] and results['loss'] lists; received lr_finder of type "
            f"{type(lr_finder).__name__} with results keys {keys!r}"
        )
    lrs, losses = list(results["lr"]), list(results["loss"])
    if len(lrs) != len(losses):
        raise ValueError(
            "lr_finder.results must hold one loss per lr; received "
            f"{len(lrs)} lr and {len(losses)} loss values"
        )
    start_step = _checks.count("start_step", start_step, 0)
    logged = _checks.vector("losses", losses)
    raw = unsmooth(logged, _LIGHTNING_BETA, start=start_step + 1)
    planned = getattr(lr_finder, "num_training", None)
    stop_reason = None
    if not np.all(np.isfinite(logged)):
        stop_reason = "non_finite_loss"
    elif isinstance(planned, int) and len(lrs) < planned:
        # short: Lightning's divergence rule (its default threshold), or out of batches
        best = np.min(logged[:-1]) if logged.size > 1 else np.inf
        stop_reason = "diverged" if logged[-1] > _LIGHTNING_THRESHOLD * best else "interrupted"
    return sweep(
        f"lr_finder ({type(lr_finder).__name__})",
        lrs,
        raw,
        smoothed_beta=None,
        stop_reason=stop_reason,
    )
