"""Errors the command line reports on one line, with exit code 2, and how they name options.

The app (:mod:`cyclr.app`) and the core are libraries: their errors name their parameters
(``epochs must be >= 1; received epochs=0``). The command prints them with the options
that set those parameters (``--epochs must be >= 1; received --epochs=0``):
:func:`as_options` is the one place where a parameter name becomes an option, and
:func:`cyclr.cli.main` applies it to every message it prints.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping


class UsageError(Exception):
    """Bad input from the user: printed as ``cyclr: error: <message>``, exit code 2.

    The message may name the app's parameters; it is printed with their options
    (:func:`as_options`).
    """


def options_of(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``{parameter: option}`` of a command's parser: each option's ``dest`` and its name.

    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--batch-size")
    >>> options_of(p)
    {'batch_size': '--batch-size'}
    """
    found = {}
    for action in parser._actions:
        long = [s for s in action.option_strings if s.startswith("--")]
        if long and action.dest != "help":
            found[action.dest] = long[0]
    return found


def as_options(message: str, options: Mapping[str, str]) -> str:
    """``message`` with the parameters of ``options`` spelled as their options.

    A name with an underscore (``base_lr``) is replaced wherever it stands as a word; a
    one-word name (``epochs``, ``data``: words of plain prose too) where it is given a
    value (``epochs=0``) or opens the message (``epochs must be ...``). A name inside a
    longer word, a path or an option already (``subdevice=``, ``runs/base_lr``,
    ``--epochs=``, ``range_test.json``) is left as it is.

    >>> as_options("base_lr must be <= max_lr; received base_lr=0.5", {
    ...     "base_lr": "--base-lr", "max_lr": "--max-lr"})
    '--base-lr must be <= --max-lr; received --base-lr=0.5'
    >>> as_options("epochs must be >= 1; received epochs=0, subepochs=2", {"epochs": "--epochs"})
    '--epochs must be >= 1; received --epochs=0, subepochs=2'
    """
    for name, option in options.items():
        before = r"(?<![\w.\-/\\])"
        if "_" in name:
            pattern = rf"{before}{re.escape(name)}(?!\w|\.\w)"
        else:
            pattern = rf"{before}{re.escape(name)}(?==)|^{re.escape(name)}(?= )"
        message = re.sub(pattern, option, message)
    return message
