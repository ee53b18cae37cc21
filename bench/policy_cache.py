"""The per-policy study's cache: every training run and range test on disk, so that the
study runs in parts and resumes after a kill without redoing what finished.

A folder (``bench/results/cache/policy_study/`` unless ``--cache`` says otherwise) holds

- ``runs.jsonl``: one JSON line per training run, keyed by what decides its score: the
  task, the policy, the optimizer, the seed, the number of updates, the warm-up and the
  schedule's own ``to_config()`` (its peak rate and shape), with :data:`CACHE_VERSION`.
  A line is appended whole under an exclusive lock (several workers may share the
  file); a line a kill cut short is skipped on reading (and named in the log), and the
  next append starts on a fresh line.
- ``range_tests/``: each range test of a task and seed as JSON, written atomically:
  ``RangeTestResult.to_json`` for cyclr's own (so any reading of it can be computed
  later without training), the recorded curve and suggestion for torch-lr-finder's.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import common
from cyclr.rangetest import RangeTestResult

#: Bump when a change to the training (not to a schedule: its config is in the key)
#: makes the cached scores stale.
CACHE_VERSION = 1
DEFAULT_CACHE = common.RESULTS / "cache" / "policy_study"


class Missing(Exception):
    """A run or range test the cache lacks, in a run told not to train (``--no-train``)."""


def slug(text: str) -> str:
    """``'char transformer / AdamW'`` -> ``'char-transformer-adamw'``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def run_key(
    task: str, policy: str, optimizer: str, seed: int, updates: int, warmup: int, schedule: Any
) -> str:
    """The cache key of one training run: canonical JSON of what decides its score.

    ``warmup``: the warm-up in updates (a schedule-free optimizer's own warm-up is not in
    its schedule's config).
    """
    config = {"type": type(schedule).__name__, **schedule.to_config()}
    spec = {
        "version": CACHE_VERSION,
        "task": task,
        "policy": policy,
        "optimizer": optimizer,
        "seed": seed,
        "updates": updates,
        "warmup": warmup,
        "schedule": config,
    }
    return json.dumps(spec, sort_keys=True)


class Cache:
    """The runs and range tests of one cache folder; counts what it trained and reused.

    ``train=False``: a run or range test not in the cache raises :class:`Missing`.
    """

    def __init__(self, folder: str | os.PathLike[str], *, train: bool = True):
        self.folder = Path(folder)
        self.runs_file = self.folder / "runs.jsonl"
        self.tests_folder = self.folder / "range_tests"
        self.train = train
        self.tests_run = self.tests_reused = 0
        self.records: dict[str, dict[str, Any]] = {}
        # distinct runs trained here, and read from the file (a grid asks for a run again)
        self._trained: set[str] = set()
        self._reused: set[str] = set()
        self._read()

    def _read(self) -> None:
        if not self.runs_file.exists():
            return
        bad = 0
        for line in self.runs_file.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                self.records[record["key"]] = record
            except (ValueError, KeyError, TypeError):
                bad += 1  # a line cut short by a kill: that run trains again
        if bad:
            common.log(f"{self.runs_file}: skipped {bad} unreadable line(s)")

    def run(self, key: str, train: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The cached record of ``key``, or ``train()``'s, appended to the cache first."""
        found = self.records.get(key)
        if found is not None:
            if key not in self._trained:
                self._reused.add(key)
            return found
        if not self.train:
            raise Missing(f"run {key}")
        record = {"key": key, **train()}
        self._append(json.dumps(record, allow_nan=False) + "\n")
        self.records[key] = record
        self._trained.add(key)
        return record

    def _append(self, line: str) -> None:
        """Append one whole line under an exclusive lock; mend a line a kill cut short."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.runs_file, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                end = handle.seek(0, os.SEEK_END)
                if end:
                    handle.seek(end - 1)
                    if handle.read(1) != b"\n":
                        handle.write(b"\n")
                handle.write(line.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _test_path(self, task: str, seed: int, finder: str) -> Path:
        return self.tests_folder / f"{slug(task)}--seed-{seed}--{finder}.json"

    def range_test(
        self, task: str, seed: int, finder: str, run: Callable[[], RangeTestResult]
    ) -> RangeTestResult:
        """The cached range test of ``task`` and ``seed`` by ``finder``, or ``run()``'s."""
        path = self._test_path(task, seed, finder)
        if path.exists():
            self.tests_reused += 1
            return RangeTestResult.from_json(path)
        if not self.train:
            raise Missing(f"range test {path.name}")
        result = run()
        path.parent.mkdir(parents=True, exist_ok=True)
        result.to_json(path)
        self.tests_run += 1
        return result

    def record(
        self, task: str, seed: int, finder: str, run: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """A finder's cached record (plain JSON: its curve, its suggestion), or ``run()``'s."""
        from cyclr.app.files import write_json

        path = self._test_path(task, seed, finder)
        if path.exists():
            self.tests_reused += 1
            found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return found
        if not self.train:
            raise Missing(f"range test {path.name}")
        data = run()
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, data)
        self.tests_run += 1
        return data

    def counts(self) -> tuple[int, int, int, int]:
        """``(runs trained, runs reused, range tests run, range tests reused)``."""
        return len(self._trained), len(self._reused), self.tests_run, self.tests_reused
