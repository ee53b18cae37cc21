"""Interrupt a real ``cyclr train`` process (Ctrl-C or ``kill -9``) after a checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def ctrl_c_reaches_python() -> None:
    """``preexec_fn`` of a child to be sent Ctrl-C: SIGINT at its default action.

    A shell starts background jobs with SIGINT ignored (``make test &``, ``nohup ... &``),
    children inherit that, and Python then never raises ``KeyboardInterrupt``: the run
    would not notice the Ctrl-C these tests send. A terminal user's Ctrl-C is not ignored.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def checkpoint_epoch(run: Path) -> int:
    try:
        return int(json.loads((run / "checkpoint.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0  # not there yet, or being replaced


def interrupt_after(args, cwd: Path, run: Path, epoch: int, how: int, env=None) -> int:
    """Start ``python -m cyclr ARGS`` in ``cwd``; send ``how`` once ``epoch`` is checkpointed.

    Returns the epoch of the checkpoint the process left (the run was cut short: the
    caller checks it is below the run's epochs).
    """
    environment = dict(os.environ, **(env or {}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cyclr", *map(str, args)],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_reaches_python,
    )
    deadline = time.time() + 120
    while checkpoint_epoch(run) < epoch and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(how)
    _, stderr = proc.communicate(timeout=120)
    if how == signal.SIGINT:
        assert proc.returncode == 130, stderr[-2000:]
        assert stderr.strip().splitlines()[-1] == "cyclr: interrupted"
    else:
        assert proc.returncode == -how, (proc.returncode, stderr[-2000:])
    return checkpoint_epoch(run)
