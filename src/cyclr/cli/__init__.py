"""The ``cyclr`` command: ``cyclr preview | find | train | compare | plot-range-test``.

Each command lives in its own module with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Bad input raises
:class:`~cyclr.cli.errors.UsageError`, printed here on one line with exit code 2, the
parameters it names spelled as the command's options (:func:`~cyclr.cli.errors.as_options`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from cyclr._extras import MissingExtra
from cyclr.cli.errors import UsageError, as_options, options_of

# Modules are imported only when their command runs, so `cyclr preview` never
# pays for importing a deep-learning framework.
COMMANDS = {
    "preview": ("cyclr.cli.preview", "draw a schedule and check it against a run"),
    "plot-range-test": ("cyclr.cli.plot_range", "draw a saved range-test result again"),
    "find": (
        "cyclr.cli.find",
        "run a learning-rate range test on a dataset and model; the reading for every policy",
    ),
    "train": ("cyclr.cli.train", "range test -> the policy's rates -> training -> report"),
    "compare": ("cyclr.cli.compare", "train several policies on the same budget and compare"),
}


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit code 2."""

    #: The top-level parser's commands, each its own parser, by name (:func:`build_parser`).
    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str):
        raise UsageError(message)


def build_parser(only: str | None = None) -> OneLineParser:
    """The ``cyclr`` parser; ``only``: the one command whose options are added (all: None).

    ``parser.commands`` holds each command's own parser, by name.
    """
    parser = OneLineParser(prog="cyclr", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version",
        action="version",
        version=f"cyclr {importlib.import_module('cyclr').__version__}",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    parser.commands = {}
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if only in (None, name):
            importlib.import_module(module).add_arguments(command)
        parser.commands[name] = command
    return parser


def command_options(command: str) -> dict[str, str]:
    """``{parameter: option}`` of ``command`` (:func:`~cyclr.cli.errors.options_of`)."""
    return options_of(build_parser(only=command).commands[command])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # TensorFlow's C++ start-up chatter would bury the command's own one-line messages.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    options: dict[str, str] = {}
    try:
        parser = build_parser(only=chosen if chosen in COMMANDS else None)
        if chosen in COMMANDS:
            options = options_of(parser.commands[chosen])
        args = parser.parse_args(argv)
        args.argv = argv  # what the command was given (a run folder records it for --resume)
        if args.command is None:
            parser.print_help()
            return 2
        return int(importlib.import_module(COMMANDS[args.command][0]).run(args) or 0)
    except (UsageError, MissingExtra) as exc:
        print(f"cyclr: error: {as_options(str(exc), options)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cyclr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
