"""cyclr.jax.range_test: the core's ladder through the user's own step; the state stays theirs.

Steps whose loss is a known function of the rate (small whole numbers, exact in float32) pin what
is recorded; the state tests compare every array bit for bit before and after.
"""

import dataclasses
import doctest
import importlib
import json
import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import jax.numpy as jnp
from jax_helpers import assert_same, snapshot

import cyclr
from cyclr.jax import range_test
from cyclr.jax.hyperparams import inject_lr_paths

LADDER = cyclr.RangeTestSettings(1.0, 4.0, 4, step_mode="linear", beta=0.0)  # 1, 2, 3, 4
# 1, 2, ..., 8, checked from the second rung on: stops at 5 > 1 + (4 - 1) * 1
RISING = cyclr.RangeTestSettings(1.0, 8.0, 8, "linear", beta=0.0, min_steps_before_stop=2)


def rate_step(w, batch, lr):
    """Loss = lr * batch: the recorded loss shows the rate each rung trained at."""
    return w + lr, lr * batch


def test_each_rung_records_its_batchs_loss_at_its_rate():
    result = range_test(rate_step, jnp.zeros(()), [jnp.float32(1.0)], settings=LADDER)
    assert result.lrs.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert result.losses.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert result.smoothed.tolist() == [1.0, 2.0, 3.0, 4.0]  # beta=0: the raw losses
    # the settings passed, the curve read resolved (no validation: the training loss)
    assert result.stop_reason == "end_of_ladder" and LADDER.monitor is None
    assert result.settings == dataclasses.replace(LADDER, monitor="loss")
    assert result.val_losses is None


def test_the_smoothed_loss_rising_past_four_times_the_best_stops_the_test():
    result = range_test(rate_step, jnp.zeros(()), [jnp.float32(1.0)], settings=RISING)
    # best 1: 2, 3 and 4 are within 1 + 3 * 1, 5 is not
    assert result.losses.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert result.stop_reason == "diverged"


def test_a_non_finite_loss_stops_at_once():
    batches = [jnp.float32(1.0), jnp.float32(1.0), jnp.float32(np.inf), jnp.float32(1.0)]
    result = range_test(rate_step, jnp.zeros(()), batches, settings=LADDER)
    assert result.losses.tolist() == [1.0, 2.0, math.inf]
    assert result.stop_reason == "non_finite_loss"


def test_the_default_settings_are_the_default_ladder():
    result = range_test(
        lambda w, batch, lr: (w, jnp.float32(1.0)), jnp.zeros(()), [0.0], progress=False
    )
    assert result.settings == cyclr.RangeTestSettings(monitor="loss")
    assert len(result.lrs) == 450 and result.lrs[0] == 1e-5 and result.lrs[-1] == 10.0


def test_the_step_is_traced_once_and_a_second_test_compiles_nothing():
    traces = []

    def step(w, batch, lr):
        traces.append(1)
        return w - lr * 0.01 * (w - batch), ((w - batch) ** 2).mean()

    batches = [jnp.full(3, 1.0 + i) for i in range(7)]
    settings = cyclr.RangeTestSettings(1e-3, 1.0, 60, diverge_factor=1e6)
    first = range_test(step, jnp.zeros(3), batches, settings=settings)
    second = range_test(step, jnp.zeros(3), batches, settings=settings)
    assert len(first.lrs) == 60 and len(traces) == 1
    np.testing.assert_array_equal(first.losses, second.losses)


def test_any_callable_is_a_step_an_unhashable_one_too():
    @dataclasses.dataclass
    class Step:  # eq=True: instances are unhashable
        scale: float

        def __call__(self, w, batch, lr):
            return w, self.scale * lr * batch

    result = range_test(Step(2.0), jnp.zeros(()), [jnp.float32(1.0)], settings=LADDER)
    assert result.losses.tolist() == [2.0, 4.0, 6.0, 8.0]


def sgd_state(learning_rate=0.5):
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=learning_rate, momentum=0.9)
    params = {"w": jnp.ones(3)}
    return tx, (params, tx.init(params))


