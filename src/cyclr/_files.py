"""Writing a file so that a failure never leaves half of it (no framework, no matplotlib)."""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's file-mode creation mask (read without changing it for long)."""
    with _UMASK_LOCK:  # os.umask can only be read by setting it: keep the window closed
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def replace_atomically(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(tmp)`` on a fresh file beside ``path``, then move it over ``path``.

    The temporary file keeps ``path``'s suffix (matplotlib picks the format from it)
    and is removed if ``write`` raises, so ``path`` is either its old self or complete.
    The file gets the mode a plain ``open(path, "w")`` would give it: the mode of the
    file it replaces, else ``0o666`` less the user's umask (``mkstemp`` alone makes
    every file ``0o600``).

    Args:
      path: the file to write; its folder must exist.
      write: called with the temporary file's path; writes the whole content there.

    Returns:
      ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(suffix=path.suffix, dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
