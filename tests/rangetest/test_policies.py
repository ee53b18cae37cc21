"""``RangeTestResult.schedule``: one range test, the schedule of each policy."""

import math
import re

import numpy as np
import pytest

import cyclr
from cyclr.rangetest import RangeTest, RangeTestSettings, lr_ladder, smooth_losses
from cyclr.rangetest.policies import (
    COOLDOWN_FRACTION,
    FAMILIES,
    KINDS,
    PEAK_READINGS,
    PEAKED,
    POLICIES,
    WARMUP_FRACTION,
    cycle_half,
    optimizer_family,
    optimizer_name,
    peak_lr,
    peak_schedule,
)


def result_of(losses, lrs, optimizer="SGD", batchnorm=None):
    smoothed = smooth_losses(losses, 0.98)
    return cyclr.RangeTestResult(
        lrs, losses, smoothed, "end_of_ladder", optimizer=optimizer, batchnorm=batchnorm
    )


def recorded(curve, optimizer, batchnorm=None):
    """``curve`` as a range test that recorded ``optimizer`` and ``batchnorm``."""
    return cyclr.RangeTestResult(
        curve.lrs,
        curve.losses,
        curve.smoothed,
        curve.stop_reason,
        optimizer=optimizer,
        batchnorm=batchnorm,
    )


def unknown_batchnorm(policy):
    """The refusal of a peaked ``policy`` with Adam and no ``batchnorm`` known."""
    return (
        rf"^policy='{policy}' with Adam peaks at a factor of max_lr fitted for models with "
        r"BatchNorm layers and without, .* pass batchnorm=True or False .*"
        r"received batchnorm=None$"
    )


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
    peak = {p: top * PEAK_READINGS[p]["sgd"] for p in PEAK_READINGS}  # the curve's SGD
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
    smoothed = smooth_losses(loss, 0.98)
    r = cyclr.RangeTestResult(lrs, loss, smoothed, "end_of_ladder", val_losses=val, optimizer="SGD")
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


@pytest.mark.parametrize(
    "name, family",
    [
        ("SGD", "sgd"),
        ("sgd", "sgd"),
        ("SGDW", "sgd"),
        ("SGDScheduleFree", "sgd"),
        ("Adam", "adam"),
        ("adam", "adam"),
        ("AdamW", "adam"),
        ("NAdam", "adam"),
        ("Nadam", "adam"),
        ("RAdam", "adam"),
        ("Adamax", "adam"),
        ("AdamWScheduleFree", "adam"),
        ("ADAMW", "adam"),
    ],
)
def test_an_optimizer_name_maps_to_its_family(name, family):
    assert optimizer_family(name) == family


@pytest.mark.parametrize("name", ["RMSprop", "Adagrad", "Lion", "ScheduleFreeSGD", "", None, 3])
def test_an_optimizer_of_no_family_is_refused_by_name(name):
    with pytest.raises(
        ValueError,
        match=rf"SGD with momentum and for Adam/AdamW.*"
        rf"optimizer='sgd' or 'adam'.*received optimizer={name!r}$",
    ):
        optimizer_family(name)


def test_every_peaked_policy_has_a_factor_per_kind():
    assert set(PEAK_READINGS) == set(PEAKED) and FAMILIES == ("sgd", "adam")
    assert KINDS == ("sgd", "adam", "adam_batchnorm")
    assert all(tuple(factors) == KINDS for factors in PEAK_READINGS.values())
    # schedule-free SGD's z-steps lack momentum's 1 / (1 - 0.9): it peaks a decade higher
    assert PEAK_READINGS["constant"]["sgd"] > 5 * PEAK_READINGS["constant"]["adam"]
    # Adam's best rate with BatchNorm layers is below its best without, never above SGD's
    for policy in PEAKED:
        factors = PEAK_READINGS[policy]
        assert factors["adam_batchnorm"] < factors["adam"] <= factors["sgd"], policy


@pytest.mark.parametrize(
    "optimizer, batchnorm, kind",
    [
        ("SGD", None, "sgd"),
        ("SGD", False, "sgd"),
        ("SGD", True, "sgd"),
        ("AdamW", False, "adam"),
        ("AdamW", True, "adam_batchnorm"),
    ],
)
def test_each_policy_peaks_at_its_kinds_factor_on_max_lr(curve, optimizer, batchnorm, kind):
    r = recorded(curve, optimizer, batchnorm)
    top, steps = r.bounds().max_lr, np.arange(1001)
    for policy in PEAKED:
        factor = PEAK_READINGS[policy][kind]
        assert peak_lr(r, policy) == top * factor
        assert r.schedule(policy, 1000)(steps).max() == pytest.approx(top * factor, rel=1e-12)
    assert r.schedule("triangular", 1000) == cyclr.CyclicSchedule(*r.bounds(), 500)


