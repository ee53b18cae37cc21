"""PyTorch's gloo teardown abort, shown without cyclr (gloo_exit_abort.py says how).

Why worker_exit.py ends the distributed test workers with ``os._exit(0)``. When PyTorch
fixes it, the first test fails: then the workers can exit normally.
"""

import os
import subprocess
import sys

import pytest

pytest.importorskip("torch.distributed")

HERE = os.path.dirname(os.path.abspath(__file__))
ABORT = "terminate called without an active exception"

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 14),
    reason="Python 3.14 hangs a thread that takes the GIL during finalization instead of "
    "ending it (python/cpython#105805), which is what aborts",
)


def torchrun(mode):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            os.path.join(HERE, "gloo_exit_abort.py"),
            mode,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_process_group_alive_at_exit_aborts_the_process_after_its_work_is_done():
    run = torchrun("kept")
    output = run.stdout + run.stderr
    # Both ranks finished; then rank 0 aborted in teardown (SIGABRT: exit code -6).
    assert "rank 0 done" in output and "rank 1 done" in output, output[-3000:]
    assert run.returncode != 0 and ABORT in output, output[-3000:]
    assert "exitcode: -6) local_rank: 0" in output, output[-3000:]


def test_a_process_group_that_destroy_process_group_destroys_exits_cleanly():
    run = torchrun("dropped")
    output = run.stdout + run.stderr
    assert run.returncode == 0 and ABORT not in output, output[-3000:]
    assert "rank 0 done" in output and "rank 1 done" in output
