"""Two processes under torchrun (gloo, CPU) agree with each other and with one process.

The helpers here are shared with ddp_worker.py, so both sides build the same model, data and
settings. Everything runs in float64 (see the tolerance below).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cyclr import CyclicSchedule
from cyclr.rangetest import RangeTestResult, RangeTestSettings

GLOBAL_BATCH = 32
SCHEDULE = CyclicSchedule(0.01, 0.1, step_size=4, base_momentum=0.8, max_momentum=0.95)
SCHEDULE_STEPS = 24
RANGE_TEST = dict(settings=RangeTestSettings(1e-3, 1e3, 40, val_every=5))
# Gradients clipped to a norm below theirs from the first rung on (fsdp_worker.py, float32).
CLIPPED_RANGE_TEST = dict(settings=RangeTestSettings(1e-3, 10.0, 25), max_grad_norm=0.05)


def as_float32(batch):
    """``batch_fn`` for float32 runs of the float64 data."""
    x, y = batch
    return x.float(), y


# The only difference between the runs is the order of float64 additions: a mean over 32
# samples against the mean of two means over 16 (the loss), and one gradient against the
# all-reduced average of two (DDP). Each rounds at ~1e-16 relative; a few dozen SGD steps can
# amplify that by the Jacobians of the updates, which near divergence (lr ~ 10) grow fast.
# Measured: 2e-13 at worst (the val loss two rungs before divergence), parameters 1e-16.
# 1e-8 leaves orders of magnitude for that, while a real fault (a loss that is not averaged,
# a gradient summed instead of averaged, a skipped or extra batch) is off by >= 1e-3.
RTOL = 1e-8


def datasets():
    from torch.utils.data import TensorDataset

    from cyclr.app.datasets import load_digits

    x, y, xt, yt = load_digits()
    # Sizes divisible by the global batch, so every rank's shard batches line up with it.
    return (
        TensorDataset(torch.from_numpy(x[:512]).double(), torch.from_numpy(y[:512])),
        TensorDataset(torch.from_numpy(xt[:128]).double(), torch.from_numpy(yt[:128])),
    )


def model():
    from cyclr.app.torch_models import MLP

    torch.manual_seed(0)
    return MLP(64, hidden=(32,)).double()


def optimizer(net):
    return torch.optim.SGD(net.parameters(), lr=0.0, momentum=0.9)


def train_with_schedule(net, opt, sched, loader):
    lrs, momenta, done = [], [], 0
    while done < SCHEDULE_STEPS:
        for x, y in loader:
            lrs.append(opt.param_groups[0]["lr"])
            momenta.append(opt.param_groups[0]["momentum"])
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
            sched.step()
            done += 1
            if done == SCHEDULE_STEPS:
                break
    return lrs, momenta


def single_process():
    from torch.utils.data import DataLoader

    from cyclr.torch import CyclicLR, range_test

    train_set, val_set = datasets()
    net = model()
    opt = optimizer(net)
    lrs, momenta = train_with_schedule(
        net, opt, CyclicLR(opt, SCHEDULE), DataLoader(train_set, batch_size=GLOBAL_BATCH)
    )
    params = [p.detach().flatten().tolist() for p in net.parameters()]
    net = model()
    result = range_test(
        net,
        optimizer(net),
        torch.nn.functional.cross_entropy,
        DataLoader(train_set, batch_size=GLOBAL_BATCH),
        val_loader=DataLoader(val_set, batch_size=GLOBAL_BATCH),
        val_accuracy=True,
        **RANGE_TEST,
    )
    return lrs, momenta, params, result


def test_two_ranks_agree_with_each_other_and_with_one_process(tmp_path):
    worker = os.path.join(os.path.dirname(__file__), "ddp_worker.py")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # --standalone starts its own rendezvous on a free port.
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            worker,
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    # Only rank 0 wrote: its gathered report and its own range-test result.
    assert sorted(os.listdir(tmp_path)) == ["ranks.json", "result-rank0.json"]
    ranks = json.loads((tmp_path / "ranks.json").read_text())
    zero, one = ranks
    assert [zero["is_main"], one["is_main"]] == [True, False]
    assert zero["restored"] and one["restored"]
    # average_gradients: the mean over the ranks, on both (b had a gradient on rank 0 only)
    assert zero["averaged"] == one["averaged"]
    assert zero["averaged"] == [[True, [1.5, 3.0]], [True, [2.0, 3.0]], None, [True, [0.5]]]

    # Identical across ranks: rates, trained weights and the whole range-test result.
    for key in ("lrs", "momenta", "params", "result"):
        assert zero[key] == one[key], key
    result = RangeTestResult.from_dict(zero["result"])
    assert RangeTestResult.from_json(tmp_path / "result-rank0.json") == result

    lrs, momenta, params, single = single_process()
    assert zero["lrs"] == lrs == [SCHEDULE(i) for i in range(SCHEDULE_STEPS)]
    assert zero["momenta"] == momenta
    for got, expected in zip(zero["params"], params, strict=False):
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL)
    assert result.stop_reason == single.stop_reason == "diverged"
    assert len(result.losses) == len(single.losses) > 10
    np.testing.assert_allclose(result.losses, single.losses, rtol=RTOL)
    np.testing.assert_allclose(result.val_losses, single.val_losses, rtol=RTOL)
    np.testing.assert_array_equal(result.val_accuracies, single.val_accuracies)
