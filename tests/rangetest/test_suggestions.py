"""Suggestions read off synthetic curves whose answers are known, and their edge cases."""

import math
import pickle

import numpy as np
import pytest

from cyclr.rangetest import (
    MIN_POINTS,
    BoundsSettings,
    BoundsSuggestion,
    Suggestion,
    lr_ladder,
    minimum,
    robust_smooth,
    steepest,
    suggest_bounds,
    valley,
)
from cyclr.rangetest.bounds import FINE_TUNING_DECADES, window_rungs


def read(lrs, losses, mode="loss", **knobs):
    """``suggest_bounds`` with the knobs of its settings as keywords; no delay by default.

    These curves are functions of the rate alone: the loss at a rung answers that rung's
    rate, where a network's answers the rate of a few updates before (the default
    ``delay``, tested in test_ladder_invariance.py on curves that have one).
    """
    knobs.setdefault("delay", 0)
    return suggest_bounds(lrs, losses, mode=mode, settings=BoundsSettings(**knobs))


def sigmoid_curve(
    n=300, *, k=3.0, centre=-2.0, blowup=-0.5, noise=0.05, seed=0, start=1e-5, end=10.0, drop=2.0
):
    """A plateau at 2.3, a sigmoid fall of ``drop`` centred at 10**centre (``k`` per decade),
    then a quadratic blow-up from 10**blowup; batch noise of std ``noise`` on top.

    Returns the ladder, the noisy losses and the noise-free curve.
    """
    lrs = lr_ladder(start, end, n)
    z = np.log10(lrs)
    clean = (
        2.3 - drop / (1.0 + np.exp(-k * (z - centre))) + 40.0 * np.clip(z - blowup, 0.0, None) ** 2
    )
    noisy = clean + noise * np.random.default_rng(seed).standard_normal(n)
    return lrs, noisy, clean


def assert_nearest(lrs, b):
    """``b``'s indexes are the rungs nearest its bounds (on the log axis)."""
    x = np.log10(lrs)
    for lr, index in ((b.base_lr, b.base_index), (b.max_lr, b.max_index)):
        assert np.argmin(np.abs(x - math.log10(lr))) == index


def fallen(clean, index):
    """How much of its total fall (plateau to bottom) the clean curve has done at ``index``."""
    bottom = int(np.argmin(clean))
    return (clean[0] - clean[index]) / (clean[0] - clean[bottom])


SHAPES = [
    dict(),
    dict(k=2.0),
    dict(k=5.0),
    dict(n=150),
    dict(n=600),
    dict(centre=-3.0),
    dict(noise=0.15),
    dict(drop=0.5, noise=0.03),
    dict(start=1e-4, end=1.0, n=200),
]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "shape", SHAPES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default"
)
def test_bounds_of_a_sigmoid_descent_then_blow_up(shape, seed):
    lrs, noisy, clean = sigmoid_curve(seed=seed, **shape)
    fall = read(lrs, noisy, max_ratio=math.inf)
    # the reading itself, without the max_ratio window: base_lr where the fall has clearly
    # begun but is far from done; max_lr where most of it is done and before the true
    # bottom (the blow-up starts there)
    assert 0.0 <= fallen(clean, fall.base_index) < 0.3
    assert fallen(clean, fall.max_index) > 0.75
    assert fall.max_index < int(np.argmin(clean))
    assert fall.max_lr / fall.base_lr >= 3.0
    # these falls run over about two decades (the recorded real ones over one), so their
    # start lies more than a decade below max_lr and the window lifts base_lr to
    # max_lr / 10; max_lr does not move
    b = read(lrs, noisy)
    assert fall.max_lr / fall.base_lr > 10.0
    assert b.max_lr == fall.max_lr
    assert b.base_lr == pytest.approx(b.max_lr / 10.0, rel=1e-9)
    # the bounds are points of the lr axis, not rounded to rungs; the indexes are the
    # nearest rungs, for a plot to mark
    assert_nearest(lrs, b)


