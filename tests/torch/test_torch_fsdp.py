"""FSDP under torchrun (gloo, 2 CPU processes): the range test's snapshot is sharded.

fsdp_worker.py runs on each rank; the model, data and settings are test_torch_ddp's, so the
single-process reference is that test's too (float64; RTOL is explained there).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch.distributed.fsdp")

from test_torch_ddp import RTOL, SCHEDULE, SCHEDULE_STEPS, single_process

from cyclr.rangetest import RangeTestResult

HERE = os.path.dirname(os.path.abspath(__file__))


def torchrun(script, *args, timeout=120):
    """``torchrun --standalone --nproc_per_node=2 script args`` (its own free port), checked."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            os.path.join(HERE, script),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def reference():
    return single_process()


@pytest.mark.parametrize("kind", ["fsdp2", "fsdp1"])
def test_sharded_ranks_agree_restore_every_shard_and_match_one_process(tmp_path, kind, reference):
    torchrun("fsdp_worker.py", kind, str(tmp_path))
    zero, one = json.loads((tmp_path / "ranks.json").read_text())

    # Every rank records the same curve and trains the same (gathered) weights.
    for key in ("lrs", "momenta", "params", "result", "curves"):
        assert zero[key] == one[key], key

    # Restored bit for bit on every shard (weights, gradients, optimizer state, lrs, modes),
    # from memory, CPU memory and per-rank files, and after an exception.
    for rank in (zero, one):
        assert rank["restored"] == dict.fromkeys(("memory", "cpu", "files", "exception"), True)
        # each rank wrote its own file into checkpoint_dir, and removed it
        assert [name.split("-")[3] for name in rank["files_seen"]] == ["rank0", "rank1"]
        assert rank["files_after"] == []
    curves = zero["curves"]
    assert curves["memory"] == curves["cpu"] == curves["files"] and len(curves["memory"]) > 5

    # Never a gathered state: each rank holds half the weights, and its snapshot holds its
    # half of the weights, of the gradients and of the momentum buffers.
    for rank in (zero, one):
        assert rank["local_model_bytes"] * 2 == rank["full_model_bytes"]
        assert rank["snapshot_bytes"] == 3 * rank["local_model_bytes"]

    if kind == "fsdp1":  # use_orig_params=True: the parameters' views are saved once
        for rank in (zero, one):
            assert rank["orig_params_restored"]
            snapshot, weights = rank["orig_params_bytes"]
            assert weights == rank["local_model_bytes"] and snapshot == 3 * weights

    # The cyclical schedule over the sharded optimizer and the range test equal one process.
    lrs, momenta, params, single = reference
    assert zero["lrs"] == lrs == [SCHEDULE(i) for i in range(SCHEDULE_STEPS)]
    assert zero["momenta"] == momenta
    for got, expected in zip(zero["params"], params, strict=True):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL)
    result = RangeTestResult.from_dict(zero["result"])
    assert result.stop_reason == single.stop_reason == "diverged"
    assert len(result.losses) == len(single.losses) > 10
    np.testing.assert_allclose(result.losses, single.losses, rtol=RTOL)
    np.testing.assert_allclose(result.val_losses, single.val_losses, rtol=RTOL)
    np.testing.assert_array_equal(result.val_accuracies, single.val_accuracies)
    # Clipping: every shard scaled by the whole gradient's norm, as one process clips it
    # (float32: sums in another order differ by ~1e-7; a shard's own norm, by 7%).
    clipped = clipped_single_process()
    assert zero["clipped"] == one["clipped"]
    np.testing.assert_allclose(zero["clipped"], clipped, rtol=1e-5)
    # The same with the Linear layers sharded under a plain root (FSDP1: over two process
    # groups); each rank's own shard norm was 7% off under FSDP1.
    assert zero["nested_clipped"] == one["nested_clipped"]
    np.testing.assert_allclose(zero["nested_clipped"], clipped, rtol=1e-5)


def clipped_single_process():
    from test_torch_ddp import CLIPPED_RANGE_TEST, GLOBAL_BATCH, as_float32, datasets, model
    from test_torch_ddp import optimizer as make_optimizer
    from torch.utils.data import DataLoader

    from cyclr.torch import range_test

    train_set, _ = datasets()
    net = model().float()
    result = range_test(
        net,
        make_optimizer(net),
        torch.nn.functional.cross_entropy,
        DataLoader(train_set, batch_size=GLOBAL_BATCH),
        batch_fn=as_float32,
        **CLIPPED_RANGE_TEST,
    )
    return result.losses.tolist()


def test_cpu_offload_and_checkpoint_dir_together_are_refused(tmp_path):
    from cyclr.torch import range_test

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"cpu_offload=True or checkpoint_dir, not both"):
        range_test(model, opt, None, [], cpu_offload=True, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"received cpu_offload='yes'"):
        range_test(model, opt, None, [], cpu_offload="yes")


def test_cpu_offload_on_one_process_restores_bit_for_bit():
    from test_torch_range_test import assert_same, digits, everything, mlp, train

    from cyclr import RangeTestSettings
    from cyclr.torch import range_test

    train_loader, _ = digits()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, opt, train_loader, 3)
    before = everything(model, opt)
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        train_loader,
        settings=RangeTestSettings(1e-4, 10.0, 20),
        cpu_offload=True,
    )
    assert_same(before, everything(model, opt))
    assert len(result.losses) > 5


def test_the_snapshot_holds_each_ranks_shards_and_files_hold_nothing_in_memory(tmp_path):
    """fsdp_memory_worker.py, small: docs/scale.md's table for N = 1.6e6 on 2 ranks."""
    run = torchrun("fsdp_memory_worker.py", str(tmp_path), "1.6e6")
    rows = {row["storage"]: row for row in json.loads((tmp_path / "memory.json").read_text())}
    assert sorted(rows) == ["cpu", "files", "memory"]
    print(run.stdout)
    for row in rows.values():
        assert row["ranks"] == 2 and row["local_params"] * 2 == row["params"]
        # weights, gradients and AdamW's two moments of this rank's half, and nothing else
        # (the moments' step counters: 4 bytes per parameter tensor; a file adds its header)
        expected = 16 * row["local_params"] / 2**20
        assert expected <= row["snapshot_mb"] < expected + 0.05
    # In memory (on CPU: the same as offloaded) the snapshot is resident while the test runs
    # and taking it peaks at no more than it holds, give or take the allocator's slack;
    # with files the rank keeps nothing of it.
    for storage in ("memory", "cpu"):
        row = rows[storage]
        assert 0.8 * row["snapshot_mb"] < row["held_rss_mb"] < 1.2 * row["snapshot_mb"]
        assert row["peak_rss_mb"] < 1.2 * row["snapshot_mb"]
    assert rows["files"]["held_rss_mb"] < 0.2 * rows["files"]["snapshot_mb"]
