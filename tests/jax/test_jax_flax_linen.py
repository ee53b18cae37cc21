"""cyclr.jax.range_test on a Flax Linen ``TrainState``: an MLP on the bundled digits.

The usual ``TrainState`` step, unchanged, with its ``tx`` built by
``optax.inject_hyperparams``; the state is bit for bit what it was afterwards, and a few
epochs on the cyclical schedule of ``result.bounds()`` (through
``cyclr.jax.optax_schedule``) learn the digits.
"""

import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
pytest.importorskip("flax")
pytest.importorskip("sklearn")

import flax.linen as nn
from flax.training import train_state
from jax_helpers import (
    EPOCHS,
    assert_learns,
    assert_same,
    cross_entropy,
    cyclic,
    digit_batches,
    snapshot,
)

import cyclr
from cyclr.jax import optax_schedule, range_test


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(10)(nn.relu(nn.Dense(32)(x)))


def test_train_state_range_test_then_a_cyclical_run():
    batches, (xt, yt) = digit_batches()
    model = MLP()
    params = model.init(jax.random.key(0), xt[:1])
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.01, momentum=0.9)
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)
    saved = snapshot(state)

    @jax.jit
    def train_step(state, batch):  # the usual TrainState step, unchanged
        def loss_fn(params):
            return cross_entropy(state.apply_fn(params, batch[0]), batch[1])

        loss, grads = jax.value_and_grad(loss_fn)(state.params)
        return state.apply_gradients(grads=grads), loss

    settings = cyclr.RangeTestSettings(1e-4, 10, 150)
    result = range_test(train_step, state, batches, settings=settings)
    assert_same(state, saved)
    assert state.step == 0 and len(result.lrs) > 100
    base_lr, max_lr = result.bounds()
    assert 1e-4 < base_lr < max_lr < 10

    schedule = optax_schedule(cyclic((base_lr, max_lr), batches))
    run = train_state.TrainState.create(
        apply_fn=model.apply, params=params, tx=optax.sgd(schedule, momentum=0.9)
    )
    losses = []
    for _ in range(EPOCHS):
        for batch in batches:
            run, loss = train_step(run, batch)
            losses.append(float(loss))
    accuracy = float((model.apply(run.params, xt).argmax(-1) == yt).mean())
    assert_learns(losses, accuracy)
