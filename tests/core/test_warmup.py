"""WarmupCosine, WarmupStableDecay, WarmupLinear, WarmupConstant: hand tables, their
counterparts in Transformers, optax, Keras and schedulefree, configs and bad input."""

import importlib.util
import json
import math
import os
import pathlib
import pickle
import re
import subprocess
import sys

import numpy as np
import pytest

import cyclr
from cyclr import (
    WarmupConstant,
    WarmupCosine,
    WarmupLinear,
    WarmupStableDecay,
    deserialize,
    serialize,
)
from cyclr.ops import PYTHON
from cyclr.warmup import DECAYS, decayed_fraction

PEERS = pathlib.Path(__file__).with_name("warmup_peers.py")

# ---------------------------------------------------------------- hand-checkable tables


def test_warmup_cosine_table():
    # cos(pi / 3) = 1/2: a three-step cosine passes 0.75 and 0.25.
    s = WarmupCosine(1.0, total_steps=5, warmup_steps=2)
    assert [s(t) for t in range(7)] == pytest.approx(
        [0.0, 0.5, 1.0, 0.75, 0.25, 0.0, 0.0], rel=1e-12, abs=1e-15
    )
    floor = WarmupCosine(1.0, total_steps=7, warmup_steps=4, init_lr=0.2, final_lr=0.2)
    assert [floor(t) for t in range(9)] == pytest.approx(
        [0.2, 0.4, 0.6, 0.8, 1.0, 0.8, 0.4, 0.2, 0.2], rel=1e-12
    )


def test_wsd_linear_table_warms_up_holds_and_cools_down():
    s = WarmupStableDecay(1.0, total_steps=8, warmup_steps=2, decay_steps=4)
    assert [s(t) for t in range(10)] == [0.0, 0.5, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def test_wsd_one_minus_sqrt_and_cosine_tables():
    # 1 - sqrt(p) at p = 1/9, 4/9, 1: 2/3, 1/3, 0.
    sqrt = WarmupStableDecay(1.0, total_steps=12, warmup_steps=0, decay_steps=9, decay="1-sqrt")
    assert [sqrt(t) for t in (0, 3, 4, 7, 12, 13)] == pytest.approx(
        [1.0, 1.0, 2 / 3, 1 / 3, 0.0, 0.0], rel=1e-12, abs=1e-15
    )
    cosine = WarmupStableDecay(
        1.0, total_steps=5, warmup_steps=1, decay_steps=3, decay="cosine", final_lr=0.2
    )
    assert [cosine(t) for t in range(7)] == pytest.approx(
        [0.0, 1.0, 1.0, 0.8, 0.4, 0.2, 0.2], rel=1e-12
    )


def test_warmup_linear_table():
    s = WarmupLinear(1.0, total_steps=6, warmup_steps=2)
    assert [s(t) for t in range(8)] == [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    floor = WarmupLinear(0.5, total_steps=4, warmup_steps=0, final_lr=0.1)
    assert [floor(t) for t in range(6)] == pytest.approx([0.5, 0.4, 0.3, 0.2, 0.1, 0.1], rel=1e-12)


def test_warmup_constant_table():
    s = WarmupConstant(1.0, warmup_steps=4, init_lr=0.2)
    assert [s(t) for t in range(6)] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0], rel=1e-12)
    assert WarmupConstant(0.3, warmup_steps=0)(np.arange(3)).tolist() == [0.3, 0.3, 0.3]


def test_the_peak_is_exact_at_the_end_of_the_warm_up_and_through_the_stable_phase():
    peak = 0.3
    assert WarmupCosine(peak, 100, 10, final_lr=0.1)(10) == peak
    assert WarmupLinear(peak, 100, 10, init_lr=0.1)(10) == peak
    s = WarmupStableDecay(peak, 100, 10, 20, decay="1-sqrt", init_lr=0.1, final_lr=0.1)
    assert set(s(np.arange(10, 81)).tolist()) == {peak}


