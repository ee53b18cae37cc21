"""cyclr.jax.range_test on Flax NNX: an ``nnx.Optimizer`` on an MLP with dropout, bundled digits.

Through ``nnx.split``/``merge`` under ``jax.jit``, and with the objects themselves as the
state under ``nnx.jit``: the two read the same curve, the state (its dropout PRNG key
included) is bit for bit what it was afterwards, and a few epochs on the cyclical
schedule of ``result.bounds()`` (through ``cyclr.jax.optax_schedule``) learn the digits.
"""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
pytest.importorskip("flax", minversion="0.11")  # nnx.Optimizer(model, tx, wrt=...)
pytest.importorskip("sklearn")

from flax import nnx
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


@pytest.fixture(scope="module")
def digits():
    return digit_batches()


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(64, 32, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)  # a PRNG key the state threads
        self.out = nnx.Linear(32, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(self.drop(nnx.relu(self.hidden(x))))


def loss_fn(model, batch):
    return cross_entropy(model(batch[0]), batch[1])


def accuracy(model, test):
    model.eval()
    share = float((model(test[0]).argmax(-1) == test[1]).mean())
    model.train()
    return share


ADAM_LADDER = cyclr.RangeTestSettings(1e-5, 1.0, 150)


def test_split_merge_range_test_then_a_cyclical_run(digits):
    batches, test = digits
    model = MLP(nnx.Rngs(0))
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
    graphdef, state = nnx.split((model, nnx.Optimizer(model, tx, wrt=nnx.Param)))
    saved = snapshot(state)

    @jax.jit
    def train_step(state, batch):  # the user's step: it reads the rate from the optimizer
        model, optimizer = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(loss_fn)(model, batch)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    result = range_test(train_step, state, batches, settings=ADAM_LADDER)
    assert_same(state, saved)
    base_lr, max_lr = result.bounds()
    assert 1e-5 < base_lr < max_lr < 1.0

    model, _ = nnx.merge(graphdef, state)  # the same initial weights, a new optimizer
    tx = optax.adam(optax_schedule(cyclic((base_lr, max_lr), batches)))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, batch):
        loss, grads = nnx.value_and_grad(loss_fn)(model, batch)
        optimizer.update(model, grads)
        return loss

    losses = [float(step(model, optimizer, b)) for _ in range(EPOCHS) for b in batches]
    assert_learns(losses, accuracy(model, test))


def test_nnx_jit_objects_as_the_state_read_the_same_curve_and_stay_unchanged(digits):
    batches, _ = digits

    def fresh():
        model = MLP(nnx.Rngs(0))
        tx = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
        return model, nnx.Optimizer(model, tx, wrt=nnx.Param)

    traces = []

    @nnx.jit
    def train_step(objects, batch):  # objects updated in place, as nnx.jit steps do
        traces.append(1)
        model, optimizer = objects
        loss, grads = nnx.value_and_grad(loss_fn)(model, batch)
        optimizer.update(model, grads)
        return objects, loss

    model, optimizer = fresh()
    saved = snapshot(nnx.state((model, optimizer)))
    result = range_test(train_step, (model, optimizer), batches, settings=ADAM_LADDER)
    assert_same(nnx.state((model, optimizer)), saved)
    assert int(optimizer.step[...]) == 0
    assert optimizer.opt_state.hyperparams["learning_rate"][...] == np.float32(1e-3)
    assert len(traces) == 1

    graphdef, state = nnx.split(fresh())

    @jax.jit
    def split_step(state, batch):
        model, optimizer = nnx.merge(graphdef, state)
        loss, grads = nnx.value_and_grad(loss_fn)(model, batch)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    split = range_test(split_step, state, batches, settings=ADAM_LADDER)
    assert len(result.losses) == len(split.losses) > 100
    np.testing.assert_allclose(result.losses, split.losses, rtol=1e-5)
