"""Range-test results from sweeps logged elsewhere: a CSV file, TensorBoard events, Lightning.

Each reader returns a :class:`~cyclr.RangeTestResult`, so ``result.bounds()``,
``result.suggestions()``, ``result.plot(path)`` and ``result.to_json(path)`` read a sweep
without running it again. They are also classmethods of the result:
``RangeTestResult.from_csv``, ``.from_tensorboard`` and ``.from_lightning``.

What the readers make of a sweep:

- one rung per logged point, in the order of the file (CSV) or of the step (TensorBoard);
  the learning rates must be finite, positive and strictly increasing, as cyclr's own ladder;
- ``losses`` are the raw losses. A logger that smoothed them already (fastai, Lightning:
  the range test's debiased moving average with ``beta = 0.98``, docs/semantics.md, *The
  learning-rate range test*) lags the curve by tens of rungs, and cyclr's readings smooth
  again; give ``smoothed_beta`` and the smoothing is undone exactly (``from_lightning``
  does it by itself). ``smoothed`` is then cyclr's own smoothing of the raw losses;
- ``stop_reason`` is ``'non_finite_loss'`` when a loss is NaN or infinite, else
  ``'end_of_ladder'`` (``from_lightning`` also knows ``'diverged'``); ``settings`` describe
  the ladder that ran: its first and last rate, its length, and ``step_mode`` ``'linear'``
  when the rates are evenly spaced, else ``'exp'``.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "sweep.csv")
>>> with open(path, "w") as f:
...     for line in ("step,lr,loss", "0,0.001,2.0", "1,0.01,1.5", "2,0.1,3.0"):
...         print(line, file=f)
>>> r = read_csv(path)
>>> r.lrs.tolist(), r.losses.tolist(), r.settings.step_mode
([0.001, 0.01, 0.1], [2.0, 1.5, 3.0], 'exp')
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cyclr.rangetest import _checks
from cyclr.rangetest.ladder import check_beta, smooth_losses
from cyclr.rangetest.result import RangeTestResult
from cyclr.rangetest.settings import RangeTestSettings

__all__ = [
    "LOSS_NAMES",
    "LR_NAMES",
    "read_csv",
    "read_lightning",
    "read_tensorboard",
    "unsmooth",
]

#: The column names (CSV) or tags (TensorBoard) tried, in order, when none is given.
LR_NAMES = ("lr", "learning_rate")
#: Likewise for the loss.
LOSS_NAMES = ("loss", "train_loss")

_Source = str | os.PathLike[str]


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


def _result(
    source: str,
    lrs: npt.ArrayLike,
    losses: npt.ArrayLike,
    *,
    smoothed_beta: float | None,
    start: int = 0,
    stop_reason: str | None = None,
) -> RangeTestResult:
    """The result of one logged sweep; ``source`` names it in every error."""
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
    return RangeTestResult(
        rates, values, smooth_losses(values, settings.beta), stop_reason, settings
    )


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


def read_csv(
    path: _Source,
    *,
    lr_column: str | None = None,
    loss_column: str | None = None,
    smoothed_beta: float | None = None,
    delimiter: str = ",",
) -> RangeTestResult:
    """A range-test result from a CSV file with one row per rung.

    Rows where the learning rate or the loss cell is empty are skipped (a logger
    that writes other metrics on rows of their own, as Lightning's ``CSVLogger``,
    leaves them blank); ``nan`` and ``inf`` are read as such.

    Args:
      path: the CSV file, with a header row.
      lr_column: the learning-rate column; default the first of ``'lr'``,
        ``'learning_rate'`` found in the header.
      loss_column: the loss column; default the first of ``'loss'``, ``'train_loss'``.
      smoothed_beta: the decay of a debiased moving average the losses were already
        smoothed with (0.98 for fastai); it is undone (:func:`unsmooth`). ``None``:
        the losses are raw.
      delimiter: the field separator.

    Returns:
      The :class:`~cyclr.RangeTestResult` of the sweep.

    Raises:
      OSError: the file cannot be read.
      ValueError: a missing column (naming the file, the column asked for and the
        columns found), a cell that is not a number (naming its row), fewer than 2
        rungs, or rates that are not positive and strictly increasing.
    """
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
    return _result(name, lrs, losses, smoothed_beta=smoothed_beta)


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


def read_tensorboard(
    logdir_or_file: _Source,
    *,
    lr_tag: str | None = None,
    loss_tag: str | None = None,
    smoothed_beta: float | None = None,
) -> RangeTestResult:
    """A range-test result from TensorBoard scalars, the lr and the loss paired by step.

    Reads one run: a folder's own event files (not its subfolders), or one event
    file. Scalars written by ``torch.utils.tensorboard.SummaryWriter.add_scalar``
    and by ``tf.summary.scalar`` (Keras' ``TensorBoard``) are both read; a step
    logged under one tag only is left out. Keras' ``batch_loss`` is the running
    mean of the epoch, not the batch's loss: log the batch loss itself.

    Args:
      logdir_or_file: the run's folder, or an ``events.out.tfevents.*`` file.
      lr_tag: the learning-rate tag; default the first of ``'lr'``,
        ``'learning_rate'`` found.
      loss_tag: the loss tag; default the first of ``'loss'``, ``'train_loss'``.
      smoothed_beta: as :func:`read_csv`'s: the losses were logged smoothed.

    Returns:
      The :class:`~cyclr.RangeTestResult` of the sweep, one rung per step.

    Raises:
      ImportError: the ``tensorboard`` package is not installed.
      FileNotFoundError: no such folder or file.
      ValueError: a missing tag (naming the tag asked for and the scalar tags found,
        or the subfolders holding event files), no step logged under both tags,
        fewer than 2 rungs, or rates that are not positive and strictly increasing.
    """
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
    return _result(
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


def read_lightning(lr_finder: Any, *, start_step: int = 0) -> RangeTestResult:
    """A range-test result from Lightning's ``Tuner(trainer).lr_find(...)``.

    ``lr_finder.results`` holds ``'lr'`` and ``'loss'`` lists; Lightning's losses
    are smoothed (a debiased moving average, ``beta = 0.98``, debiased at
    ``trainer.global_step + 1`` after the update). The smoothing is undone, so the
    result holds the raw batch losses and cyclr reads the same curve it would have
    recorded itself (Lightning's own suggestion reads the smoothed one). A batch
    that returned no loss is NaN in Lightning's list and stays NaN. ``stop_reason``
    is ``'non_finite_loss'`` if a loss is not finite; for a sweep shorter than
    ``lr_finder.num_training``, ``'diverged'`` when its last smoothed loss is above
    4 times the lowest before it (Lightning's default ``early_stop_threshold``), else
    ``'interrupted'`` (the trainer ran out of batches: ``max_epochs`` or
    ``max_steps`` ended the sweep, which Lightning also reports as divergence).

    Args:
      lr_finder: what ``lr_find`` returned (``lightning.pytorch.tuner.lr_finder._LRFinder``).
      start_step: ``trainer.global_step`` when ``lr_find`` began; 0 for a trainer
        that has not trained yet, the usual case.

    Returns:
      The :class:`~cyclr.RangeTestResult` of the sweep.

    Raises:
      ValueError: not a finder with ``results['lr']`` and ``results['loss']`` of
        equal length (naming what was received), or rates that are not positive
        and strictly increasing.
    """
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
    return _result(
        f"lr_finder ({type(lr_finder).__name__})",
        lrs,
        raw,
        smoothed_beta=None,
        stop_reason=stop_reason,
    )