def test_each_holds_its_final_rate_after_total_steps():
    late = np.array([10**3, 10**6, 10**9])
    for s, final in [
        (WarmupCosine(0.1, 100, 10, final_lr=1e-5), 1e-5),
        (WarmupStableDecay(0.1, 100, 10, 30, decay="cosine", final_lr=1e-5), 1e-5),
        (WarmupLinear(0.1, 100, 10), 0.0),
        (WarmupConstant(0.1, 10), 0.1),
    ]:
        assert s(late) == pytest.approx([final] * 3, rel=1e-12, abs=1e-18)


def test_the_python_scalar_and_the_numpy_array_agree():
    steps = np.arange(130)
    for s in [
        WarmupCosine(0.5, 100, 10, init_lr=0.05, final_lr=0.01),
        *(WarmupStableDecay(0.5, 120, 7, 40, decay=d, final_lr=0.01) for d in DECAYS),
        WarmupLinear(0.5, 110, 0),
        WarmupConstant(0.5, 12),
    ]:
        np.testing.assert_allclose([s(int(t)) for t in steps], s(steps), rtol=1e-15, atol=1e-17)


def test_decayed_fraction_goes_from_0_to_1():
    assert [decayed_fraction(d, 0.0, PYTHON) for d in DECAYS] == [0.0, 0.0, 0.0]
    assert [decayed_fraction(d, 1.0, PYTHON) for d in DECAYS] == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"received decay='exp'"):
        decayed_fraction("exp", 0.5, PYTHON)


# ---------------------------------------------------------------- counterparts


def assert_equal_to_peer(ours, theirs, peak):
    """float64 agreement: 1e-12 relative, and a floor of 1e-15 * peak for values near 0
    (where one rounding of a peak-sized quantity is a large relative error)."""
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15 * peak)


def lambda_lr(build, peak, *args, **kwargs):
    """A Transformers LambdaLR's multiplier at step t, times ``peak``: the rate of update t."""
    torch = pytest.importorskip("torch")
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    multiplier = build(optimizer, *args, **kwargs).lr_lambdas[0]
    return lambda t: peak * multiplier(t)


#: (peak_lr, total_steps, warmup_steps, floor as a fraction of peak_lr)
COSINE_RUNS = [(0.5, 100, 10, 0.0), (3e-4, 1000, 37, 0.0), (1.0, 50, 0, 0.0), (0.1, 200, 20, 0.01)]


@pytest.mark.parametrize("peak, total, warmup, ratio", COSINE_RUNS)
def test_warmup_cosine_equals_transformers(peak, total, warmup, ratio):
    optimization = pytest.importorskip("transformers.optimization")
    ours = WarmupCosine(peak, total, warmup, final_lr=ratio * peak)
    steps = range(total + 1)  # past total_steps Transformers' cosine rises again
    if ratio == 0.0:
        theirs = lambda_lr(optimization.get_cosine_schedule_with_warmup, peak, warmup, total)
    else:
        theirs = lambda_lr(
            optimization.get_cosine_with_min_lr_schedule_with_warmup,
            peak,
            warmup,
            total,
            min_lr_rate=ratio,
        )
    assert_equal_to_peer([ours(t) for t in steps], [theirs(t) for t in steps], peak)


@pytest.mark.parametrize("peak, total, warmup, ratio", [r for r in COSINE_RUNS if r[2] > 0])
def test_transformers_lr_rate_variant_is_one_step_ahead(peak, total, warmup, ratio):
    optimization = pytest.importorskip("transformers.optimization")
    ours = WarmupCosine(peak, total, warmup, final_lr=ratio * peak)
    theirs = lambda_lr(
        optimization.get_cosine_with_min_lr_schedule_with_warmup_lr_rate,
        peak,
        warmup,
        total,
        min_lr_rate=ratio,
    )
    steps = range(total)
    assert_equal_to_peer([ours(t + 1) for t in steps], [theirs(t) for t in steps], peak)


