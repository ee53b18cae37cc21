"""The curve a range test of the app reads, and its validation batch.

The app runs every range test with one :class:`cyclr.RangeTestSettings` (the ``cyclr``
command builds it from its options); :func:`range_test_monitor` settles the curve it reads
on the run's data. Shared by the workflow and the runners; it imports neither.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cyclr.rangetest import RangeTestSettings
from cyclr.rangetest.settings import checked_settings

#: The curves the app's range tests read: the validation loss (the default), the training loss.
MONITORS = ("val_loss", "loss")
#: The range test's validation set: the first this many examples of the validation split,
#: evaluated as one batch after every ``settings.val_every``-th rung.
RANGE_TEST_VAL_EXAMPLES = 256
#: Fewer validation examples than this read too noisy a curve: the range test falls back
#: to the training loss.
RANGE_TEST_MIN_VAL_EXAMPLES = 32


def range_test_monitor(
    settings: RangeTestSettings, data: Any
) -> tuple[RangeTestSettings, str | None]:
    """``settings`` with the curve a range test on ``data`` reads, and why, if it fell back.

    ``'val_loss'`` needs a validation split of at least :data:`RANGE_TEST_MIN_VAL_EXAMPLES`
    examples; without one the test reads the training loss (``'loss'``) and the note says
    so. ``monitor=None`` reads ``'val_loss'`` when there are enough, else ``'loss'``
    without a note (the rule of :class:`cyclr.RangeTestSettings`, docs/semantics.md,
    *The learning-rate range test*).

    Args:
      settings: the range test's settings; its ``start_lr`` is the rate the runner builds
        the optimizer at, so it must be given.
      data: a :class:`cyclr.app.data.Data`.

    Returns:
      ``(settings, note)``: the settings with ``monitor`` chosen, and ``None`` or the line
      to print.

    Raises:
      ValueError: settings the app cannot run (:func:`check_range_test`).
    """
    monitor = check_range_test(settings).monitor
    n_val = len(data.x_val)
    if monitor != "loss" and n_val < RANGE_TEST_MIN_VAL_EXAMPLES:
        why = "no validation split" if n_val == 0 else f"only {n_val} validation examples"
        note = (
            None
            if monitor is None
            else f"note: {why} (the range test's validation loss needs "
            f"{RANGE_TEST_MIN_VAL_EXAMPLES}): reading the training loss (monitor='loss')"
        )
        return replace(settings, monitor="loss"), note
    return replace(settings, monitor=monitor or "val_loss"), None


def check_range_test(settings: RangeTestSettings) -> RangeTestSettings:
    """``settings`` if the app can run them: a ``start_lr`` given, a monitor it reads.

    Raises:
      ValueError: not a :class:`cyclr.RangeTestSettings`, a monitor not of
        :data:`MONITORS` (or None), or ``start_lr=None`` (:func:`ladder_start`), naming it.
    """
    settings = checked_settings(settings)
    ladder_start(settings)
    if settings.monitor is not None and settings.monitor not in MONITORS:
        raise ValueError(
            f"monitor must be one of {', '.join(MONITORS)} or None; received "
            f"monitor={settings.monitor!r}"
        )
    return settings


def ladder_start(settings: RangeTestSettings) -> float:
    """The ladder's first rung: the rate the app's runners build the optimizer at.

    Raises:
      ValueError: ``start_lr=None`` (the optimizer's own rate: the app has none to read).
    """
    if settings.start_lr is None:
        raise ValueError(
            "start_lr must be a rate: the app builds the optimizer at it; received start_lr=None"
        )
    return settings.start_lr


def range_test_validation(data: Any) -> tuple[Any, Any]:
    """``(x, y)``: the range test's validation batch, the first examples of the validation split.

    At most :data:`RANGE_TEST_VAL_EXAMPLES` of them, the same ones in every run.

    Raises:
      ValueError: ``data`` has too few validation examples (see :func:`range_test_monitor`).
    """
    n = min(RANGE_TEST_VAL_EXAMPLES, len(data.x_val))
    if n < RANGE_TEST_MIN_VAL_EXAMPLES:
        raise ValueError(
            f"monitor='val_loss' needs at least {RANGE_TEST_MIN_VAL_EXAMPLES} validation "
            f"examples; received {len(data.x_val)} in {data.name}"
        )
    return data.x_val[:n], data.y_val[:n]


def range_test_record(settings: RangeTestSettings, data: Any) -> dict[str, object]:
    """What a run records of its range test: the ladder and the reading.

    ``start_lr``, ``end_lr``, ``num_steps``, ``monitor``, ``fine_tuning``, and with
    ``'val_loss'`` the validation batch: ``val_examples`` and ``val_every``. ``settings``
    has its monitor chosen (:func:`range_test_monitor`).
    """
    if settings.monitor is None:
        raise ValueError(
            "settings.monitor must be chosen (cyclr.app.monitor.range_test_monitor) before "
            "it is recorded; received monitor=None"
        )
    found: dict[str, object] = {
        "start_lr": settings.start_lr,
        "end_lr": settings.end_lr,
        "num_steps": settings.num_steps,
        "monitor": settings.monitor,
        "fine_tuning": settings.fine_tuning,
    }
    if settings.monitor == "val_loss":
        found["val_examples"] = min(RANGE_TEST_VAL_EXAMPLES, len(data.x_val))
        found["val_every"] = settings.val_every
    return found
