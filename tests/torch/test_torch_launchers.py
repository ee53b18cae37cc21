"""cyclr under real launchers, each in a subprocess on 2 CPU processes (gloo).

- ``accelerate launch``: the range test through ``accelerator.prepare``'d objects, and a
  prepared ``CyclicLR`` whose cycle counts optimizer updates.
- Ray Train's ``TorchTrainer`` with 2 CPU workers: a range test and CLR training inside
  ``train_loop_per_worker``, the bounds reported through Ray's result.

The model, data and schedule are test_torch_ddp's (float64; RTOL is explained there).
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_torch_ddp import GLOBAL_BATCH, RTOL, SCHEDULE, SCHEDULE_STEPS, datasets, model, optimizer

from cyclr.rangetest import RangeTestResult, RangeTestSettings

HERE = os.path.dirname(os.path.abspath(__file__))
#: the range test the workers run through their engine
LADDER = RangeTestSettings(1e-3, 1e3, 40)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(command, timeout, **env_extra):
    env = dict(os.environ, OMP_NUM_THREADS="1", **env_extra)
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def single_process_range_test():
    from torch.utils.data import DataLoader

    from cyclr.torch import range_test

    train_set, _ = datasets()
    net = model()
    loader = DataLoader(train_set, batch_size=GLOBAL_BATCH)
    return range_test(
        net, optimizer(net), torch.nn.functional.cross_entropy, loader, settings=LADDER
    )


def test_accelerate_launch_range_test_through_prepared_objects_and_a_cycle_of_updates(tmp_path):
    pytest.importorskip("accelerate")
    # `accelerate launch --cpu --num_processes 2` starts ONE process (accelerate 1.15 sends
    # --cpu to its simple launcher; several CPU processes need --mpirun_hostfile and MPI).
    # --multi_gpu starts them through torchrun; Accelerator(cpu=True) then runs on gloo.
    launch(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes=2",
            "--num_machines=1",
            "--mixed_precision=no",
            "--dynamo_backend=no",
            f"--main_process_port={free_port()}",
            os.path.join(HERE, "accelerate_worker.py"),
            str(tmp_path),
        ],
        timeout=120,
    )
    zero, one = json.loads((tmp_path / "ranks.json").read_text())
    assert zero == one and zero["num_processes"] == 2
    expected = [SCHEDULE(i) for i in range(SCHEDULE_STEPS)]
    # accelerate's default steps a prepared scheduler once per process per update: the
    # cycle runs num_processes times too fast ...
    assert zero["default"] == [SCHEDULE(2 * i) for i in range(SCHEDULE_STEPS)]
    assert zero["default"] != expected
    # ... and with step_scheduler_with_optimizer=False it counts optimizer updates.
    assert zero["lrs"] == expected
    assert zero["momenta"] == [SCHEDULE.momentum(i) for i in range(SCHEDULE_STEPS)]

    # The range test through the prepared model, optimizer and loader (accelerate's backward
    # and step in step_fn): restored, and the curve of one process with the global batch.
    assert zero["restored"]
    result = RangeTestResult.from_dict(zero["result"])
    single = single_process_range_test()
    assert result.stop_reason == single.stop_reason == "diverged"
    assert len(result.losses) == len(single.losses) > 10
    np.testing.assert_allclose(result.losses, single.losses, rtol=RTOL)
    assert zero["bounds"] == list(result.bounds())
    assert zero["bounds_lrs"] == zero["bounds_expected"]


@pytest.mark.slow  # about 30 s: Ray starts its own cluster (2 CPUs) and worker processes
def test_ray_train_torch_trainer_runs_the_range_test_and_a_cycle_in_each_worker(tmp_path):
    pytest.importorskip("ray.train.torch")
    launch(
        [sys.executable, os.path.join(HERE, "ray_worker.py"), str(tmp_path)],
        timeout=240,
        RAY_USAGE_STATS_ENABLED="0",
    )
    report = json.loads((tmp_path / "result.json").read_text())
    zero, one = report["workers"]
    assert [zero["rank"], one["rank"], zero["world"]] == [0, 1, 2]
    # The bounds came back through Ray's result (its metrics and its checkpoint) ...
    assert report["bounds"] == report["checkpointed"]
    # ... every worker measured the same curve, restored the model, cycled from the bounds.
    assert zero["losses"] == one["losses"] and zero["restored"] and one["restored"]
    assert zero["lrs"] == one["lrs"] == zero["expected_lrs"]
    # The same curve as one process with the global batch (Ray's DistributedSampler shards
    # the unshuffled data as torchrun's does), so the same bounds.
    single = single_process_range_test()
    np.testing.assert_allclose(zero["losses"], single.losses, rtol=RTOL)
    np.testing.assert_allclose(report["bounds"], single.bounds(), rtol=1e-6)