#: (peak_lr, total_steps, warmup_steps, decay_steps, min_lr_ratio)
WSD_RUNS = [(0.2, 100, 10, 20, 0.0), (3e-3, 1000, 0, 250, 0.1), (1.0, 30, 5, 25, 0.01)]


@pytest.mark.parametrize("decay", DECAYS)
@pytest.mark.parametrize("peak, total, warmup, decay_steps, ratio", WSD_RUNS)
def test_wsd_equals_transformers(peak, total, warmup, decay_steps, ratio, decay):
    optimization = pytest.importorskip("transformers.optimization")
    floor = ratio * peak
    ours = WarmupStableDecay(
        peak, total, warmup, decay_steps, decay=decay, init_lr=floor, final_lr=floor
    )
    theirs = lambda_lr(
        optimization.get_wsd_schedule,
        peak,
        warmup,
        decay_steps,
        num_training_steps=total,
        decay_type=decay,
        min_lr_ratio=ratio,
    )
    steps = range(total + 30)
    assert_equal_to_peer([ours(t) for t in steps], [theirs(t) for t in steps], peak)


@pytest.mark.parametrize("peak, total, warmup", [(1.0, 100, 10), (3e-4, 1000, 0), (0.05, 64, 63)])
def test_warmup_linear_equals_transformers(peak, total, warmup):
    optimization = pytest.importorskip("transformers.optimization")
    ours = WarmupLinear(peak, total, warmup)
    theirs = lambda_lr(optimization.get_linear_schedule_with_warmup, peak, warmup, total)
    steps = range(total + 30)
    assert_equal_to_peer([ours(t) for t in steps], [theirs(t) for t in steps], peak)


@pytest.mark.parametrize("peak, warmup", [(1.0, 10), (3e-4, 0), (0.05, 1), (2e-3, 333)])
def test_warmup_constant_equals_transformers(peak, warmup):
    optimization = pytest.importorskip("transformers.optimization")
    ours = WarmupConstant(peak, warmup)
    theirs = lambda_lr(optimization.get_constant_schedule_with_warmup, peak, warmup)
    steps = range(warmup + 30)
    assert_equal_to_peer([ours(t) for t in steps], [theirs(t) for t in steps], peak)


def test_schedulefree_warm_up_is_one_step_ahead():
    torch = pytest.importorskip("torch")
    schedulefree = pytest.importorskip("schedulefree")
    peak, warmup = 2.5e-3, 7
    weight = torch.zeros(3, requires_grad=True)
    optimizer = schedulefree.AdamWScheduleFree([weight], lr=peak, warmup_steps=warmup)
    optimizer.train()
    ours = WarmupConstant(peak, warmup)
    for t in range(12):
        weight.grad = torch.ones(3)
        optimizer.step()
        assert optimizer.param_groups[0]["scheduled_lr"] == ours(t + 1)


def test_cyclr_torch_drives_an_optimizer_with_the_transformers_numbers():
    torch = pytest.importorskip("torch")
    optimization = pytest.importorskip("transformers.optimization")
    from cyclr.torch import CyclicLR

    peak, total, warmup = 0.5, 40, 6
    ours = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    theirs = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    ours_scheduler = CyclicLR(ours, WarmupCosine(peak, total, warmup))
    theirs_scheduler = optimization.get_cosine_schedule_with_warmup(theirs, warmup, total)
    used = []
    for _ in range(total + 1):
        used.append((ours.param_groups[0]["lr"], theirs.param_groups[0]["lr"]))
        ours.step()
        theirs.step()
        ours_scheduler.step()
        theirs_scheduler.step()
    assert_equal_to_peer(*zip(*used, strict=True), peak)


def run_peer(peer, configs):
    """Each config's values from ``warmup_peers.py`` in a process of its own."""
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, str(PEERS), peer],
        input=json.dumps(configs),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def requires(*modules):
    """Skip unless each of ``modules`` is installed (found, not imported: it runs elsewhere)."""
    for name in modules:
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")


