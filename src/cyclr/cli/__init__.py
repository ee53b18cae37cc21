"""The ``cyclr`` command: ``cyclr preview | find | train | compare | plot-range-test``.

Each command lives in its own module with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Bad input raises
:class:`~cyclr.cli.errors.UsageError`, printed here on one line with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from cyclr._extras import MissingExtra
from cyclr.cli.errors import UsageError

# Modules are imported only when their command runs, so `cyclr preview` never
# pays for importing a deep-learning framework.
COMMANDS = {
    "preview": ("cyclr.cli.preview", "draw a schedule and check it against a run"),
    "plot-range-test": ("cyclr.cli.plot_range", "draw a saved range-test result again"),
    "find": ("cyclr.cli.find", "run a learning-rate range test on a dataset and model"),
    "train": ("cyclr.cli.train", "range test -> bounds -> cyclical training -> report"),
    "compare": ("cyclr.cli.compare", "train several policies on the same budget and compare"),
}


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str):
        raise UsageError(message)


def build_parser(only: str | None = None) -> OneLineParser:
    parser = OneLineParser(prog="cyclr", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version",
        action="version",
        version=f"cyclr {importlib.import_module('cyclr').__version__}",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if only in (None, name):
            importlib.import_module(module).add_arguments(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # TensorFlow's C++ start-up chatter would bury the command's own one-line messages.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(only=chosen if chosen in COMMANDS else None)
        args = parser.parse_args(argv)
        args.argv = argv  # what the command was given (a run folder records it for --resume)
        if args.command is None:
            parser.print_help()
            return 2
        return int(importlib.import_module(COMMANDS[args.command][0]).run(args) or 0)
    except (UsageError, MissingExtra) as exc:
        print(f"cyclr: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cyclr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
