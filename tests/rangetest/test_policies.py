"""``RangeTestResult.schedule``: one range test, the schedule of each policy."""

import math

import numpy as np
import pytest

import cyclr
from cyclr.rangetest import lr_ladder, smooth_losses
from cyclr.rangetest.policies import (
    COOLDOWN_FRACTION,
    PEAK_READINGS,
    PEAKED,
    POLICIES,
    WARMUP_FRACTION,
    cycle_half,
    peak_lr,
    peak_schedule,
)


def result_of(losses, lrs):
    return cyclr.RangeTestResult(lrs, losses, smooth_losses(losses, 0.98), "end_of_ladder")


@pytest.fixture(scope="module")
def curve():
    """A falling-then-exploding curve on the default ladder: it has a reading."""
    lrs = lr_ladder(1e-5, 10.0, 450)
    x = np.log10(lrs)
    loss = 2.3 - 1.5 / (1 + np.exp(-(x + 3) * 3)) + np.exp((x - 0.2) * 4)
    return result_of(loss, lrs)


def test_every_policy_has_a_schedule_of_its_shape(curve):
    base, top = curve.bounds()
    total = 1000
    got = {p: curve.schedule(p, total, steps_per_epoch=50) for p in POLICIES}
    assert got["triangular"] == cyclr.CyclicSchedule(base, top, 250)
    warmup = round(WARMUP_FRACTION * total)
    peak = {p: top * PEAK_READINGS[p][1] for p in PEAK_READINGS}
    assert got["onecycle"] == cyclr.OneCycle(peak["onecycle"], total)
    assert got["cosine"] == cyclr.WarmupCosine(peak["cosine"], total, warmup)
    assert got["linear"] == cyclr.WarmupLinear(peak["linear"], total, warmup)
    cooldown = round(COOLDOWN_FRACTION * total)
    assert got["wsd"] == cyclr.WarmupStableDecay(peak["wsd"], total, warmup, cooldown)
    assert got["constant"] == cyclr.WarmupConstant(peak["constant"], warmup)
    steps = np.arange(total + 1)
    for policy, schedule in got.items():  # each peaks at its reading
        assert peak_lr(curve, policy) == pytest.approx(schedule(steps).max(), rel=1e-12)


@pytest.mark.parametrize(
    "total, steps_per_epoch, half",
    [(1000, None, 500), (1000, 50, 250), (150, 50, 75), (4000, 50, 200), (7, 100, 3)],
)
def test_triangular_runs_whole_cycles_that_end_at_base_lr(total, steps_per_epoch, half):
    assert cycle_half(total, steps_per_epoch) == half
    cycles = total // (2 * half)
    assert cycles >= 1 and total - 2 * half * cycles < 2 * cycles  # whole cycles, to a step


def test_triangular_ends_its_run_at_base_lr(curve):
    s = curve.schedule("triangular", 2000, steps_per_epoch=50)
    assert float(s(2000)) == pytest.approx(curve.bounds().base_lr, rel=1e-12)


def test_the_schedule_reads_the_curve_asked_for():
    lrs = lr_ladder(1e-5, 10.0, 450)
    x = np.log10(lrs)
    loss = 2.3 - 1.5 / (1 + np.exp(-(x + 3) * 3)) + np.exp((x - 0.2) * 4)
    val = np.full_like(loss, np.nan)
    val[::2] = 2.3 - 1.5 / (1 + np.exp(-(x[::2] + 4) * 3)) + np.exp((x[::2] + 1) * 4)
    r = cyclr.RangeTestResult(lrs, loss, smooth_losses(loss, 0.98), "end_of_ladder", val_losses=val)
    assert r.settings.monitor == "val_loss"
    by_val = r.schedule("cosine", 100)
    by_loss = r.schedule("cosine", 100, monitor="loss")
    assert by_val.peak_lr == r.bounds().max_lr != by_loss.peak_lr == r.bounds("loss").max_lr


def test_a_curve_with_no_reading_says_which_policy_and_why():
    lrs = lr_ladder(1e-5, 10.0, 100)
    flat = result_of(np.full(100, 2.0), lrs)
    for policy in POLICIES:
        with pytest.raises(ValueError, match=rf"no reliable rate for policy='{policy}': "):
            flat.schedule(policy, 1000)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(policy="cosin"), "policy must be one of"),
        (dict(total_steps=1), "total_steps must be >= 2; received total_steps=1"),
        (dict(total_steps=math.nan), "total_steps"),
        (dict(steps_per_epoch=0), "steps_per_epoch must be >= 1; received steps_per_epoch=0"),
    ],
)
def test_bad_arguments_name_the_parameter(curve, kwargs, message):
    args = dict(policy="cosine", total_steps=100) | kwargs
    with pytest.raises(ValueError, match=message):
        curve.schedule(args.pop("policy"), args.pop("total_steps"), **args)


def test_a_read_schedule_round_trips_through_its_config(curve):
    for policy in POLICIES:
        s = curve.schedule(policy, 500, steps_per_epoch=20)
        assert cyclr.deserialize(cyclr.serialize(s)) == s


def test_a_peaked_policy_at_a_given_rate_is_its_reading_at_that_rate(curve):
    for policy in PEAKED:
        read = curve.schedule(policy, 700, steps_per_epoch=20)
        assert peak_schedule(policy, peak_lr(curve, policy), 700) == read
    with pytest.raises(ValueError, match="received policy='triangular'"):
        peak_schedule("triangular", 0.1, 700)
    with pytest.raises(ValueError, match="total_steps must be >= 2; received total_steps=1"):
        peak_schedule("cosine", 0.1, 1)