def test_a_step_without_lr_gets_the_rate_in_the_injected_hyperparams():
    tx, state = sgd_state()

    def step(state, batch):  # the user's own step, unchanged: it reads no lr
        params, opt_state = state
        rate = opt_state.hyperparams["learning_rate"]
        updates, opt_state = tx.update({"w": batch}, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), rate * 1.0

    result = range_test(step, state, [jnp.ones(3)], settings=LADDER)
    assert result.losses.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert float(state[1].hyperparams["learning_rate"]) == 0.5  # the user's state: untouched


def test_the_injected_rate_moves_the_parameters_as_sgd_would():
    tx, state = sgd_state()

    def step(state, batch):
        params, opt_state = state
        updates, opt_state = tx.update({"w": batch}, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), params["w"][0]  # the parameter after the update

    settings = cyclr.RangeTestSettings(1.0, 2.0, 2, beta=0.0)
    result = range_test(step, state, [jnp.ones(3)], settings=settings)
    # gradient 1, momentum 0.9: 1 - 1 * 1 = 0, then 0 - 2 * (0.9 + 1) = -3.8
    np.testing.assert_allclose(result.losses, [0.0, -3.8], rtol=1e-6)


@pytest.mark.parametrize(
    "make, where",
    [
        (lambda tx, p: (p, tx.init(p)), "[1].hyperparams['learning_rate']"),
        (
            lambda tx, p: {"params": p, "opt": optax.chain(optax.clip(1.0), tx).init(p)},
            "['opt'][1].hyperparams['learning_rate']",
        ),
    ],
)
def test_the_injected_learning_rate_is_found_wherever_it_lies(make, where):
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)
    paths = inject_lr_paths(make(tx, {"w": jnp.zeros(2)}))
    assert [jax.tree_util.keystr(p) for p in paths] == [where]


def test_two_injected_learning_rates_are_refused_by_their_paths():
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    p = {"w": jnp.zeros(2)}
    with pytest.raises(ValueError, match=r"needs exactly one; received a state with 2: ") as err:
        range_test(lambda s, b: (s, 0.0), (p, tx.init(p), tx.init(p)), [0.0], settings=LADDER)
    assert "state[1].hyperparams['learning_rate'], state[2].hyperparams" in str(err.value)
    assert "pass a train_step(state, batch, lr)" in str(err.value)


def test_a_two_argument_step_without_an_injected_rate_is_refused():
    with pytest.raises(ValueError, match="needs exactly one; received a state with none"):
        range_test(lambda s, b: (s, 0.0), jnp.zeros(2), [0.0], settings=LADDER)


def test_a_scheduled_injected_rate_is_refused():
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=optax.linear_schedule(0.1, 1.0, 10))
    p = {"w": jnp.zeros(2)}
    with pytest.raises(ValueError, match=r"state\[1\]\.hyperparams\['learning_rate'\] is a sche"):
        range_test(lambda s, b: (s, 0.0), (p, tx.init(p)), [0.0], settings=LADDER)


def test_a_step_of_another_signature_is_refused():
    with pytest.raises(ValueError, match=r"received train_step\(state\)"):
        range_test(lambda state: (state, 0.0), jnp.zeros(2), [0.0], settings=LADDER)


def test_the_users_state_and_prng_key_are_untouched_though_the_step_donates():
    params = {"w": jnp.arange(4.0), "b": jnp.float32(0.5)}
    state = {"params": params, "key": jax.random.key(7), "count": jnp.int32(3)}
    saved = snapshot(state)

    @jax.jit
    def apply(params, key, x):
        keep = jax.random.bernoulli(key, 0.8, x.shape)  # dropout
        return (jnp.where(keep, x, 0.0) * params["w"]).sum() + params["b"]

    def loss_fn(params, key, x):
        return (apply(params, key, x) - 1.0) ** 2

    @jax.jit
    def user_step(state, x, lr):
        key, sub = jax.random.split(state["key"])
        loss, grads = jax.value_and_grad(loss_fn)(state["params"], sub, x)
        params = jax.tree.map(lambda p, g: p - lr * g, state["params"], grads)
        return {"params": params, "key": key, "count": state["count"] + 1}, loss

    donating = jax.jit(user_step, donate_argnums=0)
    batches = [jnp.ones(4) * i for i in range(5)]
    result = range_test(donating, state, batches, settings=cyclr.RangeTestSettings(1e-3, 1.0, 30))
    assert len(result.lrs) >= 5
    assert_same(state, saved)
    # and usable: the user's own (donating) step takes it
    new_state, _ = donating(state, batches[1], 0.01)
    assert int(new_state["count"]) == 4


