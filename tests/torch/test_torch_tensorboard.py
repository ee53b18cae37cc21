"""examples/torch_tensorboard.py writes the scheduler's lr and momentum to TensorBoard."""

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tensorboard")

import cyclr

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "torch_tensorboard.py")


def read_scalars(run_dir):
    """``{tag: (steps, values)}`` read back with the tensorboard package's reader."""
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(run_dir), size_guidance={ea.SCALARS: 0})
    acc.Reload()
    found = {}
    for tag in acc.Tags()["scalars"]:
        events = acc.Scalars(tag)
        found[tag] = ([e.step for e in events], np.array([e.value for e in events]))
    return found


def test_example_writes_the_schedules_values_every_step(tmp_path):
    logdir = tmp_path / "run"
    steps, base_lr, max_lr, step_size = 30, 0.02, 0.2, 7
    run = subprocess.run(
        [
            sys.executable,
            EXAMPLE,
            "--logdir",
            str(logdir),
            "--steps",
            str(steps),
            "--base-lr",
            str(base_lr),
            "--max-lr",
            str(max_lr),
            "--step-size",
            str(step_size),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=dict(os.environ, OMP_NUM_THREADS="2"),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"wrote {steps} steps" in run.stdout

    scalars = read_scalars(logdir)
    assert sorted(scalars) == ["loss", "lr/body", "lr/head", "momentum/body", "momentum/head"]
    schedule = cyclr.CyclicSchedule(
        base_lr, max_lr, step_size=step_size, base_momentum=0.85, max_momentum=0.95
    )
    expected_lr = np.array([schedule(k) for k in range(steps)])
    expected_m = np.array([schedule.momentum(k) for k in range(steps)])
    for tag in scalars:
        assert scalars[tag][0] == list(range(steps)), tag
    # event files hold float32
    np.testing.assert_allclose(scalars["lr/body"][1], expected_lr, rtol=1e-6)
    np.testing.assert_allclose(scalars["lr/head"][1], 0.1 * expected_lr, rtol=1e-6)
    np.testing.assert_allclose(scalars["momentum/body"][1], expected_m, rtol=1e-6)
    np.testing.assert_allclose(scalars["momentum/head"][1], expected_m, rtol=1e-6)
    assert len(set(np.round(scalars["lr/body"][1], 6))) > 5  # it cycles
    assert np.all(np.isfinite(scalars["loss"][1]))


def test_example_values_are_what_the_scheduler_sets():
    """What the example reads (get_last_lr, get_last_momentum) is the scheduler's value."""
    from cyclr.torch import CyclicLR

    params = [torch.zeros(2, requires_grad=True)]
    schedule = cyclr.CyclicSchedule(0.1, 1.0, step_size=3, base_momentum=0.8, max_momentum=0.9)
    for optimizer in (torch.optim.SGD(params, lr=0.1, momentum=0.9), torch.optim.Adam(params)):
        scheduler = CyclicLR(optimizer, schedule)
        for step in range(8):
            assert scheduler.get_last_lr() == scheduler.lrs_at(step) == [schedule(step)]
            assert scheduler.get_last_momentum() == scheduler.momenta_at(step)
            assert scheduler.get_last_momentum() == [schedule.momentum(step)]
            optimizer.step()
            scheduler.step()
