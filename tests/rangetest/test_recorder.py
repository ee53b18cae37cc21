"""The recorder: the lr of each rung, when it stops and why, what it hands back."""

import math

import numpy as np
import pytest

from cyclr.rangetest import RangeTest, RangeTestResult, RangeTestSettings, lr_ladder, smooth_losses


def drive(test, losses, **metrics):
    """Record ``losses`` until the test stops; return the flags record() returned."""
    flags = []
    for i, loss in enumerate(losses):
        flags.append(test.record(loss, **{k: v[i] for k, v in metrics.items()}))
        if not flags[-1]:
            break
    return flags


def test_next_lr_walks_the_ladder_and_records_the_rung_run():
    test = RangeTest(RangeTestSettings(1.0, 16.0, 5, beta=0.0))
    seen = []
    while not test.done:
        seen.append(test.next_lr)
        test.record(1.0)
    assert seen == [1.0, 2.0, 4.0, 8.0, 16.0] == test.result().lrs.tolist()
    assert test.stop_reason == "end_of_ladder" and test.next_lr is None
    assert test.ladder.tolist() == lr_ladder(1.0, 16.0, 5).tolist()
    assert [test.lr(i) for i in range(5)] == seen


@pytest.mark.parametrize("i", [-1, 5, 2.0, True])
def test_lr_of_a_rung_outside_the_ladder_raises(i):
    with pytest.raises(IndexError, match=r"\[0, 5\)"):
        RangeTest(RangeTestSettings(1.0, 16.0, 5)).lr(i)


def test_smoothed_losses_are_the_spec_ema():
    losses = [2.3, 2.1, 2.2, 1.5, 1.9, 1.2, 1.0, 0.9]
    test = RangeTest(RangeTestSettings(1e-4, 1.0, len(losses), beta=0.7))
    drive(test, losses)
    result = test.result()
    assert result.smoothed.tolist() == smooth_losses(losses, 0.7).tolist()
    assert result.losses.tolist() == losses and result.stop_reason == "end_of_ladder"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("rung", [0, 2, 6])
def test_a_non_finite_loss_stops_at_once_even_before_rung_five(bad, rung):
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 20))
    flags = drive(test, [1.0] * rung + [bad] + [1.0] * 5)
    assert flags == [True] * rung + [False]
    assert test.stop_reason == "non_finite_loss"
    result = test.result()
    assert result.lrs.size == rung + 1 and not math.isfinite(result.losses[-1])


def test_a_fourfold_rise_of_the_smoothed_loss_stops_the_test():
    # beta = 0: smooth == loss. best = 1; 4.0 is not > 1 + 3*1, 4.5 is.
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 20, beta=0.0))
    assert drive(test, [2.0, 1.5, 1.0, 2.0, 3.0, 4.0, 4.5, 1.0]) == [True] * 6 + [False]
    assert test.stop_reason == "diverged" and test.rungs_recorded == 7


def test_divergence_is_never_checked_before_the_fifth_rung():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 20, beta=0.0))
    assert drive(test, [1.0, 100.0, 100.0, 100.0, 100.0]) == [True] * 4 + [False]
    assert test.rungs_recorded == 5 and test.stop_reason == "diverged"


@pytest.mark.parametrize("first_checked", [1, 3, 8])
def test_min_steps_before_stop_sets_the_first_rung_checked(first_checked):
    settings = RangeTestSettings(1e-4, 1.0, 20, beta=0.0, min_steps_before_stop=first_checked)
    test = RangeTest(settings)
    drive(test, [1.0] + [10.0] * 19)
    assert test.rungs_recorded == max(first_checked, 2) and test.stop_reason == "diverged"


def test_divergence_works_for_negative_losses():
    # best = -2: the threshold is -2 + 3 * |-2| = 4; ``smooth > 4 * best`` would stop at once.
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 20, beta=0.0))
    assert drive(test, [-1.0, -2.0, -1.5, 0.0, 4.0, 3.9, 4.1]) == [True] * 6 + [False]
    assert test.stop_reason == "diverged"


def test_divergence_at_zero_best_loss_stops_on_any_rise():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 20, beta=0.0))
    assert drive(test, [0.0, 0.0, 0.0, 0.0, 0.0, 1e-9]) == [True] * 5 + [False]


def test_diverge_factor_sets_the_threshold():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 20, beta=0.0, diverge_factor=2.0))
    assert drive(test, [1.0] * 5 + [2.0, 2.01]) == [True] * 6 + [False]