#: Cosine runs for optax and Keras: a warm-up from init_lr and a floor they both take.
PEER_COSINES = [
    dict(peak_lr=0.5, total_steps=100, warmup_steps=10, init_lr=0.0, final_lr=0.0),
    dict(peak_lr=3e-4, total_steps=1000, warmup_steps=37, init_lr=0.0, final_lr=0.0),
    dict(peak_lr=1.0, total_steps=50, warmup_steps=0, init_lr=0.0, final_lr=0.0),
    dict(peak_lr=0.1, total_steps=200, warmup_steps=20, init_lr=1e-3, final_lr=1e-4),
    dict(peak_lr=0.1, total_steps=333, warmup_steps=1, init_lr=0.05, final_lr=0.1),
]
#: optax's warmup_constant_schedule holds init_value when warmup_steps is 0: only >= 1 here.
PEER_CONSTANTS = [
    dict(peak_lr=1.0, warmup_steps=10, init_lr=0.0),
    dict(peak_lr=3e-4, warmup_steps=1, init_lr=1e-5),
    dict(peak_lr=0.05, warmup_steps=64, init_lr=0.01),
]


def peer_configs(kind, configs, extra):
    """``configs`` for warmup_peers.py: each with its ``kind`` and ``extra`` steps past its end."""
    return [
        dict(c, kind=kind, steps=c.get("total_steps", c["warmup_steps"]) + extra) for c in configs
    ]


def test_warmup_cosine_and_constant_equal_optax():
    requires("jax", "optax")
    cosines = peer_configs("cosine", PEER_COSINES, 30)
    constants = peer_configs("constant", PEER_CONSTANTS, 30)
    values = run_peer("optax", cosines + constants)
    for config, theirs in zip(cosines, values[: len(cosines)], strict=True):
        ours = WarmupCosine(
            config["peak_lr"],
            config["total_steps"],
            config["warmup_steps"],
            init_lr=config["init_lr"],
            final_lr=config["final_lr"],
        )
        assert_equal_to_peer(ours(np.arange(config["steps"])), theirs, config["peak_lr"])
    for config, theirs in zip(constants, values[len(cosines) :], strict=True):
        ours = WarmupConstant(config["peak_lr"], config["warmup_steps"], init_lr=config["init_lr"])
        assert_equal_to_peer(ours(np.arange(config["steps"])), theirs, config["peak_lr"])


def test_warmup_cosine_equals_keras_cosine_decay_with_warmup():
    requires("keras", "torch")
    configs = peer_configs("cosine", PEER_COSINES, 30)
    for config, theirs in zip(configs, run_peer("keras", configs), strict=True):
        ours = WarmupCosine(
            config["peak_lr"],
            config["total_steps"],
            config["warmup_steps"],
            init_lr=config["init_lr"],
            final_lr=config["final_lr"],
        )
        assert_equal_to_peer(ours(np.arange(config["steps"])), theirs, config["peak_lr"])


# ---------------------------------------------------------------- configs and errors

EXAMPLES = [
    WarmupCosine(0.1, 1000, 50, init_lr=1e-3, final_lr=1e-5),
    WarmupStableDecay(0.1, 1000, 50, 200, decay="1-sqrt", final_lr=1e-4),
    WarmupLinear(3e-4, 500, 0),
    WarmupConstant(2.5e-3, 100, init_lr=1e-4),
]


@pytest.mark.parametrize("s", EXAMPLES, ids=lambda s: type(s).__name__)
def test_config_serialize_and_pickle_round_trips(s):
    config = json.loads(json.dumps(s.to_config()))
    assert type(s).from_config(config) == s
    assert deserialize(json.loads(json.dumps(serialize(s)))) == s
    assert pickle.loads(pickle.dumps(s)) == s
    np.testing.assert_array_equal(deserialize(serialize(s))(np.arange(1200)), s(np.arange(1200)))


