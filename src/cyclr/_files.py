"""Writing a file so that a failure never leaves half of it (no framework, no matplotlib)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable


def replace_atomically(path, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp)`` on a fresh file beside ``path``, then move it over ``path``.

    The temporary file keeps ``path``'s suffix (matplotlib picks the format from it)
    and is removed if ``write`` raises, so ``path`` is either its old self or complete.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=path.suffix, dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
