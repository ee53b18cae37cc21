"""A range test saved with what it was run on, so that a later run on the same reuses it.

``cyclr find`` and ``cyclr train`` write ``range_test.json`` as soon as the test ends, then
``range_test_run.json`` beside it: the data, model and settings the test ran with (the
SHA-256 of the training and validation arrays, of a model file, the optimizer, loss, batch
size, seed and every :class:`cyclr.RangeTestSettings` field) and the SHA-256 of
``range_test.json``. A run that would
run the same test reads the saved one instead: ``cyclr train --range-test RUN_OR_FILE``
(after ``cyclr find``), and ``cyclr train --resume`` of a run stopped before its first
epoch ended. A saved test of other data, another model or other settings is refused, with
what differs; one without its record is refused too (what it was run on is unknown).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from cyclr.app.files import read_record, sha256_file, write_json
from cyclr.app.monitor import range_test_record
from cyclr.app.runner import Runner
from cyclr.app.usermodel import model_kind
from cyclr.rangetest import RangeTestResult, RangeTestSettings

FORMAT = "cyclr.range_test.run"
VERSION = 1
#: The result and its record, in a run folder.
RESULT_NAME = "range_test.json"
RECORD_NAME = "range_test_run.json"


def data_sha256(data: Any) -> str:
    """The SHA-256 of what a range test reads: the training and validation arrays.

    Shapes and dtypes included, so the same bytes in another shape differ.
    """
    digest = hashlib.sha256()
    for array in (data.x_train, data.y_train, data.x_val, data.y_val):
        a = np.ascontiguousarray(array)
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def model_identity(model: str) -> dict[str, str | None]:
    """``model``, with a file's path resolved and its SHA-256 (a built-in or module: None)."""
    kind = model_kind(model)
    if kind == "builtin":
        return {"model": model, "model_sha256": None}
    where, _, name = model.rpartition(":") if kind == "factory" else (model, "", "")
    path = Path(where)
    if kind == "factory" and not where.endswith(".py"):
        return {"model": model, "model_sha256": None}  # an installed module
    resolved = str(path.resolve()) + (f":{name}" if name else "")
    return {"model": resolved, "model_sha256": sha256_file(path) if path.is_file() else None}


def range_test_identity(
    runner: Runner,
    data: Any,
    model: str,
    optimizer: str,
    loss: str,
    settings: RangeTestSettings,
) -> dict[str, Any]:
    """What a range test of ``runner`` on ``data`` depends on: two equal ones give one result.

    The framework (and Keras's backend), the model, the data's arrays, the optimizer, loss,
    batch size and seed, and every one of the ``settings`` (its monitor chosen, see
    :func:`cyclr.app.monitor.range_test_monitor`) with the validation batch. Not the
    device: a range test runs float32 anywhere.
    """
    found: dict[str, Any] = {"framework": runner.framework}
    if runner.framework == "keras":
        import keras

        found["keras_backend"] = keras.backend.backend()
    found |= model_identity(model)
    found |= {
        "data": data.name,
        "data_sha256": data_sha256(data),
        "optimizer": optimizer,
        "loss": loss,
        "batch_size": runner.batch_size,
        "seed": runner.seed,
        **asdict(settings),
        **range_test_record(settings, data),
    }
    return found


def write_record(out: Path, identity: dict[str, Any], stem: str = "range_test") -> Path:
    """``{stem}_run.json`` beside ``{stem}.json``: ``identity`` and the result's SHA-256."""
    result = Path(out) / f"{stem}.json"
    return write_json(
        Path(out) / f"{stem}_run.json",
        {
            "format": FORMAT,
            "version": VERSION,
            "result": result.name,
            "sha256": sha256_file(result),
            "run": identity,
        },
    )


#: Keys that only describe (a data set's name): what is compared is its SHA-256.
_DESCRIPTIVE = ("data",)


def differences(saved: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """``"key=saved there, wanted here"`` for every key on which two identities differ."""
    keys = [k for k in wanted if k not in _DESCRIPTIVE] + [
        k for k in saved if k not in wanted and k not in _DESCRIPTIVE
    ]
    found = []
    for key in keys:
        there, here = saved.get(key), wanted.get(key)
        if there == here:
            continue
        if key == "data_sha256":
            names = f"{saved.get('data')!r} there, {wanted.get('data')!r} here"
            found.append(f"the data ({names}, other arrays)")
        elif key == "model_sha256":
            found.append("the model file's contents")
        else:
            found.append(f"{key}={there!r} there, {here!r} here")
    return found


def _locate(source: Path) -> tuple[Path, Path]:
    """``(result, record)`` of a run folder or a result file."""
    if source.is_dir():
        return source / RESULT_NAME, source / RECORD_NAME
    return source, source.with_name(f"{source.stem}_run.json")


def saved_range_test(range_test: Path | str, identity: dict[str, Any]) -> RangeTestResult:
    """The range test saved in ``range_test`` (a run folder or its ``range_test.json``).

    Raises:
      ValueError: ``range_test`` holds no range test, no record of it, a result changed
        since its record was written, one run on other data, another model or other
        settings (naming each difference), or one written before the result recorded its
        optimizer and BatchNorm, in one line that begins
        ``"range_test='PATH': "``.
    """
    where = f"range_test={str(range_test)!r}"
    path = Path(range_test)
    if not path.exists():
        raise ValueError(f"{where}: no such file or folder")
    result_path, record_path = _locate(path)
    if not result_path.is_file():
        raise ValueError(
            f"{where}: holds no {RESULT_NAME} (give the folder of a cyclr find or cyclr train "
            "run, or its range_test.json)"
        )
    if not record_path.is_file():
        raise ValueError(
            f"{where}: no {record_path.name} beside {result_path.name}, the record of the "
            "data, model and settings it ran with (cyclr find and cyclr train write it); run "
            "the range test again, or give base_lr and max_lr"
        )
    record = read_record(record_path, FORMAT, VERSION, "cyclr range-test record", where)
    if sha256_file(result_path) != record.get("sha256"):
        raise ValueError(
            f"{where}: {result_path.name} does not match {record_path.name} (changed since the "
            "range test wrote it)"
        )
    saved = record.get("run")
    if not isinstance(saved, dict):
        raise ValueError(f"{where}: {record_path.name} lacks run")
    differ = differences(saved, identity)
    if differ:
        raise ValueError(
            f"{where}: its range test ran on other data, model or settings than this run: "
            + "; ".join(differ)
        )
    try:
        result = RangeTestResult.from_json(result_path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{where}: {result_path.name} is not readable ({exc})") from None
    if result.optimizer is None or result.batchnorm is None:  # written before they were
        raise ValueError(
            f"{where}: {result_path.name} does not record its optimizer and whether the model "
            "has BatchNorm layers, which the readings per schedule take; run the range test "
            f"again (received optimizer={result.optimizer!r}, batchnorm={result.batchnorm!r})"
        )
    return result


def own_range_test(out: Path, identity: dict[str, Any]) -> RangeTestResult | None:
    """The range test a stopped run left in its folder ``out``, if it is this run's; else None.

    None when there is none, no record, or one of another run (an older run's in a folder
    reused with ``--overwrite``): the test then runs again.
    """
    try:
        return saved_range_test(out, identity)
    except ValueError:
        return None
