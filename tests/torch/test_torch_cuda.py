"""cyclr.torch on a CUDA device, where CI has none: skipped without one.

The range test leaves no trace on the GPU either (weights, optimizer state, the device's
random generator, a float16 ``GradScaler``), ``cpu_offload=True`` keeps its copy of the
starting state off the GPU, float16 with a scaler reads the bounds float32 reads, and
``SyncBatchNorm`` under DDP recalibrates its validation averages on the global batch.
"""

import copy
import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

import torch.nn.functional as F
from test_torch_range_test import assert_same, digits, everything

from cyclr import RangeTestSettings
from cyclr.torch import range_test

CUDA = torch.device("cuda")
HERE = os.path.dirname(os.path.abspath(__file__))


def net(seed=0, width=64, inputs=64):
    """An MLP with BatchNorm and dropout (both draw on or keep state on the device)."""
    torch.manual_seed(seed)
    layers = [
        torch.nn.Flatten(),
        torch.nn.Linear(inputs, width),
        torch.nn.BatchNorm1d(width),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(width, 10),
    ]
    return torch.nn.Sequential(*layers).to(CUDA)


def on_gpu(loader):
    return [(x.to(CUDA), y.to(CUDA)) for x, y in loader]


def trained(amp):
    """A network after three AdamW updates (a scaled one too under float16), in eval mode."""
    train_loader, test_loader = digits()
    batches, val = on_gpu(train_loader), on_gpu(test_loader)
    model = net()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", init_scale=2.0**12) if amp == "float16" else None
    for x, y in batches[:3]:
        opt.zero_grad()
        with torch.autocast("cuda", dtype=torch.float16, enabled=scaler is not None):
            loss = F.cross_entropy(model(x), y)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
    model.eval()
    return model, opt, scaler, batches, val


@pytest.mark.parametrize("amp", [False, "bfloat16", "float16"])
def test_the_range_test_on_the_gpu_restores_everything_the_devices_rng_included(amp):
    model, opt, scaler, batches, val = trained(amp)
    before = everything(model, opt)
    cuda_rng = torch.cuda.get_rng_state()
    scaler_state = None if scaler is None else copy.deepcopy(scaler.state_dict())
    result = range_test(
        model,
        opt,
        F.cross_entropy,
        batches,
        settings=RangeTestSettings(1e-5, 10.0, 120, val_every=4),
        val_loader=val,
        amp=amp,
        grad_scaler=scaler,
        max_grad_norm=5.0,
    )
    assert_same(before, everything(model, opt))
    assert torch.equal(torch.cuda.get_rng_state(), cuda_rng)  # dropout drew on the device
    if scaler is not None:
        assert scaler.state_dict() == scaler_state
    assert all(p.is_cuda for p in model.parameters())
    assert all(opt.state[p]["exp_avg"].is_cuda for p in model.parameters())
    base_lr, max_lr = result.bounds()
    assert 0 < base_lr < max_lr and result.settings.monitor == "val_loss"


@pytest.mark.parametrize("seed", [0, 1])
def test_float16_with_a_scaler_reads_the_bounds_float32_reads_on_the_gpu(seed):
    """Within the ladder's resolution (two rungs), as on the CPU."""
    readings = []
    for amp in (False, "float16"):
        train_loader, _ = digits()
        model = net(seed)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        torch.manual_seed(100 + seed)
        batches = on_gpu(train_loader)
        result = range_test(
            model,
            opt,
            F.cross_entropy,
            batches,
            settings=RangeTestSettings(1e-4, 10.0, 60),
            amp=amp,
        )
        readings.append(result.bounds())
    full, half = readings
    assert abs(full.base_index - half.base_index) <= 2
    assert abs(full.max_index - half.max_index) <= 2


def test_cpu_offload_keeps_the_starting_state_off_the_gpu_and_restores_it():
    """A 4-million-parameter network with AdamW's two moments: 48 MB of state. In the
    device's memory the snapshot adds that much to the test's peak; offloaded, nothing."""
    x = torch.randn(64, 512, device=CUDA)
    y = torch.randint(0, 10, (64,), device=CUDA)
    peaks = {}
    for offload in (False, True):
        model = net(width=4096, inputs=512)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        before = everything(model, opt)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        start = torch.cuda.memory_allocated()
        range_test(
            model,
            opt,
            F.cross_entropy,
            [(x, y)],
            settings=RangeTestSettings(1e-5, 1.0, 5),
            cpu_offload=offload,
        )
        peaks[offload] = torch.cuda.max_memory_allocated() - start
        assert_same(before, everything(model, opt))
        del model, opt, before
        torch.cuda.empty_cache()
    state_bytes = 3 * 4 * sum(p.numel() for p in net(width=4096, inputs=512).parameters())
    assert peaks[False] - peaks[True] > 0.9 * state_bytes, (peaks, state_bytes)


def test_sync_batchnorm_on_two_ranks_validates_with_the_global_batchs_averages(tmp_path):
    """Two processes on one GPU (gloo carries CUDA tensors), SyncBatchNorm under DDP, each
    rank half of every batch; against one process with plain BatchNorm and whole batches:
    the same training and validation losses, and every rank left as it was."""
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         os.path.join(HERE, "sync_bn_worker.py"), str(tmp_path)],
        env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    from sync_bn_worker import reference

    losses, val_losses = reference()
    assert sum(v == v for v in val_losses) >= 8  # validated every 4th rung
    for rank in ranks:
        assert rank["restored"], rank
        # float64: only the order of the sums differs (see test_torch_ddp.py's RTOL)
        assert rank["losses"] == pytest.approx(losses, rel=1e-8)
        assert rank["val_losses"] == pytest.approx(val_losses, rel=1e-8, nan_ok=True)
    assert ranks[0] == ranks[1]