def test_optimizer_given_overrides_the_recorded_one(curve):
    assert curve.optimizer == "SGD" and curve.batchnorm is None
    top = curve.bounds().max_lr
    factors = PEAK_READINGS["wsd"]
    assert len(set(factors.values())) == len(KINDS)  # a wrong kind reads a wrong rate
    for given in ("adam", "AdamW"):
        for batchnorm, kind in ((False, "adam"), (True, "adam_batchnorm")):
            read = curve.schedule("wsd", 100, optimizer=given, batchnorm=batchnorm)
            assert read.peak_lr == top * factors[kind]
            assert peak_lr(curve, "wsd", optimizer=given, batchnorm=batchnorm) == read.peak_lr
        with pytest.raises(ValueError, match=unknown_batchnorm("wsd")):
            curve.schedule("wsd", 100, optimizer=given)  # SGD's test records no batchnorm
    assert curve.schedule("wsd", 100).peak_lr == top * factors["sgd"]
    with pytest.raises(ValueError, match="received optimizer='RMSprop'"):
        curve.schedule("cosine", 100, optimizer="RMSprop")


def test_a_result_without_its_optimizer_reads_only_triangular(curve):
    r = cyclr.RangeTestResult(curve.lrs, curve.losses, curve.smoothed, curve.stop_reason)
    assert r.optimizer is None
    assert r.schedule("triangular", 1000) == curve.schedule("triangular", 1000)
    assert peak_lr(r, "triangular") == curve.bounds().max_lr
    for policy in PEAKED:
        message = rf"policy='{policy}'.*does not record its optimizer.*received optimizer=None"
        with pytest.raises(ValueError, match=message):
            r.schedule(policy, 1000)
        with pytest.raises(ValueError, match=message):
            peak_lr(r, policy)
    assert r.schedule("cosine", 1000, optimizer="sgd") == curve.schedule("cosine", 1000)


def test_a_recorded_optimizer_of_no_family_refuses_a_peak_but_not_triangular(curve):
    r = cyclr.RangeTestResult(
        curve.lrs, curve.losses, curve.smoothed, curve.stop_reason, optimizer="RMSprop"
    )
    assert r.schedule("triangular", 1000) == curve.schedule("triangular", 1000)
    with pytest.raises(ValueError, match="received optimizer='RMSprop'"):
        r.schedule("onecycle", 1000)
    factor = PEAK_READINGS["onecycle"]["adam_batchnorm"]
    read = r.schedule("onecycle", 1000, optimizer="adam", batchnorm=True)
    assert read.max_lr == curve.bounds().max_lr * factor


def test_the_json_round_trip_keeps_the_optimizer(curve, tmp_path):
    back = cyclr.RangeTestResult.from_json(curve.to_json(tmp_path / "r.json"))
    assert back.optimizer == "SGD" and back == curve
    other = cyclr.RangeTestResult(
        curve.lrs, curve.losses, curve.smoothed, curve.stop_reason, optimizer="AdamW"
    )
    assert other != curve and cyclr.RangeTestResult.from_json(other.to_json()) == other
    old = curve.to_dict()
    del old["optimizer"]  # a file written before the optimizer was recorded
    assert cyclr.RangeTestResult.from_dict(old).optimizer is None


@pytest.mark.parametrize("recorded_as", [None, False, True])
@pytest.mark.parametrize("given", [None, False, True])
def test_the_adam_factor_splits_by_batchnorm_given_else_recorded(curve, recorded_as, given):
    r = recorded(curve, "AdamW", recorded_as)
    top = r.bounds().max_lr
    known = given if given is not None else recorded_as
    for policy in PEAKED:
        if known is None:
            with pytest.raises(ValueError, match=unknown_batchnorm(policy)):
                peak_lr(r, policy, batchnorm=given)
            continue
        factor = PEAK_READINGS[policy]["adam_batchnorm" if known else "adam"]
        assert peak_lr(r, policy, batchnorm=given) == top * factor
        read = r.schedule(policy, 1000, batchnorm=given)
        assert read == peak_schedule(policy, top * factor, 1000)


def test_sgd_reads_its_factor_whatever_batchnorm_is(curve):
    top = curve.bounds().max_lr
    for recorded_as in (None, False, True):
        r = recorded(curve, "SGD", recorded_as)
        for given in (None, False, True):
            for policy in PEAKED:
                factor = PEAK_READINGS[policy]["sgd"]
                assert peak_lr(r, policy, batchnorm=given) == top * factor
                assert peak_lr(curve, policy, optimizer="sgd", batchnorm=given) == top * factor


