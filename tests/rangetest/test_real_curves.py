"""Suggestions on range tests recorded from real training runs (tests/rangetest/fixtures/).

The fixtures come from
``python -m bench.suggest_bounds --record-fixtures tests/rangetest/fixtures``:
PyTorch, SGD with momentum 0.9, exp ladder 1e-4 -> 10 (batch 32) or 1e-4 -> 3 (batch 8,
noisier), 400 rungs, seed 0 (batch 32) or 1 (batch 8); the batch-32 ones also carry the
accuracy on 500 held-out examples at every rung.
"""

import math
from pathlib import Path

import numpy as np
import pytest

from cyclr.rangetest import (
    BoundsSettings,
    RangeTestResult,
    minimum,
    steepest,
    suggest_bounds,
    valley,
)

FIXTURES = Path(__file__).parent / "fixtures"
NAMES = [
    "digits_seed_cnn",
    "mnist1d_cnn1d",
    "mnist1d_mlp",
    "digits_seed_cnn_batch8",
    "mnist1d_cnn1d_batch8",
    "mnist1d_mlp_batch8",
]

# max_lr that trained well, measured with bench/suggest_bounds.py's training (triangular
# cycle, base = max / 4, 8 epochs, seeds 0 and 1; test accuracy in %):
#   max_lr                0.05   0.07   0.1    0.14   0.2
#   digits / seed CNN     97.1   97.2   96.8   96.9   70.0
#   MNIST-1D / 1-D CNN    85.0   88.6   89.3   73.3   41.1
#   MNIST-1D / MLP        61.3   61.6   63.8   64.6   51.5
# so a max_lr must stay below the cliff and near the best rates of each task:
GOOD_MAX_LR = {
    "digits_seed_cnn": (0.05, 0.14),
    "mnist1d_cnn1d": (0.05, 0.11),
    "mnist1d_mlp": (0.07, 0.15),
}


def load(name):
    return RangeTestResult.from_json(FIXTURES / f"{name}.json")


def moving_average(values, width=21):
    """An independent check on the reading: a plain centred mean, not the reader's smoother."""
    padded = np.pad(values, width // 2, mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def finite_part(result):
    finite = np.isfinite(result.losses)
    end = finite.size if finite.all() else int(np.argmin(finite))
    return result.lrs[:end], result.losses[:end]


@pytest.mark.parametrize("name", NAMES)
def test_fixture_is_a_real_range_test(name):
    result = load(name)
    assert result.settings.step_mode == "exp" and result.settings.num_steps == 400
    assert result.lrs.size >= 200 and result.stop_reason in ("diverged", "end_of_ladder")
    assert np.all(np.diff(result.lrs) > 0)


@pytest.mark.parametrize("name", NAMES)
def test_bounds_sit_on_the_fall_before_the_climb(name):
    lrs, losses = finite_part(load(name))
    b = suggest_bounds(lrs, losses)
    curve = moving_average(losses)
    bottom = int(np.argmin(curve))
    plateau = curve[: bottom + 1].max()
    fallen = (plateau - curve) / (plateau - curve[bottom])
    climb = bottom + int(np.flatnonzero(fallen[bottom:] < 2.0 / 3.0)[0])
    # the reading without the max_ratio window: base_lr before the loss has done a fifth
    # of its fall
    fall = suggest_bounds(lrs, losses, settings=BoundsSettings(max_ratio=math.inf))
    assert fallen[fall.base_index] < 0.2
    assert b.max_lr == fall.max_lr
    # max_lr before the blow-up: before the rung where this independent smoother sees the
    # loss climb back a third of its fall, and on the batch-32 curves 2x below it (the
    # reading: between 3x below its own and 15 rungs before the bottom). On batch 8 the
    # two smoothers can disagree on the climb by more than that: mnist1d_mlp_batch8's
    # shallow dip has outlier batches (1.4 against a floor of 1.9) that pull this plain
    # mean down and its climb early (0.041; the running median of the reading sees it at 0.1)
    assert b.max_index < climb
    if "batch8" not in name:
        assert lrs[climb] / b.max_lr >= 2.0
    # with the window, base_lr is that rate, or max_lr / 10 where the fall starts more than
    # a decade below max_lr (mnist1d_mlp: its loss falls by 0.04 and then creeps down to a
    # bottom at 0.19; max_lr is 0.11 and the fall starts at 0.004)
    assert b.base_lr == fall.base_lr or b.base_lr == pytest.approx(b.max_lr / 10.0, rel=1e-9)
    assert 4.0 * (1 - 1e-9) <= b.max_lr / b.base_lr <= 10.0 * (1 + 1e-9)


@pytest.mark.parametrize("name", sorted(GOOD_MAX_LR))
def test_max_lr_is_where_training_went_well(name):
    low, high = GOOD_MAX_LR[name]
    lrs, losses = finite_part(load(name))
    assert low <= suggest_bounds(lrs, losses).max_lr <= high


@pytest.mark.parametrize("name", sorted(GOOD_MAX_LR))
def test_accuracy_reading_of_the_held_out_curve_keeps_its_order(name):
    result = load(name)
    b = result.bounds("val_accuracy")
    # the held-out accuracy tells the loss's story: both bounds within a factor of 3 of the
    # loss's (on digits the accuracy reads about half the loss's max_lr; on MNIST-1D about
    # 1.2x), and max_lr below 0.2, where every task's training breaks down (table above)
    loss = result.bounds("loss")
    assert 1 / 3 < b.max_lr / loss.max_lr < 3 and 1 / 3 < b.base_lr / loss.base_lr < 3
    assert b.base_lr < b.max_lr < 0.2
    lrs, values, mode = result.curve("val_accuracy")
    np.testing.assert_array_equal(values, result.val_accuracies)
    assert mode == "accuracy" and lrs.size == result.lrs.size


@pytest.mark.parametrize("name", NAMES)
def test_single_suggestions_read_real_curves_in_their_order(name):
    lrs, losses = finite_part(load(name))
    curve = moving_average(losses)  # an independent smoother, not the readers' EMA
    bottom = int(np.argmin(curve))
    plateau = curve[: bottom + 1].max()
    fallen = (plateau - curve) / (plateau - curve[bottom])
    low, fast, least = valley(lrs, losses), steepest(lrs, losses), minimum(lrs, losses)
    # valley: the middle of the longest descent, which on these curves starts at the plateau,
    # so the loss has barely begun to fall there; steepest: inside the fall, past its middle
    # (the EMA lags); minimum: the EMA's bottom, which lags the true bottom, its lr a tenth.
    assert fallen[low.index] < 0.15 and low.index < fast.index
    assert fallen[fast.index] > 0.5 and fast.index <= least.index
    assert least.index >= bottom - 5 and least.lr == lrs[least.index] / 10