def test_config_holds_exactly_the_constructor_arguments():
    assert EXAMPLES[1].to_config() == {
        "peak_lr": 0.1,
        "total_steps": 1000,
        "warmup_steps": 50,
        "decay_steps": 200,
        "decay": "1-sqrt",
        "init_lr": 0.0,
        "final_lr": 1e-4,
    }
    assert repr(EXAMPLES[3]) == "WarmupConstant(peak_lr=0.0025, warmup_steps=100, init_lr=0.0001)"
    assert serialize(EXAMPLES[2]) == {
        "class_name": "WarmupLinear",
        "config": {
            "peak_lr": 3e-4,
            "total_steps": 500,
            "warmup_steps": 0,
            "init_lr": 0.0,
            "final_lr": 0.0,
        },
    }


def test_integral_floats_and_zero_d_arrays_are_stored_as_plain_numbers():
    s = WarmupCosine(np.float64(0.1), 100.0, np.array(10), final_lr=np.array(1e-3))
    assert s == WarmupCosine(0.1, 100, 10, final_lr=1e-3)
    assert type(s.peak_lr) is float and type(s.total_steps) is int
    assert type(s.warmup_steps) is int and type(s.final_lr) is float


def test_they_are_exported_from_the_top_level():
    assert {"WarmupConstant", "WarmupCosine", "WarmupLinear", "WarmupStableDecay"} <= set(
        cyclr.__all__
    )
    assert all(isinstance(s, cyclr.Schedule) and not s.has_momentum for s in EXAMPLES)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: WarmupCosine(-1, 100, 10), "peak_lr must be > 0; received peak_lr=-1"),
        (lambda: WarmupLinear(0.0, 100, 10), "peak_lr must be > 0; received peak_lr=0.0"),
        (lambda: WarmupConstant(math.nan, 10), "peak_lr must be > 0; received peak_lr=nan"),
        (lambda: WarmupConstant(math.inf, 10), "received peak_lr=inf"),
        (lambda: WarmupConstant(True, 10), "peak_lr must be a real number; received peak_lr=True"),
        (lambda: WarmupConstant("0.1", 10), "received peak_lr='0.1'"),
        (
            lambda: WarmupCosine(0.1, 10, 10),
            "warmup_steps must be < total_steps, leaving at least one step to decay; "
            "received warmup_steps=10, total_steps=10",
        ),
        (lambda: WarmupLinear(0.1, 0, 0), "total_steps must be >= 1; received total_steps=0"),
        (lambda: WarmupCosine(0.1, 10, -1), "warmup_steps must be >= 0; received warmup_steps=-1"),
        (lambda: WarmupConstant(0.1, 2.5), "must be an integer; received warmup_steps=2.5"),
        (
            lambda: WarmupCosine(0.1, 10, 2, final_lr=0.2),
            "final_lr must be <= peak_lr; received final_lr=0.2, peak_lr=0.1",
        ),
        (
            lambda: WarmupLinear(0.1, 10, 2, init_lr=-1),
            "init_lr must be finite and >= 0; received init_lr=-1.0",
        ),
        (
            lambda: WarmupConstant(0.1, 3, init_lr=0.5),
            "init_lr must be <= peak_lr; received init_lr=0.5, peak_lr=0.1",
        ),
        (
            lambda: WarmupStableDecay(0.1, 10, 5, 6),
            "warmup_steps + decay_steps must be <= total_steps; "
            "received warmup_steps=5, total_steps=10, decay_steps=6",
        ),
        (
            lambda: WarmupStableDecay(0.1, 10, 0, 0),
            "decay_steps must be >= 1; received decay_steps=0",
        ),
        (
            lambda: WarmupStableDecay(0.1, 10, 2, 4, decay="cos"),
            "decay must be one of ('linear', '1-sqrt', 'cosine'); received decay='cos'",
        ),
        (lambda: WarmupCosine(0.1, 10, 2)(-1), "step must be >= 0; received step=-1"),
        (lambda: WarmupCosine.from_config({"peak_lr": 0.1}), "total_steps"),
    ],
)
def test_bad_input_names_the_parameter_and_the_value(build, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        build()
