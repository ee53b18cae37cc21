"""The range-test options of ``find``, ``train`` and ``compare``, and the settings they make.

One :class:`cyclr.RangeTestSettings` from the options given, the library's defaults for the
rest: one ladder for every optimizer.
"""

from __future__ import annotations

import argparse

from cyclr.cli._types import positive_float, positive_int
from cyclr.cli.errors import UsageError
from cyclr.rangetest import RangeTestSettings

#: The library's range-test settings, the command's defaults (``--start-lr`` ...).
RANGE_TEST = RangeTestSettings()


def add_range_test_options(p: argparse.ArgumentParser) -> None:
    """``--start-lr --end-lr --num-steps --monitor --fine-tuning``, in a group of their own."""
    rt = p.add_argument_group(
        "range test",
        "one cyclr.RangeTestSettings from these options; by default the library's ladder, "
        f"{RANGE_TEST.start_lr:g} -> {RANGE_TEST.end_lr:g} in {RANGE_TEST.num_steps} rungs, "
        "for every optimizer: the one the bounds were validated on",
    )
    rt.add_argument(
        "--start-lr",
        type=positive_float,
        help=f"the ladder's first rate (default {RANGE_TEST.start_lr:g})",
    )
    rt.add_argument(
        "--end-lr",
        type=positive_float,
        help=f"the ladder's last rate (default {RANGE_TEST.end_lr:g})",
    )
    rt.add_argument(
        "--num-steps",
        type=positive_int,
        help=f"rungs of the range test, at least 2 (default {RANGE_TEST.num_steps})",
    )
    rt.add_argument(
        "--monitor",
        choices=("val_loss", "loss"),
        default="val_loss",
        help="the curve the bounds are read from: val_loss (default) measures the first "
        "256 examples of the validation split, one batch, every "
        f"{RANGE_TEST.val_every} rungs; loss reads the training loss, as before. The "
        "training loss keeps falling past the rate that "
        "generalizes, most of all when fine-tuning, so val_loss gave better or equal "
        "bounds on every task tried (bench/suggest_bounds.py --judging); without a "
        "validation split (or with fewer than 32 examples) it falls back to loss and says so",
    )
    rt.add_argument(
        "--fine-tuning",
        action="store_true",
        help="the model starts from trained weights (a saved model, or a factory that loads "
        "them) and all of it trains: read the bounds a factor 2 lower, as the fine-tunings "
        "of bench/suggest_bounds.py --judging want",
    )


def range_test_settings(args) -> RangeTestSettings:
    """The run's range-test settings: the options given, the library's defaults for the rest.

    One ladder for every optimizer. The monitor is the one asked for (``--monitor``);
    :func:`range_test_on` settles it on the data.

    Raises:
      UsageError: settings that do not make a ladder (``--end-lr`` below ``--start-lr``).
    """
    given = {
        name: getattr(args, name)
        for name in ("start_lr", "end_lr", "num_steps")
        if getattr(args, name) is not None
    }
    try:
        return RangeTestSettings(**given, monitor=args.monitor, fine_tuning=args.fine_tuning)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def range_test_on(args, settings: RangeTestSettings, data) -> RangeTestSettings:
    """``settings`` with the curve the run's range tests read on ``data``.

    ``--monitor``, or ``loss`` without enough validation data, said in one printed line
    (:func:`cyclr.app.monitor.range_test_monitor`).
    """
    from cyclr.app.monitor import range_test_monitor
    from cyclr.cli import command_options
    from cyclr.cli.errors import as_options

    settings, note = range_test_monitor(settings, data)
    if note is not None:
        print(as_options(note, command_options(args.command)))
    return settings