@pytest.mark.parametrize("seed", range(4))
def test_a_fall_within_a_decade_keeps_its_start_as_base_lr(seed):
    # a sharp fall (k=8 per decade) close before the blow-up reads as a ratio of 8 to 9,
    # inside [min_ratio, max_ratio] = [4, 10]: the window changes nothing
    lrs, noisy, clean = sigmoid_curve(seed=seed, k=8.0, blowup=-1.3)
    b = read(lrs, noisy)
    assert b == read(lrs, noisy, max_ratio=math.inf)
    assert 4.0 * (1 - 1e-9) <= b.max_lr / b.base_lr <= 10.0 * (1 + 1e-9)
    assert fallen(clean, b.base_index) < 0.05 and fallen(clean, b.max_index) > 0.75


def test_the_ratio_window_holds_when_no_rung_lies_between_the_two_ratios():
    # a coarse ladder (x21.5 per rung): no rung between max_lr / 10 and max_lr / 4, but the
    # bounds are rates, not rungs: the window holds all the same
    lrs, noisy, _ = sigmoid_curve(n=10, start=1e-12, end=1.0, noise=0.0, centre=-6.0, blowup=-1.0)
    b = read(lrs, noisy, lag=1.33)
    assert 4.0 * (1 - 1e-9) <= b.max_lr / b.base_lr <= 10.0 * (1 + 1e-9)
    assert b.base_index in (b.max_index - 1, b.max_index)


def test_max_ratio_below_min_ratio_raises():
    lrs, noisy, _ = sigmoid_curve()
    with pytest.raises(ValueError, match="max_ratio must be >= min_ratio"):
        read(lrs, noisy, min_ratio=4.0, max_ratio=3.0)


@pytest.mark.parametrize("seed", range(4))
def test_an_early_spike_does_not_move_the_bounds(seed):
    lrs, noisy, _clean = sigmoid_curve(seed=seed)
    spiked = noisy.copy()
    spiked[[3, 40, 41]] = [30.0, 12.0, 15.0]  # one bad batch, and a burst of two
    with_spike, without = read(lrs, spiked), read(lrs, noisy)
    # the running median takes the spikes out; what is left nudges the plateau's top
    assert abs(with_spike.base_index - without.base_index) <= 2
    assert with_spike.max_index == without.max_index


@pytest.mark.parametrize("seed", range(4))
def test_a_curve_that_never_diverges_is_read_before_its_end(seed):
    lrs, noisy, clean = sigmoid_curve(blowup=5.0, seed=seed)  # falls, then flat to the end
    b = read(lrs, noisy)
    # where the fall is all but done, not out on the flat floor where the noise puts the
    # bottom (a reading from that bottom lands where 98-99.5% of the fall is done)
    assert 0.9 < fallen(clean, b.max_index) < 0.97
    assert 4.0 * (1 - 1e-9) <= b.max_lr / b.base_lr <= 10.0 * (1 + 1e-9)
    # without the max_ratio window, base_lr is where the fall begins
    assert fallen(clean, read(lrs, noisy, max_ratio=math.inf).base_index) < 0.3


def test_a_curve_that_diverges_almost_at_once_asks_for_a_lower_start_lr():
    # the fall is under way at the first rung and over within 4x of it: no base_lr fits
    lrs, noisy, _clean = sigmoid_curve(n=100, centre=-5.5, blowup=-4.6, k=4.0, noise=0.02)
    with pytest.raises(ValueError, match=r"falls from the first rung.*lower start_lr"):
        read(lrs, noisy)
    # started a decade lower, the same curve has room for both bounds
    lrs, noisy, _clean = sigmoid_curve(n=120, start=1e-6, centre=-5.5, blowup=-4.6, k=4.0)
    b = read(lrs, noisy)
    assert b.max_lr / b.base_lr >= 4.0 and b.max_lr < 10**-4.6


