"""The curve a range test of the app reads, and its validation batch.

Shared by the workflow and the runners; it imports neither.
"""

from __future__ import annotations

#: The curves ``--monitor`` reads: the validation loss (the default), the training loss.
MONITORS = ("val_loss", "loss")
#: The range test's validation set: the first this many examples of the validation split,
#: evaluated as one batch ...
RANGE_TEST_VAL_EXAMPLES = 256
#: ... after the update of every this many rungs (``bench/suggest_bounds.py --judging``).
RANGE_TEST_VAL_EVERY = 2
#: Fewer validation examples than this read too noisy a curve: the range test falls back
#: to the training loss.
RANGE_TEST_MIN_VAL_EXAMPLES = 32


def range_test_monitor(monitor: str, data) -> tuple[str, str | None]:
    """The curve a range test on ``data`` reads, and the line saying why, if it fell back.

    ``'val_loss'`` needs a validation split of at least
    :data:`RANGE_TEST_MIN_VAL_EXAMPLES` examples; without one the test reads the
    training loss (``'loss'``).

    Args:
      monitor: ``'val_loss'`` or ``'loss'`` (``--monitor``).
      data: a :class:`cyclr.app.data.Data`.

    Returns:
      ``(monitor, note)``: the curve read, and ``None`` or the line to print.

    Raises:
      ValueError: an unknown ``monitor``.
    """
    if monitor not in MONITORS:
        raise ValueError(
            f"--monitor must be one of {', '.join(MONITORS)}; received --monitor={monitor!r}"
        )
    n_val = len(data.x_val)
    if monitor == "val_loss" and n_val < RANGE_TEST_MIN_VAL_EXAMPLES:
        why = "no validation split" if n_val == 0 else f"only {n_val} validation examples"
        return "loss", (
            f"note: {why} (the range test's validation loss needs "
            f"{RANGE_TEST_MIN_VAL_EXAMPLES}): reading the training loss (--monitor loss)"
        )
    return monitor, None


def range_test_validation(data):
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


def range_test_record(monitor: str, data, fine_tuning: bool = False) -> dict[str, object]:
    """What a run records of its range test's reading: monitor, validation set, fine-tuning."""
    found: dict[str, object] = {"monitor": monitor, "fine_tuning": fine_tuning}
    if monitor == "val_loss":
        found["val_examples"] = min(RANGE_TEST_VAL_EXAMPLES, len(data.x_val))
        found["val_every"] = RANGE_TEST_VAL_EVERY
    return found
