"""A run killed before its first epoch ends resumes from the start; a saved range test is reused.

Issue 28, item 8: ``cyclr train --resume RUN`` of a run killed (``kill -9``) before its
first checkpoint said "no checkpoint.json (the run never finished an epoch)", exit 2; and
``cyclr train`` after ``cyclr find`` ran the same range test again. Real processes killed
with SIGKILL at a known point (the user's model stops in its forward pass, where the test
tells it to, and the test kills the process there), real PyTorch runs on the bundled digits.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")

from cli_helpers import read_csv

from cyclr.cli import main

#: The user's model; ``STOP_AT=BUILT:STEP`` makes the BUILT-th model it builds (1: the one
#: the range test runs on, 2: the one that trains) stop in its STEP-th training forward
#: pass, after writing the file ``stopped``, until it is killed.
NET = """
import os
import time
from pathlib import Path

import torch
from torch import nn

BUILT = [0]


class Net(nn.Module):
    def __init__(self, size, classes, order):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(size, 32), nn.ReLU(), nn.Linear(32, classes)
        )
        self.order, self.calls = order, 0

    def forward(self, x):
        if self.training and torch.is_grad_enabled():
            self.calls += 1
            if os.environ.get("STOP_AT") == f"{self.order}:{self.calls}":
                Path("stopped").write_text("")
                time.sleep(600)
        return self.body(x)


def make(input_shape, num_classes):
    BUILT[0] += 1
    size = 1
    for d in input_shape:
        size *= d
    return Net(size, num_classes, BUILT[0])
"""

COMMON = ("--framework", "torch", "--model", "net.py:make", "--device", "cpu", "--num-steps",
          "40")  # fmt: skip


@pytest.fixture
def own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    monkeypatch.delenv("STOP_AT", raising=False)
    (tmp_path / "net.py").write_text(NET)
    return tmp_path


def _train(out, *extra):
    return ["train", *COMMON, "--epochs", "2", "--quiet", "--out", str(out), *extra]


def _killed_at(own, stop_at: str, args) -> None:
    """Run ``python -m cyclr ARGS``; kill -9 it once the model stopped at ``stop_at``."""
    env = dict(os.environ, STOP_AT=stop_at)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cyclr", *args],
        cwd=own,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while not (own / "stopped").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert (own / "stopped").exists(), proc.communicate(timeout=5)
    proc.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, stderr[-2000:]
    (own / "stopped").unlink()


def _same_run(own, a, b) -> None:
    assert read_csv(own / a / "metrics.csv") == read_csv(own / b / "metrics.csv")
    x = torch.load(own / a / "model.pt", weights_only=True)
    y = torch.load(own / b / "model.pt", weights_only=True)
    assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


@pytest.mark.parametrize(
    "stop_at, reused",
    [("2:5", True), ("1:10", False)],
    ids=["in-the-first-epoch", "in-the-range-test"],
)
def test_a_run_killed_before_its_first_checkpoint_resumes_from_the_start(
    own, capsys, stop_at, reused
):
    assert main(_train("whole")) == 0
    _killed_at(own, stop_at, _train("cut"))
    cut = own / "cut"
    assert not (cut / "checkpoint.json").exists()  # killed before the first epoch ended
    # the range test's result was written the moment it ended, with its record
    assert (cut / "range_test.json").is_file() == reused
    assert (cut / "range_test_run.json").is_file() == reused
    capsys.readouterr()
    assert main(["train", "--resume", str(cut)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("test accuracy "), captured  # --quiet, as it was started
    _same_run(own, "whole", "cut")
    assert (cut / "range_test.json").read_text() == (own / "whole" / "range_test.json").read_text()
    summary = json.loads((cut / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert summary["range_test_reused"] == reused
    config = json.loads((cut / "config.json").read_text())
    assert config["resumed_after_epoch"] == 0 and "--resume" not in config["argv"]


def test_train_reuses_the_range_test_of_find(own, capsys):
    assert main(["find", *COMMON, "--quiet", "--out", "found"]) == 0
    out = capsys.readouterr().out
    assert "cyclr train --range-test found" in out  # find says how to reuse it
    assert main(_train("fresh")) == 0
    capsys.readouterr()
    args = ["train", *COMMON, "--epochs", "2", "--out", "reused", "--range-test", "found"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "range test: reused from found (the same data, model and settings)" in out
    assert "rungs" in out and "range test:" in out
    _same_run(own, "fresh", "reused")  # as if it had run the test itself
    found = (own / "found" / "range_test.json").read_text()
    assert (own / "reused" / "range_test.json").read_text() == found
    assert (own / "fresh" / "range_test.json").read_text() == found
    summary = json.loads((own / "reused" / "summary.json").read_text())
    assert summary["range_test_reused"] is True and summary["range_test_from"] == "found"
    # a range_test.json file works as well as its folder
    assert main(_train("file", "--range-test", "found/range_test.json")) == 0
    _same_run(own, "fresh", "file")


def _refused(capsys, *args) -> str:
    assert main(list(args)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cyclr: error: "), lines
    return lines[0]


def test_a_saved_range_test_of_another_run_is_refused_naming_what_differs(own, capsys):
    assert main(["find", *COMMON, "--quiet", "--out", "found"]) == 0
    capsys.readouterr()
    line = _refused(capsys, *_train("x", "--range-test", "found", "--batch-size", "16"))
    assert (
        "--range-test='found': its range test ran on other data, model or settings than this "
        "run: --batch-size=32 there, 16 here" in line
    )
    line = _refused(capsys, *_train("x", "--range-test", "found", "--end-lr", "1"))
    assert "--end-lr=10.0 there, 1.0 here" in line
    line = _refused(capsys, *_train("x", "--range-test", "found", "--validation-split", "0.1"))
    assert "the data ('digits' there, 'digits' here, other arrays)" in line
    (own / "net.py").write_text(NET.replace("32", "24"))
    assert "the model file's contents" in _refused(capsys, *_train("x", "--range-test", "found"))
    (own / "net.py").write_text(NET)
    line = _refused(capsys, *_train("x", "--range-test", "found", "--base-lr", "0.01",
                                    "--max-lr", "0.1"))  # fmt: skip
    assert "--range-test does not apply with --base-lr/--max-lr" in line
    line = _refused(capsys, *_train("x", "--range-test", "found", "--policy", "adam"))
    assert "--range-test does not apply to --policy adam" in line
    # a result without its record, or changed since: what it ran on is unknown
    (own / "bare").mkdir()
    shutil.copy(own / "found" / "range_test.json", own / "bare")
    line = _refused(capsys, *_train("x", "--range-test", "bare"))
    assert "--range-test='bare': no range_test_run.json beside range_test.json" in line
    assert "or give --base-lr and --max-lr" in line
    result = own / "found" / "range_test.json"
    result.write_text(result.read_text().replace('"exp"', '"linear"'))
    line = _refused(capsys, *_train("x", "--range-test", "found"))
    assert "range_test.json does not match range_test_run.json" in line
    line = _refused(capsys, *_train("x", "--range-test", "nowhere"))
    assert "--range-test='nowhere': no such file or folder" in line
    assert not (own / "x").exists()  # refused before the run folder is made