def test_a_curve_that_never_falls_raises():
    lrs = lr_ladder(1e-3, 1.0, 50)
    with pytest.raises(ValueError, match=r"loss never falls.*lower start_lr") as raised:
        read(lrs, np.linspace(1.0, 5.0, 50))
    assert "first rung, lr=0.001)" in str(raised.value)  # the value, not np.float64(...)


def test_the_curve_is_read_up_to_its_first_non_finite_value():
    lrs, noisy, _ = sigmoid_curve()
    cut = noisy.copy()
    cut[250] = math.nan
    cut[251:] = 1e6
    assert read(lrs, cut) == read(lrs[:250], noisy[:250])


def test_accuracy_curves_are_read_as_mirrored_losses():
    lrs, noisy, _ = sigmoid_curve()
    accuracy = 1.0 - noisy / 10.0
    assert read(lrs, accuracy, mode="accuracy") == read(lrs, noisy)
    assert steepest(lrs, accuracy, mode="accuracy") == steepest(lrs, -accuracy)
    assert valley(lrs, accuracy, mode="accuracy").index == valley(lrs, -accuracy).index
    with pytest.raises(ValueError, match="accuracy never rises"):
        read(lrs[:50], np.linspace(1.0, 0.0, 50), mode="accuracy")


def test_suggest_bounds_unpacks_as_the_pair_and_carries_the_rungs():
    lrs, noisy, _ = sigmoid_curve()
    b = suggest_bounds(lrs, noisy)
    base_lr, max_lr = b
    assert (base_lr, max_lr) == (b.base_lr, b.max_lr) == tuple(b) == b[:2]
    assert_nearest(lrs, b)
    assert len(b) == 2


def test_settings_must_be_bounds_settings():
    lrs, noisy, _ = sigmoid_curve()
    with pytest.raises(ValueError, match=r"settings=.*lag"):
        suggest_bounds(lrs, noisy, settings={"lag": 0.1})


def test_max_lr_is_the_geometric_mean_of_the_two_readings():
    lrs, noisy, _ = sigmoid_curve(noise=0.0)
    s = robust_smooth(noisy, window=window_rungs(lrs, BoundsSettings().window))
    bottom = int(np.argmin(s))
    drop = s[0] - s[bottom]
    floor_end = bottom + int(np.argmax(s[bottom:] > s[bottom] + 0.1 * drop)) - 1
    for lag, rise, backoff in [
        (0.3, 1 / 3, 3.0),
        (0.3, 0.1, 3.0),
        (0.3, 1.0, 3.0),
        (0.3, 1 / 3, 6.0),
        (0.1, 1 / 3, 3.0),
        (0.8, 1 / 3, 3.0),
    ]:
        # on the log-lr axis: the mean of two points, put on the nearest rung
        x, middle = np.log10(lrs), np.log10(lrs[bottom]) / 2  # the plateau's top is rung 0
        middle += np.log10(lrs[0]) / 2
        climb = bottom + int(np.argmax(s[bottom:] > s[bottom] + rise * drop))
        from_climb = min(max(x[climb] - math.log10(backoff), middle), x[floor_end])
        target = (max(x[bottom] - lag, middle) + from_climb) / 2
        b = read(lrs, noisy, lag=lag, rise=rise, backoff=backoff)
        assert abs(x[b.max_index] - target) <= (x[1] - x[0]) / 2 + 1e-12
    # the further back the climb is read, and the shorter the lag, the further right max_lr
    highs = [read(lrs, noisy, rise=r).max_index for r in (0.05, 0.3, 0.6, 1.0)]
    assert highs == sorted(highs) and len(set(highs)) == 4
    highs = [read(lrs, noisy, lag=lag).max_index for lag in (0.8, 0.3, 0.1, 0.0)]
    assert highs == sorted(highs) and len(set(highs)) == 4
    # and never off the floor (the rungs from the bottom on within a tenth of the fall of it)
    assert read(lrs, noisy, backoff=1.0, rise=1.0, lag=0).max_index <= floor_end


