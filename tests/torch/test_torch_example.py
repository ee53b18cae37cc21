"""examples/torch_mnist.py runs end to end on a tiny budget."""

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("torch")

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "torch_mnist.py")


def test_example_runs_range_test_then_cyclical_training(tmp_path, png_header):
    run = subprocess.run(
        [sys.executable, EXAMPLE, "--steps", "90", "--range-steps", "40", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, OMP_NUM_THREADS="2"),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "range test: " in out and "suggested bounds (loss): base_lr=" in out
    assert "training 90 steps" in out and "step_size shortened to 45" in out
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert (tmp_path / "range_test.png").read_bytes()[:8] == png_header
    from cyclr.rangetest import RangeTestResult

    result = RangeTestResult.from_json(tmp_path / "range_test.json")
    assert result.settings.num_steps == 40 and result.settings.end_lr == 10.0
