"""The AdamW policies of ``cyclr compare`` (issues 16, 26): schedules, grids and readings."""

import csv
import dataclasses
import itertools
import math
import re

import numpy as np
import pytest

from cyclr import (
    Constant,
    Linear,
    OneCycle,
    RangeTestSettings,
    WarmupConstant,
    WarmupStableDecay,
    join,
)
from cyclr.app.compare import CompareSettings, compare
from cyclr.app.comparison import TABLE_COLUMNS, grid_table, policy_table, write_outputs
from cyclr.app.data import load_data
from cyclr.app.policies import (
    ADAMW_WEIGHT_DECAY,
    BASELINES,
    COMPARED,
    DEFAULT_LRS,
    GRID_MIDDLES,
    GRIDDED,
    READINGS,
    TUNABLE,
    grid_rates,
    make_plan,
    needs_range_test,
    warmup_cosine,
)
from cyclr.app.session import MetricsLog
from cyclr.rangetest.policies import COOLDOWN_FRACTION, WARMUP_FRACTION, peak_lr, peak_schedule

torch = pytest.importorskip("torch")
pytest.importorskip("schedulefree")

from cyclr.app.torch_runner import TorchRunner
from cyclr.app.workflow import train_plan


@pytest.fixture(scope="module")
def small_digits():
    """sklearn's digits, cut to 256 training and 128 test images (a fast task)."""
    data = load_data("digits", validation_split=0.0)
    return dataclasses.replace(
        data,
        x_train=data.x_train[:256],
        y_train=data.y_train[:256],
        x_test=data.x_test[:128],
        y_test=data.y_test[:128],
    )


def test_warmup_cosine_rises_linearly_then_decays_as_a_cosine_to_near_zero():
    s = warmup_cosine(0.01, total_steps=110, warmup_steps=10)
    assert [s(i) for i in (0, 5)] == [0.0, pytest.approx(0.005)]
    assert s(10) == pytest.approx(0.01) and s(11) == pytest.approx(0.01)
    # the cosine runs over local steps 1 .. 99: half way (local 50) it is half way down
    assert s(60) == pytest.approx(0.01 * (1 + 1e-4) / 2, rel=1e-9)
    assert s(109) == pytest.approx(1e-6) and s(500) == pytest.approx(1e-6)
    values = [s(i) for i in range(11, 110)]
    assert all(b < a for a, b in itertools.pairwise(values))


def test_wsd_warms_up_holds_the_peak_and_cools_down_linearly_to_zero():
    s = make_plan("wsd", total_steps=100, step_size=10, lr=0.002).schedule
    assert [s(i) for i in (0, 1)] == [0.0, pytest.approx(0.0004)]
    assert all(s(i) == pytest.approx(0.002) for i in range(5, 81))
    assert s(90) == pytest.approx(0.001) and s(99) == pytest.approx(0.0001)
    assert s(100) == 0.0