def test_adam_with_batchnorm_unknown_refuses_every_peaked_policy_but_not_triangular(curve):
    r = recorded(curve, "Adam")
    assert r.batchnorm is None
    for policy in PEAKED:
        with pytest.raises(ValueError, match=unknown_batchnorm(policy)):
            r.schedule(policy, 1000)
        with pytest.raises(ValueError, match=unknown_batchnorm(policy)):
            peak_lr(r, policy)
        with pytest.raises(ValueError, match=unknown_batchnorm(policy)):
            curve.schedule(policy, 1000, optimizer="adam")  # SGD's test, Adam given
    assert r.schedule("triangular", 1000) == curve.schedule("triangular", 1000)
    assert peak_lr(r, "triangular") == curve.bounds().max_lr
    for batchnorm in (False, True):  # triangular runs between the bounds: no factor
        assert r.schedule("triangular", 1000, batchnorm=batchnorm) == r.schedule("triangular", 1000)


@pytest.mark.parametrize("bad", [1, 0, "yes", "True", np.True_, [True]])
def test_a_batchnorm_that_is_not_a_bool_is_refused_by_name(curve, bad):
    message = rf"^batchnorm must be True, False or None; received batchnorm={re.escape(repr(bad))}$"
    with pytest.raises(ValueError, match=message):
        recorded(curve, "AdamW", bad)
    for optimizer in ("SGD", "AdamW"):
        r = recorded(curve, optimizer, True)
        for policy in POLICIES:  # triangular, which reads no factor, included
            with pytest.raises(ValueError, match=message):
                r.schedule(policy, 100, batchnorm=bad)
            with pytest.raises(ValueError, match=message):
                peak_lr(r, policy, batchnorm=bad)


def test_the_json_round_trip_keeps_batchnorm(curve, tmp_path):
    for batchnorm in (False, True):
        r = recorded(curve, "AdamW", batchnorm)
        assert r.to_dict()["batchnorm"] is batchnorm
        back = cyclr.RangeTestResult.from_json(r.to_json(tmp_path / f"{batchnorm}.json"))
        assert back.batchnorm is batchnorm and back == r
        assert back.schedule("wsd", 100) == r.schedule("wsd", 100)
    assert recorded(curve, "AdamW", True) != recorded(curve, "AdamW", False)
    assert recorded(curve, "AdamW", False) != recorded(curve, "AdamW")
    assert curve.to_dict()["batchnorm"] is None
    old = recorded(curve, "AdamW", True).to_dict()
    del old["batchnorm"]  # a file written before batchnorm was recorded
    back = cyclr.RangeTestResult.from_dict(old)
    assert back.batchnorm is None and back.optimizer == "AdamW"
    with pytest.raises(ValueError, match=unknown_batchnorm("cosine")):
        back.schedule("cosine", 100)


def test_the_recorder_hands_its_result_the_optimizer_and_batchnorm():
    def run(*args):
        test = RangeTest(RangeTestSettings(1e-3, 1.0, 4))
        while not test.done:
            test.record(1.0)
        return test.result(*args)

    plain = run()
    assert plain.optimizer is None and plain.batchnorm is None
    for batchnorm in (False, True):
        r = run("AdamW", batchnorm)
        assert (r.optimizer, r.batchnorm) == ("AdamW", batchnorm)
        assert r.lrs.tolist() == plain.lrs.tolist() and r.losses.tolist() == [1.0] * 4
    with pytest.raises(ValueError, match=r"received batchnorm='no'$"):
        run("SGD", "no")


@pytest.mark.parametrize("bad", ["", 3, ["SGD"]])
def test_a_recorded_optimizer_must_be_a_name(curve, bad):
    message = rf"optimizer must be the name.*received optimizer={re.escape(repr(bad))}$"
    with pytest.raises(ValueError, match=message):
        cyclr.RangeTestResult(
            curve.lrs, curve.losses, curve.smoothed, "end_of_ladder", optimizer=bad
        )


def test_the_name_recorded_is_that_of_the_optimizer_inside_its_wrappers():
    class AdamW:
        pass

    class Wrapper:  # accelerate's AcceleratedOptimizer, Lightning's LightningOptimizer, Keras'
        def __init__(self, attribute, inner):
            setattr(self, attribute, inner)

    inner = AdamW()
    assert optimizer_name(inner) == "AdamW"
    for attribute in ("optimizer", "_optimizer", "inner_optimizer"):
        assert optimizer_name(Wrapper(attribute, inner)) == "AdamW"
    assert optimizer_name(Wrapper("optimizer", Wrapper("_optimizer", inner))) == "AdamW"
    assert optimizer_name(Wrapper("optimizer", None)) == "Wrapper"


@pytest.mark.parametrize("given", ["adam_batchnorm", "ADAM_BATCHNORM"])
def test_a_kind_is_not_an_optimizer(curve, given):
    """``optimizer='adam_batchnorm'`` would read as the Adam family; BatchNorm is ``batchnorm=``."""
    message = rf"BatchNorm is batchnorm=True; received optimizer='{given}'$"
    with pytest.raises(ValueError, match=message):
        optimizer_family(given)
    for policy in POLICIES:
        with pytest.raises(ValueError, match=message):
            curve.schedule(policy, 100, optimizer=given)
