"""``RangeTestSettings``: the one object every range test takes, and its rules."""

import dataclasses

import pytest

import cyclr
from cyclr.rangetest.settings import (
    DEFAULT_VAL_EVERY,
    RangeTestSettings,
    checked_settings,
    resolve_monitor,
    with_start_lr,
)


def test_the_defaults_are_the_validated_ladder_and_reading():
    s = RangeTestSettings()
    assert (s.start_lr, s.end_lr, s.num_steps, s.step_mode) == (1e-5, 10.0, 450, "exp")
    assert (s.beta, s.diverge_factor, s.min_steps_before_stop) == (0.98, 4.0, 5)
    assert s.val_every == DEFAULT_VAL_EVERY == 2 and s.monitor is None and not s.fine_tuning
    assert cyclr.RangeTestSettings is RangeTestSettings


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(val_every=0), "val_every must be >= 1; received val_every=0"),
        (dict(val_every=1.5), "val_every"),
        (dict(monitor="acc"), "monitor must be one of"),
        (dict(start_lr=None, end_lr=0.0), "end_lr must be > 0; received end_lr=0.0"),
        (dict(start_lr=None, num_steps=1), "num_steps must be >= 2; received num_steps=1"),
        (dict(start_lr=None, step_mode="log"), "step_mode must be one of"),
    ],
)
def test_bad_settings_name_the_field_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RangeTestSettings(**kwargs)


def test_integral_floats_are_counts():
    assert RangeTestSettings(val_every=3.0).val_every == 3


def test_monitor_none_reads_validation_when_there_is_some():
    s = RangeTestSettings()
    assert resolve_monitor(s, has_validation=True).monitor == "val_loss"
    assert resolve_monitor(s, has_validation=False).monitor == "loss"
    given = RangeTestSettings(monitor="val_accuracy")
    assert resolve_monitor(given, has_validation=True) == given
    with pytest.raises(ValueError, match="monitor='val_loss' reads a validation curve"):
        resolve_monitor(RangeTestSettings(monitor="val_loss"), has_validation=False)


def test_start_lr_none_is_the_optimizers_rate_once_known():
    s = RangeTestSettings(start_lr=None, end_lr=1.0, num_steps=10)
    assert s.start_lr is None
    resolved = with_start_lr(s, 1e-3)
    assert resolved.start_lr == 1e-3 and resolved.end_lr == 1.0
    assert with_start_lr(resolved, 5.0) == resolved  # a given start stays
    with pytest.raises(ValueError, match="end_lr must be greater than start_lr"):
        with_start_lr(s, 2.0)


def test_only_a_settings_object_is_taken():
    assert checked_settings(None) == RangeTestSettings()
    given = RangeTestSettings(num_steps=20)
    assert checked_settings(given) is given
    with pytest.raises(ValueError, match=r"received settings=\{'num_steps': 20\}"):
        checked_settings({"num_steps": 20})


def test_settings_are_frozen_and_round_trip_through_a_result():
    s = RangeTestSettings(1e-3, 1.0, 3, val_every=5, monitor="val_loss")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.val_every = 1  # type: ignore[misc]
    r = cyclr.RangeTestResult([1e-3, 1e-2], [2.0, 1.0], [2.0, 1.5], "interrupted", s, [1.0, 0.5])
    back = cyclr.RangeTestResult.from_json(r.to_json())
    assert back.settings == s