def test_a_curve_that_falls_to_the_end_runs_the_whole_ladder():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 30))
    flags = drive(test, np.linspace(3.0, 0.1, 30))
    assert flags == [True] * 29 + [False] and test.stop_reason == "end_of_ladder"


def test_divergence_on_the_last_rung_says_diverged():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 6, beta=0.0))
    drive(test, [1.0] * 5 + [9.0])
    assert test.stop_reason == "diverged"


def test_interrupt_stops_and_keeps_what_was_recorded():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 20))
    drive(test, [2.0, 1.9, 1.8])
    with pytest.raises(RuntimeError, match="still running"):
        test.result()
    test.interrupt()
    assert test.done and test.stop_reason == "interrupted" and test.next_lr is None
    assert test.result().losses.tolist() == [2.0, 1.9, 1.8]


def test_interrupt_after_a_stop_keeps_the_first_reason():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 20))
    drive(test, [1.0, math.nan])
    test.interrupt()
    assert test.stop_reason == "non_finite_loss"


def test_recording_after_the_stop_raises():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 5))
    drive(test, [1.0] * 5)
    with pytest.raises(RuntimeError, match="stopped"):
        test.record(1.0)


def test_a_loss_that_is_not_a_number_names_the_value():
    with pytest.raises(ValueError, match="loss must be a number; received loss='x'"):
        RangeTest(RangeTestSettings(1e-4, 1.0, 5)).record("x")


def test_validation_metrics_are_aligned_with_rungs_and_nan_where_missing():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 5, beta=0.0))
    test.record(2.0)
    test.record(1.5, val_loss=1.8)
    test.record(1.2, val_accuracy=0.6)
    test.record(1.1, val_loss=1.2, val_accuracy=0.7)
    test.record(1.0)
    result = test.result()
    np.testing.assert_array_equal(result.val_losses, [math.nan, 1.8, math.nan, 1.2, math.nan])
    np.testing.assert_array_equal(result.val_accuracies, [math.nan, math.nan, 0.6, 0.7, math.nan])


def test_without_metrics_the_result_has_none():
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 5))
    drive(test, [1.0] * 5)
    result = test.result()
    assert result.val_losses is None and result.val_accuracies is None
    assert isinstance(result, RangeTestResult)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(diverge_factor=1.0), "diverge_factor must be > 1; received diverge_factor=1.0"),
        (
            dict(min_steps_before_stop=0),
            "min_steps_before_stop must be >= 1; received min_steps_before_stop=0",
        ),
        (dict(beta=1.0), r"beta must be in \[0, 1\); received beta=1.0"),
        (dict(monitor="acc"), "monitor must be one of"),
        (
            dict(end_lr=1e-5),
            "end_lr must be greater than start_lr; received start_lr=0.0001, end_lr=1e-05",
        ),
    ],
)
def test_bad_settings_name_the_value(kwargs, message):
    settings = dict(start_lr=1e-4, end_lr=1.0, num_steps=10) | kwargs
    with pytest.raises(ValueError, match=message):
        RangeTest(RangeTestSettings(**settings))


def test_the_ladder_and_the_rungs_recorded_have_one_name_each():
    test = RangeTest(RangeTestSettings(1.0, 16.0, 5, beta=0.0))
    test.record(1.0)
    assert test.ladder.tolist() == [1.0, 2.0, 4.0, 8.0, 16.0] and test.rungs_recorded == 1
    assert not hasattr(test, "lrs") and not hasattr(test, "step")  # removed before 0.2


def test_the_recorder_runs_the_settings_it_is_given():
    settings = RangeTestSettings(1.0, 16.0, 5, beta=0.0, min_steps_before_stop=2)
    test = RangeTest(settings)
    assert test.settings == settings
    assert [test.next_lr, test.record(2.0), test.next_lr, test.record(9.0)] == [1, True, 2, False]
    assert test.stop_reason == "diverged"
    assert RangeTest().settings == RangeTestSettings()  # the defaults
    with pytest.raises(ValueError, match=r"received settings=\{'start_lr': 1.0\}"):
        RangeTest({"start_lr": 1.0})


def test_the_recorder_refuses_a_start_it_cannot_know():
    with pytest.raises(ValueError, match=r"received settings\.start_lr=None"):
        RangeTest(RangeTestSettings(start_lr=None))


@pytest.mark.parametrize("has_val, monitor", [(False, "loss"), (True, "val_loss")])
def test_a_result_holds_the_curve_monitor_none_chose(has_val, monitor):
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 3))
    for _ in range(3):
        test.record(1.0, val_loss=2.0 if has_val else None)
    assert RangeTestSettings().monitor is None
    assert test.result().settings.monitor == monitor
