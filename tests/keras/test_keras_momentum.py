"""Cyclical momentum (SGD momentum, Adam/AdamW beta_1) reaches the optimizer's update."""

import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_probe import probe_fit, probe_model

import cyclr
import cyclr.keras as ck

CORE = cyclr.CyclicSchedule(0.01, 0.05, step_size=3, base_momentum=0.8, max_momentum=0.95)
KERAS = dict(base_lr=0.01, max_lr=0.05, step_size=3, base_momentum=0.8, max_momentum=0.95)


def heavy_ball(lrs, mus):
    """Keras' SGD momentum rule with gradient -1: the change of w at each step."""
    velocity, deltas = 0.0, []
    for lr, mu in zip(lrs, mus, strict=False):
        velocity = mu * velocity + lr
        deltas.append(velocity)
    return np.array(deltas)


def adam(lrs, beta_1s, beta_2=0.999, epsilon=1e-7):
    """Keras' Adam update with gradient -1, beta_1 read at each step."""
    m = v = 0.0
    deltas = []
    for t, (lr, b1) in enumerate(zip(lrs, beta_1s, strict=False), start=1):
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - b1**t)
        m += (-1.0 - m) * (1 - b1)
        v += (1.0 - v) * (1 - beta_2)
        deltas.append(-m * alpha / (np.sqrt(v) + epsilon))
    return np.array(deltas)


def test_sgd_follows_the_momentum_schedule_in_graph():
    clr = ck.CyclicalLearningRate(**KERAS)
    rec = probe_fit(probe_model(ck.SGD(learning_rate=clr, momentum=clr)), epochs=4)
    steps = np.arange(16)
    expected = heavy_ball(CORE(steps), CORE.momentum(steps))
    np.testing.assert_allclose(rec.deltas, expected, rtol=1e-5, atol=1e-7)
    constant = heavy_ball(CORE(steps), np.full(16, 0.95))
    assert np.abs(rec.deltas - constant).max() > 1e-3  # the cycling is visible


def test_nesterov_sgd_follows_the_momentum_schedule():
    clr = ck.CyclicalLearningRate(**KERAS)
    opt = ck.SGD(learning_rate=clr, momentum=clr, nesterov=True)
    rec = probe_fit(probe_model(opt), epochs=4)
    steps = np.arange(16)
    lrs, mus = CORE(steps), CORE.momentum(steps)
    velocities = heavy_ball(lrs, mus)  # v <- mu v - lr g, with g = -1
    np.testing.assert_allclose(rec.deltas, mus * velocities + lrs, rtol=1e-5, atol=1e-7)


def test_plain_sgd_without_momentum_is_keras_sgd():
    rec = probe_fit(probe_model(ck.SGD(learning_rate=0.05)), epochs=1)
    np.testing.assert_allclose(rec.deltas, np.full(4, 0.05), rtol=1e-6)


def test_callback_cycles_momentum_of_cyclr_sgd():
    callback = ck.CyclicLR(**KERAS)
    rec = probe_fit(probe_model(ck.SGD(0.5, momentum=0.9)), epochs=4, callbacks=[callback])
    steps = np.arange(16)
    np.testing.assert_allclose(
        rec.deltas, heavy_ball(CORE(steps), CORE.momentum(steps)), rtol=1e-5, atol=1e-7
    )
    assert callback.history["momentum"] == [CORE.momentum(i) for i in range(16)]


def test_adam_beta_1_follows_onecycle():
    one = ck.OneCycleSchedule(0.05, total_steps=16)
    core = cyclr.OneCycle(0.05, total_steps=16)
    rec = probe_fit(probe_model(ck.Adam(learning_rate=one, beta_1=one)), epochs=4)
    steps = np.arange(16)
    np.testing.assert_allclose(
        rec.deltas, adam(core(steps), core.momentum(steps)), rtol=1e-4, atol=1e-7
    )


def test_float_momentum_is_keras_sgd():
    ours = probe_fit(probe_model(ck.SGD(0.05, momentum=0.9)), epochs=2)
    theirs = probe_fit(probe_model(keras.optimizers.SGD(0.05, momentum=0.9)), epochs=2)
    np.testing.assert_array_equal(ours.weights, theirs.weights)


def test_stock_optimizer_cannot_cycle_momentum_and_says_why():
    with pytest.raises(ValueError, match="received optimizer=SGD"):
        probe_fit(
            probe_model(keras.optimizers.SGD(0.5, momentum=0.9)),
            epochs=1,
            callbacks=[ck.CyclicLR(**KERAS)],
        )


def test_a_schedule_without_momentum_is_refused():
    with pytest.raises(ValueError, match="momentum="):
        ck.SGD(momentum=ck.CyclicalLearningRate(0.01, 0.05, 3))


def test_saved_momentum_schedule_resumes(tmp_path):
    clr = ck.CyclicalLearningRate(**KERAS)
    model = probe_model(ck.SGD(learning_rate=clr, momentum=clr))
    first = probe_fit(model, epochs=2)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, ck.SGD)
    assert loaded.optimizer.momentum_schedule.schedule == CORE
    second = probe_fit(loaded, epochs=2)
    steps = np.arange(16)
    np.testing.assert_allclose(
        np.concatenate([first.deltas, second.deltas]),
        heavy_ball(CORE(steps), CORE.momentum(steps)),
        rtol=1e-5,
        atol=1e-7,
    )


def test_adamw_config_round_trip():
    one = ck.OneCycleSchedule(0.05, total_steps=100)
    opt = ck.AdamW(learning_rate=one, beta_1=one, weight_decay=0.01)
    again = ck.AdamW.from_config(opt.get_config())
    assert again.momentum_schedule.schedule == one.schedule
    assert again.weight_decay == 0.01
    assert round(float(again.momentum_at(0)), 6) == 0.95
