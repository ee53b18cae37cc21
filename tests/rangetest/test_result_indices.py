"""Every reading's index is a rung of ``result.lrs``, whichever curve it read."""

import math

import numpy as np
import pytest

import cyclr
from cyclr.rangetest import (
    BoundsSettings,
    RangeTestResult,
    RangeTestSettings,
    lr_ladder,
    smooth_losses,
)


def validation_read_result(every=3, n=240):
    """A training curve and a validation curve measured every ``every`` rungs, NaN between."""
    lrs = lr_ladder(1e-5, 10.0, n)
    x = np.log10(lrs)
    rng = np.random.default_rng(0)
    losses = 2.3 - 2.0 / (1 + np.exp(-3 * (x + 2))) + 0.5 * np.maximum(x + 0.5, 0) ** 2
    losses = losses + rng.normal(0, 0.02, n)
    val = 2.3 - 1.8 / (1 + np.exp(-3 * (x + 2.5))) + 0.8 * np.maximum(x + 1, 0) ** 2
    val_losses = np.where(np.arange(n) % every == 0, val, math.nan)
    return RangeTestResult(
        lrs,
        losses,
        smooth_losses(losses),
        "end_of_ladder",
        RangeTestSettings(1e-5, 10.0, n, monitor="val_loss"),
        val_losses=val_losses,
    )


def test_single_readings_of_the_validation_curve_index_the_rungs_of_lrs():
    result = validation_read_result()
    found = result.suggestions("val_loss")
    assert found["steepest"] is not None and found["valley"] is not None
    for name in ("steepest", "valley"):
        s = found[name]
        assert result.lrs[s.index] == s.lr, name
        assert not math.isnan(result.val_losses[s.index]), name
    low = found["minimum"]
    assert low is not None and result.lrs[low.index] / 10 == low.lr
    assert not math.isnan(result.val_losses[low.index])


def test_bounds_of_the_validation_curve_index_the_measured_rungs_nearest_them():
    result = validation_read_result()
    b = result.bounds("val_loss")
    measured = np.flatnonzero(~np.isnan(result.val_losses))
    for lr, index in ((b.base_lr, b.base_index), (b.max_lr, b.max_index)):
        assert index in measured
        nearest = measured[np.argmin(np.abs(np.log(result.lrs[measured]) - math.log(lr)))]
        assert index == nearest


def test_readings_of_the_training_curve_keep_their_rungs():
    result = validation_read_result()
    s = result.suggestions("loss")["steepest"]
    assert s is not None and result.lrs[s.index] == s.lr


def test_a_real_validation_read_range_test_indexes_its_rungs():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader, TensorDataset

    import cyclr.torch

    torch.manual_seed(0)
    x = torch.randn(512, 8)
    y = (x @ torch.randn(8, 3)).argmax(dim=1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(x[:384], y[:384]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[384:], y[384:]), batch_size=128)
    result = cyclr.torch.range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        loader,
        settings=cyclr.RangeTestSettings(1e-4, 10.0, 120, val_every=4),
        val_loader=val,
        progress=False,
    )
    assert result.settings.monitor == "val_loss"
    for s in result.suggestions().values():
        if s is not None:
            assert not math.isnan(result.val_losses[s.index])
    steepest = result.suggestions()["steepest"]
    assert steepest is not None and result.lrs[steepest.index] == steepest.lr
    b = result.bounds()
    assert not math.isnan(result.val_losses[b.base_index])
    assert not math.isnan(result.val_losses[b.max_index])


def test_bounds_settings_are_what_bounds_reads_a_sparse_curve_with():
    lrs = lr_ladder(1e-5, 10.0, 451)
    x = np.log10(lrs)
    loss = 2.3 - 1.5 / (1 + np.exp(-(x + 3) * 3)) + np.exp((x - 0.2) * 4)
    val = np.full_like(loss, np.nan)
    val[::3] = loss[::3] + 0.1
    r = cyclr.RangeTestResult(lrs, loss, smooth_losses(loss, 0.98), "end_of_ladder", val_losses=val)
    k = r.bounds_settings()
    assert k.delay == round(BoundsSettings().delay / 3) != BoundsSettings().delay
    assert r.bounds_settings("loss") == BoundsSettings()
    c_lrs, values, mode = r.curve()
    read = cyclr.suggest_bounds(c_lrs, values, mode=mode, settings=k)
    assert (read.base_lr, read.max_lr) == tuple(r.bounds())
