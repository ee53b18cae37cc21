"""``RangeTestResult``'s readers of sweeps logged elsewhere: CSV, TensorBoard, Lightning.

What is read and the errors are told in :mod:`cyclr.rangetest.logged`; the parsing is in
``_sweeps``.
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from cyclr.rangetest._sweeps import Sweep, csv_sweep, lightning_sweep, tensorboard_sweep

_R = TypeVar("_R", bound="FromLogs")


class FromLogs:
    """``RangeTestResult``'s readers of sweeps logged elsewhere (:mod:`cyclr.rangetest.logged`)."""

    @classmethod
    def _from_sweep(cls: type[_R], sweep: Sweep) -> _R:
        raise NotImplementedError  # the result class builds itself from a sweep

    @classmethod
    def from_csv(
        cls: type[_R],
        path: str | os.PathLike[str],
        *,
        lr_column: str | None = None,
        loss_column: str | None = None,
        smoothed_beta: float | None = None,
        delimiter: str = ",",
    ) -> _R:
        """A result from a sweep logged to a CSV file, one row per rung.

        See :func:`cyclr.rangetest.logged.read_csv` (what is read, how smoothed
        losses are treated, the errors).

        Args:
          path: the CSV file, with a header row.
          lr_column: the learning-rate column; default ``'lr'`` or ``'learning_rate'``.
          loss_column: the loss column; default ``'loss'`` or ``'train_loss'``.
          smoothed_beta: the decay the losses were already smoothed with, undone;
            ``None`` for raw losses.
          delimiter: the field separator.

        Returns:
          The result; ``result.bounds()`` reads it.

        Raises:
          OSError: the file cannot be read.
          ValueError: a missing column (naming the file, the column and the columns
            found), a cell that is not a number, or a ladder that is not one.
        """
        return cls._from_sweep(
            csv_sweep(
                path,
                lr_column=lr_column,
                loss_column=loss_column,
                smoothed_beta=smoothed_beta,
                delimiter=delimiter,
            )
        )

    @classmethod
    def from_tensorboard(
        cls: type[_R],
        logdir_or_file: str | os.PathLike[str],
        *,
        lr_tag: str | None = None,
        loss_tag: str | None = None,
        smoothed_beta: float | None = None,
    ) -> _R:
        """A result from a sweep logged as TensorBoard scalars, lr and loss paired by step.

        See :func:`cyclr.rangetest.logged.read_tensorboard`; needs the
        ``tensorboard`` package.

        Args:
          logdir_or_file: the run's folder (its own event files) or one event file.
          lr_tag: the learning-rate tag; default ``'lr'`` or ``'learning_rate'``.
          loss_tag: the loss tag; default ``'loss'`` or ``'train_loss'``.
          smoothed_beta: the decay the losses were already smoothed with, undone;
            ``None`` for raw losses.

        Returns:
          The result; ``result.bounds()`` reads it.

        Raises:
          ImportError: ``tensorboard`` is not installed.
          FileNotFoundError: no such folder or file.
          ValueError: a missing tag (listing the tags found), no common step, or a
            ladder that is not one.
        """
        return cls._from_sweep(
            tensorboard_sweep(
                logdir_or_file, lr_tag=lr_tag, loss_tag=loss_tag, smoothed_beta=smoothed_beta
            )
        )

    @classmethod
    def from_lightning(cls: type[_R], lr_finder: Any, *, start_step: int = 0) -> _R:
        """A result from Lightning's ``Tuner(trainer).lr_find(...)``, its smoothing undone.

        See :func:`cyclr.rangetest.logged.read_lightning`.

        Args:
          lr_finder: what ``lr_find`` returned.
          start_step: ``trainer.global_step`` when ``lr_find`` began (0 usually).

        Returns:
          The result, holding the raw batch losses; ``result.bounds()`` reads it.

        Raises:
          ValueError: not an lr finder with ``results['lr']`` and ``results['loss']``,
            or a ladder that is not one.
        """
        return cls._from_sweep(lightning_sweep(lr_finder, start_step=start_step))