def test_lag_moves_base_lr_back_from_where_the_fall_shows():
    lrs, noisy, _ = sigmoid_curve(noise=0.0)
    per_rung = math.log10(lrs[1] / lrs[0])
    bases = [
        read(lrs, noisy, lag=rungs * per_rung, max_ratio=math.inf).base_index
        for rungs in (0, 5, 30)
    ]
    assert bases[0] - bases[1] == 5 and bases[0] - bases[2] == 30


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("rise", 0.0, "rise must be in"),
        ("rise", 1.5, "rise must be in"),
        ("backoff", 0.5, "backoff must be >= 1"),
    ],
)
def test_bad_rise_or_backoff_raises_naming_it(name, value, message):
    lrs, noisy, _ = sigmoid_curve()
    with pytest.raises(ValueError, match=f"{message}.*{name}={value!r}"):
        read(lrs, noisy, **{name: value})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fine_tuning_reads_both_bounds_a_factor_two_lower(seed):
    lrs, noisy, _ = sigmoid_curve(seed=seed)
    plain = read(lrs, noisy)
    tuned = read(lrs, noisy, fine_tuning=True)
    factor = 10.0**FINE_TUNING_DECADES
    assert FINE_TUNING_DECADES == 0.3 and round(factor, 2) == 2.0
    assert tuned.base_lr == pytest.approx(plain.base_lr / factor, rel=1e-12)
    assert tuned.max_lr == pytest.approx(plain.max_lr / factor, rel=1e-12)
    assert tuned.max_index < plain.max_index and tuned.base_index < plain.base_index
    assert_nearest(lrs, tuned)


def test_fine_tuning_must_be_a_bool():
    lrs, noisy, _ = sigmoid_curve()
    with pytest.raises(ValueError, match=r"fine_tuning must be True or False.*fine_tuning='yes'"):
        read(lrs, noisy, fine_tuning="yes")
    assert BoundsSettings(fine_tuning=np.bool_(True)).fine_tuning is True


@pytest.mark.parametrize("n", [0, 1, MIN_POINTS - 1])
def test_too_few_points_raise_naming_the_minimum(n):
    lrs = lr_ladder(1e-3, 1.0, 50)[:n]
    for reading in (suggest_bounds, steepest, valley, minimum):
        with pytest.raises(ValueError, match=f"at least {MIN_POINTS} finite losses"):
            reading(lrs, np.ones(n))


@pytest.mark.parametrize(
    "lrs,losses,message",
    [
        ([1.0, 2.0], [1.0], "same length"),
        (np.ones(12), np.ones(12), "strictly increasing"),
        (np.arange(12.0) - 1.0, np.ones(12), ">= 0"),
        ([[1.0]], [[1.0]], "one-dimensional"),
        (["a"] * 12, np.ones(12), "sequence of numbers"),
    ],
)
def test_bad_inputs_raise(lrs, losses, message):
    with pytest.raises(ValueError, match=message):
        steepest(lrs, losses)


def test_steepest_is_the_fastest_fall_per_decade():
    lrs = lr_ladder(1e-4, 1.0, 41)
    # 1 / (1 + (lr / 1e-2)**2) falls fastest (per log lr) exactly at lr = 1e-2
    assert steepest(lrs, 1.0 / (1.0 + (lrs / 1e-2) ** 2), beta=0.0) == Suggestion(lrs[20], 20)


def test_steepest_skips_the_ends():
    lrs = lr_ladder(1e-4, 1.0, 40)
    losses = np.ones(40)
    losses[0], losses[-1] = 10.0, -10.0  # steepest falls right at both ends
    assert 4 <= steepest(lrs, losses, beta=0.0).index < 36


def test_minimum_is_a_tenth_of_the_lowest_smoothed_loss():
    lrs = lr_ladder(1e-4, 1.0, 41)
    found = minimum(lrs, (np.log10(lrs) + 1.0) ** 2, beta=0.0)
    assert found.index == 30 and found.lr == lrs[30] / 10.0
    assert minimum(lrs, (np.log10(lrs) + 1.0) ** 2, beta=0.0, divisor=4.0).lr == lrs[30] / 4.0


