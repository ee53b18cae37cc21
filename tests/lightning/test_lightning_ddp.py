"""strategy="ddp" with two CPU processes (gloo): every rank reads the same bounds."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("lightning")

# Two processes that each import Lightning and torch: about 25 s on a shared 2-core machine.
pytestmark = pytest.mark.slow


def test_two_ddp_ranks_read_the_same_bounds(tmp_path):
    worker = os.path.join(os.path.dirname(__file__), "ddp_worker.py")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # Run as a script: Lightning's launcher starts rank 1 by running the same command again.
    run = subprocess.run(
        [sys.executable, worker, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    zero, one = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert zero["world_size"] == one["world_size"] == 2
    assert zero["losses"] == one["losses"] and len(zero["losses"]) >= 10
    # the validation loss, pooled over both ranks' batches, read alike on both
    assert zero["monitor"] == one["monitor"] == "val_loss"
    assert zero["val_losses"] == one["val_losses"] and len(zero["val_losses"]) >= 5
    assert zero["bounds"] == one["bounds"] == zero["hparams"] == one["hparams"]
    assert 0 < zero["bounds"][0] < zero["bounds"][1]
    # DDP trained both replicas alike after the test
    assert zero["weights"] == one["weights"]
