"""The range tests' progress bar: tqdm, imported only when a bar is drawn."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def progress_bar(progress: bool | None, total: int, is_main: Callable[[], bool]) -> Any:
    """A tqdm bar of ``total`` rungs, or ``None`` (nothing drawn).

    ``progress=False``, or a process other than the main one (``is_main()`` false):
    none. ``None``: one when stderr is a terminal and tqdm is installed. ``True``: one,
    and an ``ImportError`` without tqdm.
    """
    if progress is False or not is_main():
        return None
    if progress is None:
        if not sys.stderr.isatty():
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
    else:
        from tqdm.auto import tqdm  # progress=True asks for it: an ImportError says what's missing
    return tqdm(total=total, desc="range test", unit="rung", leave=False)
