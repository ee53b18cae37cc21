"""Run folders and the files in them, written so that a failure never leaves half a file."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from cyclr._files import replace_atomically


def prepare_out(out, overwrite: bool, create: bool = True) -> Path:
    """Make ``out`` the run folder; refuse an existing non-empty one unless ``overwrite``.

    ``create=False`` only checks (nothing is made), so a later failure leaves no folder.

    Raises:
      ValueError: the folder exists and holds files, and ``overwrite`` is False;
        or ``out`` is a file.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"out must be a folder; received out={str(path)!r}, a file")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ValueError(
            f"out={str(path)!r} already exists and is not empty; received overwrite=False "
            "(True replaces its files)"
        )
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def _atomic(path, write) -> Path:
    """``write(handle)`` on a text file that replaces ``path`` only once complete."""

    def to_file(tmp):
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            write(handle)

    return replace_atomically(path, to_file)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks (checkpoints, range-test records)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path, data) -> Path:
    """Write ``data`` as indented JSON (NaN is refused: it is not JSON)."""

    def dump(handle: TextIO) -> None:
        json.dump(data, handle, indent=2, allow_nan=False)
        handle.write("\n")

    return _atomic(path, dump)


def read_record(path: Path, kind: str, version: int, what: str, where: str) -> dict[str, Any]:
    """The versioned JSON record at ``path``: a dict whose ``format`` is ``kind``, at ``version``.

    The run folder's records (``checkpoint.json``, ``range_test_run.json``) are written
    with their ``format`` and ``version``, and read back only by a cyclr that reads both.

    Args:
      path: the file.
      kind: the ``format`` it must hold (``'cyclr.train.checkpoint'``).
      version: the ``version`` it must hold.
      what: what such a record is, for the message (``'cyclr train checkpoint'``).
      where: what the record was asked for by, the start of every message
        (``"resume='runs/x'"``).

    Raises:
      ValueError: an unreadable file or one that is not JSON, not a ``what``, or of
        another version: ``"{where}: {file name} ..."``.
    """
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: {path.name} is corrupt ({exc})") from None
    if not isinstance(record, dict) or record.get("format") != kind:
        raise ValueError(f"{where}: {path.name} is not a {what}")
    if record.get("version") != version:
        raise ValueError(
            f"{where}: {path.name} has version {record.get('version')!r}; this cyclr reads "
            f"version {version}"
        )
    return record


def write_text(path, text: str) -> Path:
    return _atomic(path, lambda f: f.write(text))


def write_csv(path, columns: Sequence[str], rows: Iterable[dict]) -> Path:
    """Write ``rows`` (dicts) under ``columns``; missing values are empty cells."""

    def write(handle):
        writer = csv.DictWriter(handle, fieldnames=list(columns), restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})

    return _atomic(path, write)


def _cell(value):
    if isinstance(value, float):
        return repr(value)  # round-trips exactly
    return value