def test_baseline_schedules_are_core_schedules_with_the_numbers_they_had():
    peak, total, warmup, cooldown = 3e-3, 200, 10, 40
    steps = np.arange(total + 20)
    # adamw+cosine as first built: a warm-up, then a one-cycle's annealing phase (issue 16).
    decay = total - warmup
    annealing = OneCycle(
        peak, decay, pct_start=2 / decay, div_factor=1.0, base_momentum=None, max_momentum=None
    )
    before = join([Linear(0.0, peak, warmup), annealing], [warmup])
    cosine = warmup_cosine(peak, total, warmup)
    assert isinstance(cosine, WarmupStableDecay) and cosine.decay == "cosine"
    np.testing.assert_allclose(cosine(steps), before(steps), rtol=1e-11, atol=1e-15 * peak)
    before = join(
        [Linear(0.0, peak, warmup), Constant(peak), Linear(peak, 0.0, cooldown)],
        [warmup, total - cooldown],
    )
    wsd = make_plan("wsd", total_steps=total, step_size=10, lr=peak).schedule
    assert wsd == WarmupStableDecay(peak, total, warmup, cooldown)
    np.testing.assert_array_equal(wsd(steps), before(steps))
    free = make_plan("schedulefree", total_steps=total, step_size=10, lr=peak)
    assert free.schedule == WarmupConstant(peak, 0) and free.warmup_steps == warmup


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: warmup_cosine(0.1, 5, 3), "total_steps=5, warmup_steps=3"),
        (lambda: warmup_cosine(0.1, 100, 0), "warmup_steps=0"),
        (lambda: grid_rates("onecycle"), "received 'onecycle'"),
        (lambda: grid_rates("wsd", 1), "points=1"),
        (lambda: grid_rates("wsd", 5, 0.0), "decades=0.0"),
        (lambda: make_plan("wsd", total_steps=100, step_size=10, lr=-1.0), "lr=-1.0"),
        (lambda: make_plan("wsd", total_steps=100, step_size=10, lr=math.nan), "lr=nan"),
        (lambda: make_plan("onecycle", total_steps=100, step_size=10, lr=0.1), "lr=0.1"),
        (lambda: make_plan("onecycle-valley", total_steps=100, step_size=10), "valley_lr=None"),
        (lambda: make_plan("cosine", total_steps=100, step_size=10), "needs lr; received lr=None"),
        (
            lambda: make_plan("wsd", total_steps=100, step_size=10),
            "'wsd' needs lr; received lr=None",
        ),
        (
            lambda: make_plan("schedulefree", total_steps=100, step_size=10),
            "'schedulefree' needs lr; received lr=None",
        ),
        (lambda: make_plan("adamw+linear", total_steps=100, step_size=10), "'adamw+linear'"),
        (lambda: make_plan("linear", total_steps=1, step_size=1, lr=0.1), "total_steps=1"),
    ],
)
def test_bad_baseline_input_names_the_parameter_and_value(build, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build()


def test_grids_are_log_spaced_over_two_decades_around_each_middle():
    assert set(GRIDDED) == {"adamw+cosine", *READINGS} and set(BASELINES) <= set(GRIDDED)
    assert set(GRIDDED) <= set(COMPARED) and set(READINGS) <= set(COMPARED)
    for policy in TUNABLE:
        rates = grid_rates(policy)
        assert len(rates) == 5 and rates[2] == pytest.approx(GRID_MIDDLES[policy])
        assert rates[0] == pytest.approx(GRID_MIDDLES[policy] / 10)
        assert rates[-1] == pytest.approx(GRID_MIDDLES[policy] * 10)
        ratios = [b / a for a, b in itertools.pairwise(rates)]
        assert ratios == pytest.approx([10**0.5] * 4)
    assert grid_rates("schedulefree", 3) == pytest.approx((2.5e-4, 2.5e-3, 2.5e-2))
    assert len(grid_rates("adam", 7)) == 7


def test_baseline_plans_use_adamw_or_schedule_free_with_their_own_warm_up():
    total = 200
    cosine = make_plan("adamw+cosine", total_steps=total, step_size=10, lr=3e-3)
    assert (cosine.optimizer, cosine.weight_decay) == ("adamw", ADAMW_WEIGHT_DECAY)
    assert (
        cosine.lr_range == (0.0, 3e-3) and cosine.schedule(round(WARMUP_FRACTION * total)) == 3e-3
    )
    default = make_plan("adamw+cosine", total_steps=total, step_size=10)
    assert default.lr_range == (0.0, DEFAULT_LRS["adamw+cosine"]) == (0.0, 1e-3)
    wsd = make_plan("wsd", total_steps=total, step_size=10, lr=2e-3)
    assert wsd.lr_range == (0.0, 2e-3)
    assert wsd.schedule(total - round(COOLDOWN_FRACTION * total) - 1) == 2e-3
    free = make_plan("schedulefree", total_steps=total, step_size=10, lr=2.5e-3)
    assert free.optimizer == "schedulefree" and free.warmup_steps == WARMUP_FRACTION * total
    assert free.lr_range == (2.5e-3, 2.5e-3)
    valley = make_plan("onecycle-valley", total_steps=total, step_size=10, valley_lr=0.004)
    assert valley.optimizer == "adamw" and valley.lr_range == (pytest.approx(0.004 / 25), 0.004)
    assert valley.schedule(round(0.25 * total) - 1) == pytest.approx(0.004)
    assert valley.schedule.momentum(0) == 0.95  # fastai's moms: beta_1 cycles
    assert needs_range_test("onecycle-valley") == "adam"
    # the readings' rates come off the Adam range test; adamw+cosine's is its default's
    assert [needs_range_test(p) for p in GRIDDED] == [None, "adam", "adam", "adam", "adam"]


def test_the_readings_train_the_core_schedule_at_their_rate():
    """``cyclr train``'s readings: AdamW with the core's schedule, or schedule-free AdamW
    running the core's ``'constant'`` warm-up itself."""
    total, peak = 300, 2e-3
    for policy in ("cosine", "wsd", "linear"):
        plan = make_plan(policy, total_steps=total, step_size=10, lr=peak)
        assert plan.schedule == peak_schedule(READINGS[policy], peak, total)
        assert (plan.optimizer, plan.weight_decay, plan.warmup_steps) == (
            "adamw",
            ADAMW_WEIGHT_DECAY,
            0,
        )
    free = make_plan("schedulefree", total_steps=total, step_size=10, lr=peak)
    core = peak_schedule("constant", peak, total)
    assert free.schedule == WarmupConstant(peak, 0) and free.warmup_steps == core.warmup_steps == 15


def test_schedule_free_trains_and_is_evaluated_at_its_averaged_weights(small_digits):
    runner = TorchRunner(small_digits, "mlp", 32, seed=0)
    plan = make_plan("schedulefree", total_steps=24, step_size=8, lr=5e-3)
    log = MetricsLog()
    summary = train_plan(runner, plan, 3, log, progress=False)
    assert summary["steps"] == 24 and summary["test_accuracy"] > 0.5
    assert {row["lr"] for row in log.rows} == {5e-3}  # its warm-up is inside the optimizer
    optimizer = runner._training[0]
    # The run ended in eval mode: the model holds the averaged weights it was scored with.
    assert runner.evaluate(small_digits.x_test, small_digits.y_test)[1] == summary["test_accuracy"]
    averaged = [p.detach().clone() for p in runner.model.parameters()]
    optimizer.train()
    assert any(
        not torch.equal(a, p) for a, p in zip(averaged, runner.model.parameters(), strict=True)
    )


def test_bf16_autocast_trains_on_the_cpu_and_fp16_asks_for_cuda(small_digits):
    runner = TorchRunner(small_digits, "mlp", 32, seed=0, amp="bf16")
    log = MetricsLog()
    plan = make_plan("adamw+cosine", total_steps=16, step_size=8, lr=3e-3)
    train_plan(runner, plan, 2, log, progress=False)
    losses = [row["loss"] for row in log.rows]
    assert len(losses) == 16 and all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    assert all(p.dtype == torch.float32 for p in runner.model.parameters())
    with pytest.raises(ValueError, match="amp='fp16' needs a CUDA device"):
        TorchRunner(small_digits, "mlp", 32, seed=0, amp="fp16")
    with pytest.raises(ValueError, match="amp='fp8'"):
        TorchRunner(small_digits, "mlp", 32, seed=0, amp="fp8")


def test_compare_tunes_a_grid_and_trains_each_reading_beside_it(small_digits, tmp_path):
    """Issue 26: ``wsd`` over a grid, and at the Adam range test's reading; ``cosine``,
    with no grid, at its reading alone; the same schedules as ``cyclr train --policy``."""
    settings = CompareSettings(
        "torch",
        "mlp",
        ["fixed", "wsd", "cosine", "onecycle-valley"],
        batch_size=32,
        epochs=2,
        seeds=1,
        grid={"wsd": [1e-4, 1e-3, 1e-2]},
        range_test={
            "sgd": RangeTestSettings(1e-4, 10.0, 60, monitor="loss"),
            "adam": RangeTestSettings(1e-5, 1.0, 60, monitor="loss"),
        },
    )
    c = compare(settings, small_digits, log=lambda line: None, progress=False)
    grid = c.grid_of("wsd")
    assert sorted(grid) == [1e-4, 1e-3, 1e-2]
    finals = {lr: runs[0].final_accuracy for lr, runs in grid.items()}
    kept = c.runs_of("wsd")
    assert kept[0].final_accuracy == max(finals.values()) and kept[0].rate_from == "grid"
    assert kept[0].plan.lr_range[1] == kept[0].grid_lr and kept[0].label == "wsd"
    assert c.tuning_steps("wsd") == 2 * c.budget
    assert c.tuning_steps("onecycle-valley") == c.range_test_steps("adam") > 0
    valley = c.readings["adam"].single_rates["valley"]
    assert c.runs_of("onecycle-valley")[0].plan.lr_range[1] == valley
    # the readings: peak_lr of the Adam range test the comparison recorded
    result = c.readings["adam"].range_test
    assert (result.optimizer, result.batchnorm) == ("Adam", False)  # the MLP: Adam's factors
    (reading,) = c.reading_of("wsd")
    assert (reading.label, reading.rate_from, reading.grid_lr) == ("wsd@reading", "reading", None)
    assert reading.plan.lr_range[1] == peak_lr(result, "wsd")
    assert reading.plan.schedule == peak_schedule("wsd", peak_lr(result, "wsd"), c.budget)
    (cosine,) = c.runs_of("cosine")
    assert c.grid_of("cosine") == {} and c.reading_of("cosine") == [cosine]
    assert (cosine.label, cosine.optimizer) == ("cosine@reading", "adamw")
    assert cosine.plan.schedule == peak_schedule("cosine", peak_lr(result, "cosine"), c.budget)
    assert c.tuning_steps("cosine") == c.range_test_steps("adam")
    assert [runs[0].label for runs in c.rows()] == [
        "fixed",
        "wsd",
        "wsd@reading",
        "cosine@reading",
        "onecycle-valley",
    ]
    table = grid_table(c)
    assert table.count("| wsd |") == 3 and table.count("kept") == 1
    assert table.count("| wsd@reading |") == 1 and "cosine" not in table
    rates = [float(line.split(" | ")[1]) for line in table.splitlines()[2:]]
    assert len(rates) == 4 and rates == sorted(rates)  # the reading among the grid's rates
    assert f"| wsd@reading | {peak_lr(result, 'wsd'):.3g} |" in table
    assert "| wsd@reading | adamw |" in policy_table(c, TABLE_COLUMNS)
    write_outputs(c, tmp_path, {})
    with open(tmp_path / "compare.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    wsd = [r for r in rows if r["policy"] == "wsd"]
    assert sorted(float(r["grid_lr"]) for r in wsd if r["rate_from"] == "grid") == [
        1e-4,
        1e-3,
        1e-2,
    ]
    (at_reading,) = [r for r in wsd if r["rate_from"] == "reading"]
    assert at_reading["grid_lr"] == "" and float(at_reading["max_lr"]) == peak_lr(result, "wsd")
    assert [r["rate_from"] for r in rows if r["policy"] in ("fixed", "cosine")] == [
        "reading",
        "reading",
    ]
    md = (tmp_path / "compare.md").read_text()
    assert "| wsd | 0.01 |" in md and "| cosine@reading | adamw |" in md
    assert "wsd@reading: lr" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(framework="keras", policies=["fixed", "wsd"]), "wsd run with framework='torch'"),
        (dict(policies=["fixed", "wsd"], grid={"fixed": [0.1]}), "grid for 'fixed'"),
        (dict(policies=["fixed"], grid={"wsd": [0.1]}), "grid for 'wsd'"),
        (dict(policies=["fixed", "wsd"], grid={"wsd": [0.1, -1.0]}), r"-1\.0"),
        (dict(policies=["fixed", "wsd"], grid={"wsd": []}), r"grid\['wsd'\]"),
        (dict(policies=["fixed"], amp="fp8"), "amp='fp8'"),
    ],
)
def test_bad_grid_or_amp_settings_name_the_setting(kwargs, message):
    settings = dict(framework="torch", model="mlp") | kwargs
    with pytest.raises(ValueError, match=message):
        CompareSettings(**settings)


def test_onecycle_valley_cycles_adamw_beta1_as_fastai_does(small_digits):
    runner = TorchRunner(small_digits, "mlp", 32, seed=0)
    plan = make_plan("onecycle-valley", total_steps=16, step_size=8, valley_lr=2e-3)
    log = MetricsLog()
    train_plan(runner, plan, 2, log, progress=False)
    assert type(runner._training[0]).__name__ == "AdamW"
    lrs = [row["lr"] for row in log.rows]
    betas = [row["momentum"] for row in log.rows]
    peak = lrs.index(max(lrs))
    assert max(lrs) == pytest.approx(2e-3, rel=0.05) and lrs[-1] < 2e-3 / 100
    assert betas[0] == pytest.approx(0.95) and betas[peak] == pytest.approx(0.85, abs=0.01)