def test_an_interrupted_test_leaves_the_state_usable():
    state = {"w": jnp.arange(3.0)}
    saved = snapshot(state)

    def batches():
        yield jnp.ones(3)
        yield jnp.ones(3)
        raise KeyboardInterrupt

    def step(state, batch, lr):
        return {"w": state["w"] - lr * batch}, (state["w"] ** 2).sum()

    with pytest.raises(KeyboardInterrupt):
        range_test(jax.jit(step, donate_argnums=0), state, batches(), settings=LADDER)
    assert_same(state, saved)
    with pytest.raises(ZeroDivisionError):
        range_test(
            step,
            state,
            [jnp.ones(3)],
            settings=LADDER,
            val_fn=lambda s, b: 1 / 0,
            val_batches=[jnp.ones(3)],
        )
    assert_same(state, saved)


def test_a_deleted_array_in_the_state_is_refused_by_its_path():
    w = jnp.ones(3)
    jax.jit(lambda w: w + 1, donate_argnums=0)(w)
    with pytest.raises(ValueError, match=r"state\['w'\] is a deleted array \(donated"):
        range_test(rate_step, {"w": w}, [jnp.float32(1.0)], settings=LADDER)


def test_validation_is_size_weighted_after_every_val_every_th_update():
    def val_fn(w, batch):  # the state after the rung's update, plus the batch's mean
        return w + batch.mean()

    settings = cyclr.RangeTestSettings(
        1.0, 5.0, 5, "linear", beta=0.0, diverge_factor=100.0, val_every=2, monitor="val_loss"
    )
    val_batches = [np.ones(3, np.float32), np.full(1, 4.0, np.float32)]
    result = range_test(
        rate_step,
        jnp.zeros(()),
        [jnp.float32(1.0)],
        settings=settings,
        val_fn=val_fn,
        val_batches=val_batches,
    )
    assert result.settings == settings
    # (3 * 1 + 1 * 4) / 4 = 1.75 by size (2.5 per batch), on w = 1, 1+2+3, 1+2+3+4+5
    assert np.array_equal(result.val_losses, [2.75, np.nan, 7.75, np.nan, 16.75], equal_nan=True)


def test_validation_reads_its_rungs_state_though_the_next_rung_donates_it():
    def step(w, batch, lr):  # after rung i every entry is lr[i]
        return w * 0.0 + lr, jnp.float32(1.0)

    def val_fn(w, batch):  # slow enough to run on while the next rung is dispatched
        m = w
        for _ in range(3):
            m = m @ w / 200
        return w.mean() + 0.0 * m.sum()

    # every rung measured, to compare each with its own rate
    settings = cyclr.RangeTestSettings(1.0, 40.0, 40, "linear", diverge_factor=1e9, val_every=1)
    result = range_test(
        step, jnp.eye(200), [0.0], settings=settings, val_fn=val_fn, val_batches=[0.0]
    )
    np.testing.assert_allclose(result.val_losses, result.lrs, rtol=1e-6)


def test_without_settings_val_fn_makes_the_validation_curve_the_one_read():
    result = range_test(
        lambda w, batch, lr: (w, jnp.float32(1.0)),
        jnp.zeros(()),
        [0.0],
        val_fn=lambda w, batch: w + batch,
        val_batches=[np.float32(2.0)],
        progress=False,
    )
    assert result.settings == cyclr.RangeTestSettings(monitor="val_loss")
    # measured every settings.val_every = 2 rungs by default, from rung 0
    assert result.settings.val_every == 2
    measured = np.flatnonzero(np.isfinite(result.val_losses)).tolist()
    assert measured == list(range(0, 450, 2))


def test_an_iterator_long_enough_for_the_test_is_enough():
    batches = iter([jnp.float32(1.0)] * 5)  # the test stops at the fifth rung of eight
    assert range_test(rate_step, jnp.zeros(()), batches, settings=RISING).stop_reason == (
        "diverged"
    )
    with pytest.raises(ValueError, match="batches ran out: an iterator cannot be restarted"):
        range_test(rate_step, jnp.zeros(()), iter([jnp.float32(1.0)] * 3), settings=LADDER)


