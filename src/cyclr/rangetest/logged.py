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

import os
from typing import Any

from cyclr.rangetest._sweeps import LOSS_NAMES, LR_NAMES, unsmooth
from cyclr.rangetest.result import RangeTestResult

__all__ = [
    "LOSS_NAMES",
    "LR_NAMES",
    "read_csv",
    "read_lightning",
    "read_tensorboard",
    "unsmooth",
]

_Source = str | os.PathLike[str]


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
    return RangeTestResult.from_csv(
        path,
        lr_column=lr_column,
        loss_column=loss_column,
        smoothed_beta=smoothed_beta,
        delimiter=delimiter,
    )


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
    return RangeTestResult.from_tensorboard(
        logdir_or_file, lr_tag=lr_tag, loss_tag=loss_tag, smoothed_beta=smoothed_beta
    )


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
    return RangeTestResult.from_lightning(lr_finder, start_step=start_step)
