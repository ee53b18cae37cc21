"""Helpers for running the ``cyclr`` command as a real subprocess."""

import base64
import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def cyclr_cli(tmp_path):
    """Run ``python -m cyclr ARGS`` with caches in tmp_path; returns the CompletedProcess."""

    def run(*args, backend=None, timeout=600):
        env = dict(
            os.environ, MPLCONFIGDIR=str(tmp_path / "mpl"), KERAS_HOME=str(tmp_path / "keras")
        )
        if backend:
            env["KERAS_BACKEND"] = backend
        return subprocess.run(
            [sys.executable, "-m", "cyclr", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )

    return run


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def assert_png(path):
    assert Path(path).read_bytes()[:8] == PNG, path


def assert_run_folder(out: Path, *, range_test=True):
    """What a finished ``cyclr train`` leaves: every file present and well-formed."""
    for name in ("config.json", "summary.json"):
        json.loads((out / name).read_text())
    for name in ("lr.png", "curves.png") + (("range_test.png",) if range_test else ()):
        assert_png(out / name)
    if range_test:
        assert json.loads((out / "range_test.json").read_text())["format"]
    page = (out / "report.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) >= (3 if range_test else 2)
    assert all(base64.b64decode(i)[:8] == PNG for i in images)
    assert 'src="http' not in page and "<script" not in page  # self-contained
    rows = read_csv(out / "metrics.csv")
    assert list(rows[0]) == [
        "step",
        "epoch",
        "lr",
        "momentum",
        "loss",
        "val_loss",
        "val_accuracy",
        "test_loss",
        "test_accuracy",
    ]
    return rows


def assert_lr_column_is_the_schedule(rows, schedule, rtol):
    steps = np.array([int(r["step"]) for r in rows])
    np.testing.assert_array_equal(steps, np.arange(len(rows)))
    lrs = np.array([float(r["lr"]) for r in rows])
    np.testing.assert_allclose(lrs, schedule(steps), rtol=rtol)


def one_line_error(proc, needle):
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("cyclr: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
