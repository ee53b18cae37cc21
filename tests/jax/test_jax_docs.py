"""docs/getting-started/jax.md: its examples run as written, in order, in one namespace."""

import pathlib
import re

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

PAGE = pathlib.Path(__file__).parents[2] / "docs" / "getting-started" / "jax.md"


def blocks():
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def run(block, scope):
    exec(compile(block, str(PAGE), "exec"), scope)


@pytest.fixture(scope="module")
def scope():
    """The namespace after the schedule, momentum and both range-test examples."""
    found = blocks()
    assert len(found) == 7
    scope = {}
    run(found[0], scope)
    jax, lr = scope["jax"], scope["lr"]
    assert [float(v) for v in jax.jit(jax.vmap(lr))(jax.numpy.arange(6))] == [1, 2, 3, 4, 5, 4]
    run(found[1], scope)
    return scope


def test_the_rate_argument_example_reads_bounds_and_leaves_the_params(scope):
    run(blocks()[2], scope)
    assert scope["result"].stop_reason == "diverged"
    assert 1e-4 < scope["base_lr"] < scope["max_lr"] < 10.0
    assert scope["params"]["w"].tolist() == [0.0] * 8


def test_the_inject_hyperparams_example_reads_the_same_curve_then_trains(scope):
    run(blocks()[2], scope)
    as_argument = scope["result"]
    run(blocks()[3], scope)
    # optax.sgd is the same momentum times the injected rate: the same curve
    assert scope["result"].stop_reason == "diverged"
    np.testing.assert_allclose(scope["result"].losses, as_argument.losses, rtol=1e-5)
    assert 1e-4 < scope["base_lr"] < scope["max_lr"] < 10.0
    loss_fn, params, batches = scope["loss_fn"], scope["params"], scope["batches"]
    before = float(loss_fn(params, batches[0]))
    run(blocks()[4], scope)
    assert float(loss_fn(scope["state"][0], batches[0])) < 1e-3 * before


def test_the_policy_example_trains_on_the_wsd_schedule_read_for_the_run(scope):
    import cyclr

    run(blocks()[3], scope)  # the inject_hyperparams test: the result the example reads
    result = scope["result"]
    loss_fn, params, batches = scope["loss_fn"], scope["params"], scope["batches"]
    before = float(loss_fn(params, batches[0]))
    run(blocks()[5], scope)
    schedule = scope["schedule"]
    assert result.optimizer is None  # optax's optimizers have no class to record
    assert schedule == result.schedule("wsd", 4 * 32, steps_per_epoch=32, optimizer="sgd")
    assert isinstance(schedule, cyclr.WarmupStableDecay)
    assert float(loss_fn(scope["state"][0], batches[0])) < 1e-3 * before


def test_the_flax_nnx_example(scope):
    pytest.importorskip("flax", minversion="0.11")  # nnx.Optimizer(..., wrt=...)
    run(blocks()[2], scope)
    run(blocks()[6], scope)
    assert scope["result"].stop_reason == "diverged" and len(scope["result"].lrs) > 20