def test_rungs_dispatched_ahead_of_the_stop_change_nothing(monkeypatch):
    """Short steps are dispatched up to MAX_AHEAD rungs ahead of the loss read; the ones past
    the rung the test stops at are thrown away: the result is the one of a test that reads
    each loss AHEAD rungs behind, and the batches read past the stop are exactly that many."""
    from cyclr.jax import rangetest

    def counted(read):  # the loss is the batch: 1 for 40 rungs, then 100 (diverged at once)
        for i in range(100):
            read.append(i)
            yield jnp.float32(1.0 if i < 40 else 100.0)

    def step(w, batch, lr):
        return w + lr, batch

    settings = cyclr.RangeTestSettings(1.0, 2.0, 100, "linear", beta=0.0)
    monkeypatch.setattr(rangetest, "AHEAD_SECONDS", 1e9)  # as if every step were short
    deep_read, shallow_read = [], []
    deep = range_test(step, jnp.zeros(()), counted(deep_read), settings=settings)
    assert deep.stop_reason == "diverged" and len(deep.losses) == 41
    # MAX_AHEAD from rung 17 on (measured over the first 16): 16 batches past the stop
    assert len(deep_read) == 41 + rangetest.MAX_AHEAD
    monkeypatch.setattr(rangetest, "MAX_AHEAD", rangetest.AHEAD)
    shallow = range_test(step, jnp.zeros(()), counted(shallow_read), settings=settings)
    assert len(shallow_read) == 41 + rangetest.AHEAD
    assert shallow == deep


def test_a_result_written_to_json_reads_back(tmp_path):
    path = tmp_path / "rt.json"
    result = range_test(
        rate_step, jnp.zeros(()), [jnp.float32(1.0)], settings=LADDER, json_path=path
    )
    assert json.loads(path.read_text())["losses"] == [1.0, 2.0, 3.0, 4.0]
    assert cyclr.RangeTestResult.from_json(path).losses.tolist() == result.losses.tolist()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(batches=[]), ValueError, r"batches yielded no batches; received batches=\[\]"),
        (dict(train_step=3), ValueError, "train_step must be callable; received train_step=3"),
        (
            dict(settings={"num_steps": 4}),
            ValueError,
            r"settings must be a cyclr.RangeTestSettings; received settings=\{'num_steps': 4\}",
        ),
        (
            dict(val_fn=lambda s, b: 0.0),
            ValueError,
            "validation needs both val_fn and val_batches; received val_fn=<function",
        ),
        (
            dict(val_fn=lambda s, b: 0.0, val_batches=iter([1.0])),
            ValueError,
            "val_batches is read once per measurement, so it must be re-iterable",
        ),
        (
            dict(settings=cyclr.RangeTestSettings(start_lr=None)),
            ValueError,
            r"received settings.start_lr=None: give the first rung",
        ),
        (dict(val_every=2), TypeError, "unexpected keyword argument 'val_every'"),
        (
            dict(settings=cyclr.RangeTestSettings(monitor="val_loss")),
            ValueError,
            "settings.monitor='val_loss' reads the validation curve, which needs val_fn",
        ),
        (
            dict(settings=cyclr.RangeTestSettings(monitor="val_accuracy")),
            ValueError,
            "received settings.monitor='val_accuracy'",
        ),
        (
            dict(train_step=lambda w, b, lr: (w, jnp.ones(2))),
            ValueError,
            r"the batch's loss a scalar; received a loss of shape \(2,\)",
        ),
        (
            dict(train_step=lambda w, b, lr: w),
            TypeError,
            r"train_step must return \(new_state, loss\); received an array of shape \(\)",
        ),
    ],
)
def test_bad_arguments_name_the_value(kwargs, error, message):
    args = dict(train_step=rate_step, state=jnp.zeros(()), batches=[jnp.float32(1.0)]) | kwargs
    args.setdefault("settings", LADDER)
    with pytest.raises(error, match=message):
        range_test(args.pop("train_step"), args.pop("state"), args.pop("batches"), **args)


@pytest.mark.parametrize("module", ["cyclr.jax.rangetest", "cyclr.jax.hyperparams"])
def test_doctests(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0
