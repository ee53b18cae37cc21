"""Ctrl-C during ``cyclr train`` leaves a readable partial run folder."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("torch")

from cli_helpers import read_csv
from resume_helpers import ctrl_c_reaches_python


def test_ctrl_c_leaves_a_readable_partial_run(tmp_path):
    out = tmp_path / "run"
    env = dict(os.environ, MPLCONFIGDIR=str(tmp_path / "mpl"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cyclr",
            "train",
            "--framework",
            "torch",
            "--epochs",
            "500",
            "--base-lr",
            "0.01",
            "--max-lr",
            "0.1",
            "--out",
            str(out),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_reaches_python,
    )
    deadline = time.time() + 120
    while not (out / "metrics.csv").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert (out / "metrics.csv").exists(), "training never finished an epoch"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "cyclr: interrupted"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 0 < summary["steps"] < 500 * 36
    rows = read_csv(out / "metrics.csv")
    assert len(rows) >= 36 and rows[35]["val_accuracy"]  # at least the first whole epoch
    assert summary["test_accuracy"] is None  # the test set is scored after training only
    assert "interrupted" in (out / "report.html").read_text()
    assert json.loads((out / "config.json").read_text())["epochs"] == 500
