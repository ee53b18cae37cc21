"""A range test's schedule for each policy as a jit-able optax schedule, equal to the core."""

import pathlib

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import jax.numpy as jnp

import cyclr
from cyclr.jax import optax_momentum, optax_schedule
from cyclr.rangetest.policies import POLICIES

#: A recorded range test (MNIST-1D, an MLP) with a reading for every policy.
RESULT = cyclr.RangeTestResult.from_json(
    pathlib.Path(__file__).parents[1] / "rangetest" / "fixtures" / "mnist1d_mlp.json"
)
TOTAL, PER_EPOCH = 200, 10


@pytest.mark.parametrize("policy", POLICIES)
def test_each_policys_schedule_under_jit_equals_the_core(policy):
    s = RESULT.schedule(policy, TOTAL, steps_per_epoch=PER_EPOCH, optimizer="sgd")
    steps = np.arange(TOTAL + 20)  # past the end too: each holds its last value
    expected = s(steps)
    got = np.asarray(jax.jit(jax.vmap(optax_schedule(s)))(jnp.arange(TOTAL + 20)), np.float64)
    # float32 against the core's float64: 1e-6 of the value, or of the peak where a decay
    # nears 0 (the error is relative to the largest term of the formula).
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * expected.max())
    assert got.max() == pytest.approx(expected.max(), rel=1e-6)


@pytest.mark.parametrize("policy", POLICIES)
def test_each_policys_schedule_drives_optax_inside_a_jitted_step(policy):
    # the file records neither optimizer nor batchnorm: AdamW on an MLP, no BatchNorm layers
    s = RESULT.schedule(policy, TOTAL, steps_per_epoch=PER_EPOCH, optimizer="adam", batchnorm=False)
    momentum = {"b1": optax_momentum(s)} if s.has_momentum else {}
    tx = optax.inject_hyperparams(optax.adamw)(learning_rate=optax_schedule(s), **momentum)
    w = jnp.zeros(3)
    state = tx.init(w)

    @jax.jit
    def step(w, state):
        grads = jax.grad(lambda p: jnp.sum((p - 1.0) ** 2))(w)
        updates, state = tx.update(grads, state, w)
        return optax.apply_updates(w, updates), state

    used, b1 = [], []
    for _ in range(TOTAL):
        w, state = step(w, state)
        # inject_hyperparams keeps the values the last update used (count 0, 1, ...)
        used.append(float(state.hyperparams["learning_rate"]))
        b1.append(float(state.hyperparams["b1"]))
    expected = s(np.arange(TOTAL))
    np.testing.assert_allclose(used, expected, rtol=1e-6, atol=1e-6 * expected.max())
    if s.has_momentum:  # OneCycle's momentum as Adam's b1
        np.testing.assert_allclose(b1, s.momentum(np.arange(TOTAL)), rtol=1e-6)
