"""recommend() (deprecated): the bounds in a CyclicSchedule with a half cycle of whole epochs."""

import numpy as np
import pytest

import cyclr
from cyclr.rangetest import RangeTestResult, lr_ladder, recommend, smooth_losses

pytestmark = pytest.mark.filterwarnings("ignore:recommend is deprecated:DeprecationWarning")


def result():
    lrs = lr_ladder(1e-4, 1.0, 41)
    losses = 2.0 - np.tanh(np.log10(lrs) + 2.0)
    return RangeTestResult(lrs, losses, smooth_losses(losses), "end_of_ladder")


def test_recommend_uses_the_bounds_and_epochs_of_steps():
    r = result()
    s = recommend(r, n_samples=1000, batch_size=32, epochs_per_half_cycle=2)
    bounds = r.bounds()
    assert s == cyclr.CyclicSchedule(*r.bounds(), step_size=cyclr.step_size_for(1000, 32, 2))
    assert (s.base_lr, s.max_lr, s.step_size) == (bounds.base_lr, bounds.max_lr, 2 * 32)
    assert s(0) == bounds.base_lr and s(64) == bounds.max_lr and s(128) == bounds.base_lr


def test_recommend_defaults_to_four_epochs_and_passes_schedule_options():
    s = recommend(result(), 60000, 50, mode="triangular2")
    assert s.step_size == 4800 and s.mode == "triangular2"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(n_samples=0, batch_size=32), "n_samples must be >= 1; received n_samples=0"),
        (dict(n_samples=100, batch_size=2.5), "batch_size must be an integer"),
        (
            dict(n_samples=100, batch_size=10, epochs_per_half_cycle=0),
            "epochs_per_half_cycle must be > 0; received epochs_per_half_cycle=0",
        ),
    ],
)
def test_recommend_rejects_bad_counts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        recommend(result(), **kwargs)


def test_recommend_warns_and_names_what_to_write_instead():
    with pytest.warns(DeprecationWarning, match=r"CyclicSchedule\(\*result.bounds\(\)"):
        recommend(result(), 1000, 32)