def test_the_single_suggestions_read_the_spec_ema():
    lrs, noisy, _ = sigmoid_curve()
    from cyclr.rangetest import smooth_losses

    smooth = smooth_losses(noisy, 0.98)
    assert minimum(lrs, noisy).index == int(np.argmin(smooth))


def test_valley_is_the_middle_of_the_longest_descent():
    lrs = lr_ladder(1e-5, 1e4, 10)
    assert valley(lrs, [9, 8, 7, 6, 5, 4, 6, 5, 9, 9], beta=0.0) == Suggestion(lrs[2], 2)
    # a blip inside the fall does not cut it: 0..9 is still the descent
    fall = [10, 9, 8, 7, 7.5, 6, 5, 4, 3, 2, 8, 9]
    assert valley(lr_ladder(1e-3, 1.0, 12), fall, beta=0.0).index == (0 + 9) // 2


@pytest.mark.parametrize("seed", range(3))
def test_single_suggestions_land_inside_the_descent(seed):
    lrs, noisy, clean = sigmoid_curve(seed=seed)
    bottom = int(np.argmin(clean))
    for reading in (steepest, valley):
        found = reading(lrs, noisy)
        assert fallen(clean, found.index) > 0.05 and found.index < bottom


def test_suggestions_and_settings_survive_pickling_with_their_values():
    lrs, noisy, _ = sigmoid_curve()
    for found in (
        suggest_bounds(lrs, noisy),
        steepest(lrs, noisy),
        BoundsSettings(lag=3, max_ratio=math.inf),
    ):
        again = pickle.loads(pickle.dumps(found))
        assert again == found and type(again) is type(found)
    assert again.lag == 3 and again.max_ratio == math.inf
    assert BoundsSuggestion(0.1, 1.0, 2, 9) != BoundsSuggestion(0.1, 1.0, 2, 8)


def test_robust_smooth_removes_a_spike_and_keeps_a_line():
    line = np.linspace(0.0, 1.0, 101)
    spiked = line.copy()
    spiked[50] = 100.0
    # a line passes through unchanged (away from the padded ends) ...
    np.testing.assert_allclose(robust_smooth(line)[10:-10], line[10:-10], atol=1e-12)
    # ... and a spike of 100 moves it by at most one step of the line (the median's shift)
    np.testing.assert_allclose(robust_smooth(spiked), robust_smooth(line), atol=0.01)


@pytest.mark.parametrize("num_steps", [10, 12, 15, 20, 30])
def test_short_ladders_keep_max_lr_in_the_fall_and_below_it_base_lr(num_steps):
    # A sigmoid fall centred on lr = 1e-2 that never diverges, read on a short ladder:
    # the 15-rung lag alone would put max_lr on rung 0 (base_lr == max_lr).
    lrs = lr_ladder(1e-4, 1.0, num_steps)
    losses = 2.3 - 2.0 / (1 + np.exp(-3 * (np.log10(lrs) + 2)))
    b = read(lrs, losses)
    assert b.base_index < b.max_index
    assert b.max_index >= (num_steps - 1) // 2  # the middle of the fall, at least
    assert 4 * (1 - 1e-9) <= b.max_lr / b.base_lr <= 10 * (1 + 1e-9)


def test_a_fall_of_one_rung_gives_a_clear_error():
    # It dips at rung 1 and rises after: no room for two bounds 4x apart in a one-rung fall
    # that starts at the first rung (with rungs before it, min_ratio pushes base_lr down)
    lrs = lr_ladder(1e-4, 1.0, 41)
    losses = np.r_[2.3, np.linspace(2.0, 3.0, 40)]
    with pytest.raises(ValueError, match=r"first rung.*within 4x.*lower start_lr"):
        read(lrs, losses)
