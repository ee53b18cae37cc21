"""Checkpoints of ``cyclr train`` for ``--resume``: written at every epoch end, read back safely.

A checkpoint is two files in the run folder:

- ``checkpoint-EPOCH.pt`` (PyTorch: model, optimizer, scheduler, RNG states; read with
  ``torch.load(..., weights_only=True)``) or ``checkpoint-EPOCH.npz`` (Keras: weights and
  optimizer variables; read with ``allow_pickle=False``), written by the runner;
- ``checkpoint.json``: what the run is (framework, model, data, policy, length), the
  epoch and step reached, the learning rates, the metrics so far, and the name and
  SHA-256 of the state file.

Both are written atomically, the state file first under a new name, then the JSON that
points at it, then the older state file is removed: a run killed at any moment leaves
either the previous checkpoint or the new one, whole. A JSON that is not a cyclr
checkpoint, or a state file whose hash does not match, is refused.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from cyclr.app.files import read_record, sha256_file, write_json
from cyclr.app.runner import Runner

FORMAT = "cyclr.train.checkpoint"
VERSION = 1
STATE_NAME = "checkpoint.json"
#: The keys that identify a run: a checkpoint resumes only the run it came from.
IDENTITY = ("framework", "model", "dataset", "policy", "optimizer", "total_steps", "epochs")


def _plain(value: Any) -> Any:
    """NaN and infinities as None (they are not JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rows(rows: list[dict]) -> list[dict]:
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def write_checkpoint(
    out: Path, runner: Runner, epoch: int, step: int, log: Any, identity: dict, rates: dict
) -> Path:
    """Save the runner's state and ``checkpoint.json`` into ``out``; return the JSON's path.

    Args:
      out: the run folder.
      runner: a runner in the middle of :meth:`train` (it has ``save_state``).
      epoch: the epochs done.
      step: the steps done.
      log: the run's :class:`~cyclr.app.session.MetricsLog`.
      identity: the values of :data:`IDENTITY` for this run.
      rates: ``base_lr``, ``max_lr``, ``fixed_lr``, ``source`` of the run.
    """
    out = Path(out)
    state = out / f"checkpoint-{epoch:05d}{runner.state_suffix}"
    runner.save_state(state)
    record = {
        "format": FORMAT,
        "version": VERSION,
        **identity,
        "epoch": epoch,
        "step": step,
        "state_file": state.name,
        "sha256": sha256_file(state),
        "rates": {k: _plain(v) for k, v in rates.items()},
        "seconds": log.seconds,
        "rows": _rows(log.rows),
        "epoch_rows": _rows(log.epochs),
    }
    path = write_json(out / STATE_NAME, record)
    for old in out.glob(f"checkpoint-*{runner.state_suffix}"):
        if old.name != state.name:
            old.unlink(missing_ok=True)
    return path


def read_checkpoint(resume: Path | str, identity: dict | None = None) -> dict:
    """The checkpoint in the run folder ``resume``, checked; ``state_path`` added.

    Args:
      resume: the run folder of the run to resume.
      identity: when given, the run's :data:`IDENTITY` values the checkpoint must match.

    Raises:
      ValueError: no checkpoint, a corrupt or foreign one, naming the file and the problem.
    """
    run_dir = Path(resume)
    path = run_dir / STATE_NAME
    where = f"resume={str(resume)!r}"
    if not path.is_file():
        raise ValueError(f"{where}: no {STATE_NAME} (the run never finished an epoch)")
    record = read_record(path, FORMAT, VERSION, "cyclr train checkpoint", where)
    needed = ("epoch", "step", "state_file", "sha256", "rates", "rows", "epoch_rows")
    missing = [k for k in needed + IDENTITY if k not in record]
    if missing:
        raise ValueError(f"{where}: {STATE_NAME} lacks {', '.join(missing)}")
    name = str(record["state_file"])
    state = run_dir / name
    if Path(name).name != name or not state.is_file():
        raise ValueError(f"{where}: the state file {name!r} is missing")
    if sha256_file(state) != record["sha256"]:
        raise ValueError(f"{where}: {name} does not match {STATE_NAME} (corrupt)")
    for key, value in (identity or {}).items():
        if record.get(key) != value:
            raise ValueError(
                f"{where}: the checkpoint is of another run: {key}={record.get(key)!r}, "
                f"this run has {key}={value!r}"
            )
    record["state_path"] = state
    return record


def restored_rows(rows: list[dict]) -> list[dict]:
    """A checkpoint's metric rows with None (NaN in the run) as NaN again."""
    return [{k: (math.nan if v is None else v) for k, v in row.items()} for row in rows]
