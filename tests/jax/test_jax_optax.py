"""cyclr.jax: schedules under jax.jit equal the core; optax moves parameters as computed by hand."""

import pickle

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import jax.numpy as jnp

from cyclr import CyclicSchedule, Linear, OneCycle
from cyclr.compose import Join
from cyclr.jax import optax_momentum, optax_schedule

F32_EPS = float(np.finfo(np.float32).eps)

SCHEDULES = {
    **{
        f"{mode}-{wave}": CyclicSchedule(
            1e-3,
            1e-1,
            step_size_up=7,
            step_size_down=11,
            mode=mode,
            waveform=wave,
            gamma=0.99 if mode == "exp_range" else 1.0,
            base_momentum=0.85,
            max_momentum=0.95,
        )
        for mode in ("triangular", "triangular2", "exp_range")
        for wave in ("triangular", "sine", "parabolic")
    },
    "bounds-decay": CyclicSchedule(
        1e-3,
        1e-1,
        step_size=5,
        mode="triangular2",
        decay_target="bounds",
        base_momentum=0.8,
        max_momentum=0.9,
    ),
    "onecycle-cos": OneCycle(0.1, total_steps=80),
    "onecycle-linear-3": OneCycle(0.1, total_steps=80, anneal="linear", three_phase=True),
    "warmup-join": Join([Linear(0.0, 0.1, 10), CyclicSchedule(0.01, 0.1, step_size=6)], [10]),
}


def peak(schedule):
    return float(np.max(schedule(np.arange(200))))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_jitted_values_equal_the_core(name):
    s = SCHEDULES[name]
    steps = np.arange(200)
    got = np.asarray(jax.jit(jax.vmap(optax_schedule(s)))(jnp.arange(200)), dtype=np.float64)
    # JAX computes in float32 (x64 off). Each of the ~10 operations rounds by at most eps/2,
    # relative to the largest quantity in the formula, which is the peak rate (1 - cos(pi h)
    # cancels near h = 0, so the error is not relative to the value itself). 8 eps of the
    # peak covers that with room; a wrong formula or off-by-one step is off by >= 1e-3.
    np.testing.assert_allclose(got, s(steps), rtol=8 * F32_EPS, atol=8 * F32_EPS * peak(s))
    if getattr(s, "has_momentum", False):
        got_m = np.asarray(jax.jit(jax.vmap(optax_momentum(s)))(jnp.arange(200)))
        np.testing.assert_allclose(got_m, s.momentum(steps), rtol=0, atol=8 * F32_EPS)


def test_a_scalar_count_works_under_jit_and_the_schedule_pickles():
    fn = pickle.loads(pickle.dumps(optax_schedule(CyclicSchedule(1.0, 5.0, step_size=4))))
    assert [float(jax.jit(fn)(jnp.int32(i))) for i in (0, 3, 4, 9)] == [1.0, 4.0, 5.0, 2.0]


def test_sgd_moves_the_parameter_by_the_scheduled_rates():
    # loss = sum(w): the gradient is 1, so plain SGD subtracts each step's rate: 1+2+3+4+5.
    tx = optax.sgd(optax_schedule(CyclicSchedule(1.0, 5.0, step_size=4)))
    w = jnp.array([100.0, -7.0])
    state = tx.init(w)
    step = jax.jit(lambda w, state: _sgd_step(tx, w, state))
    for _ in range(5):
        w, state = step(w, state)
    assert np.asarray(w).tolist() == [85.0, -22.0]


def _sgd_step(tx, w, state):
    grads = jax.grad(lambda p: jnp.sum(p))(w)
    updates, state = tx.update(grads, state, w)
    return optax.apply_updates(w, updates), state


def test_cyclical_momentum_through_inject_hyperparams():
    # lr 1, 2, 3; momentum 1 - 0.5 h = 1, 0.875, 0.75. optax's trace: t = g + m * t_prev, and
    # the update is -lr * t: -1*1, -2*1.875, -3*(1 + 0.75*1.875) = -7.21875.
    s = CyclicSchedule(1.0, 5.0, step_size=4, base_momentum=0.5, max_momentum=1.0)
    tx = optax.inject_hyperparams(optax.sgd)(
        learning_rate=optax_schedule(s), momentum=optax_momentum(s)
    )
    w = jnp.array([100.0])
    state = tx.init(w)
    step = jax.jit(lambda w, state: _sgd_step(tx, w, state))
    seen = []
    for _ in range(3):
        w, state = step(w, state)
        # inject_hyperparams keeps the values the last update used (for count = 0, 1, 2).
        seen.append(
            (float(state.hyperparams["learning_rate"]), float(state.hyperparams["momentum"]))
        )
    assert seen == [(1.0, 1.0), (2.0, 0.875), (3.0, 0.75)]
    assert float(w[0]) == 100.0 - 1.0 - 3.75 - 7.21875


def test_adam_beta1_follows_the_onecycle_momentum():
    s = OneCycle(0.01, total_steps=20)
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=optax_schedule(s), b1=optax_momentum(s))
    w = jnp.zeros(3)
    state = tx.init(w)
    step = jax.jit(lambda w, state: _sgd_step(tx, w, state))
    b1 = []
    for _ in range(20):
        w, state = step(w, state)
        b1.append(float(state.hyperparams["b1"]))
    np.testing.assert_allclose(b1, s.momentum(np.arange(20)), atol=8 * F32_EPS)


def test_schedule_without_momentum_is_refused_by_name():
    with pytest.raises(ValueError, match="schedule=CyclicSchedule"):
        optax_momentum(CyclicSchedule(1.0, 5.0, step_size=4))
    with pytest.raises(ValueError, match=r"schedule=0\.1"):
        optax_schedule(0.1)
