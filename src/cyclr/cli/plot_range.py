"""``cyclr plot-range-test``: draw a saved range-test result again and print its summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from cyclr.cli.errors import UsageError

NAME = "plot-range-test"
HELP = "draw a saved range-test result again"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "result",
        metavar="RESULT.json",
        help="a range-test result saved with RangeTestResult.to_json",
    )
    p.add_argument(
        "--out",
        help="the figure to write (.png, .pdf or .svg); default: RESULT with the extension .png",
    )
    p.add_argument(
        "--monitor",
        choices=("loss", "val_loss", "val_accuracy"),
        help="the curve the suggestions read (default: the one saved)",
    )
    p.add_argument("--title", help="the figure title")


def load(path: str):
    """The result saved at ``path``; anything wrong becomes a one-line UsageError."""
    from cyclr.rangetest import RangeTestResult

    source = Path(path)
    if not source.is_file():
        raise UsageError(f"no such result file; received RESULT.json={path!r}")
    try:
        return RangeTestResult.from_json(source)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot read range-test result {path!r}: {first}") from None


def run(args) -> int:
    from cyclr._extras import require
    from cyclr.plotting import check_output_path

    require("cyclr plot-range-test", "plot")
    result = load(args.result)
    try:
        out = check_output_path(args.out or Path(args.result).with_suffix(".png"), "--out")
        summary = result.summary(args.monitor)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(summary)
    try:
        result.plot(out, monitor=args.monitor, title=args.title)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote {out}")
    return 0
