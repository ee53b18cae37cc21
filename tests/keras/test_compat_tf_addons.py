"""TF Addons' documented CyclicalLearningRate usage, mapped to cyclr.keras.CyclicalLearningRate.

TF Addons (unmaintained since 2024) documents::

    lr_schedule = tfa.optimizers.CyclicalLearningRate(
        initial_learning_rate=1e-4, maximal_learning_rate=1e-2, step_size=2000,
        scale_fn=lambda x: 1., scale_mode="cycle", name="MyCyclicScheduler")
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=lr_schedule), ...)

cyclr keeps one signature (CyclicSchedule's): TF Addons' spellings are refused with what to
write instead, and the rewritten call gives TF Addons' values (its formula, written out here)::

    cycle = floor(1 + step / (2 * step_size))
    x     = |step / step_size - 2 * cycle + 1|
    lr    = initial + (maximal - initial) * max(0, 1 - x) * scale_fn(cycle or step)
"""

import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_probe import assert_lrs, probe_fit, probe_model

import cyclr
from cyclr.keras import CyclicalLearningRate


def tfa_formula(step, initial, maximal, step_size, scale_fn, scale_mode="cycle"):
    step = np.asarray(step, dtype=float)
    cycle = np.floor(1 + step / (2 * step_size))
    x = np.abs(step / step_size - 2 * cycle + 1)
    scale = scale_fn(cycle if scale_mode == "cycle" else step)
    return initial + (maximal - initial) * np.maximum(0.0, 1 - x) * scale


STEPS = np.arange(0, 10001, 125)


@pytest.mark.parametrize(
    "tfa_kwargs, write",
    [
        (dict(initial_learning_rate=1e-4, maximal_learning_rate=1e-2), "write base_lr"),
        (dict(base_lr=1e-4, maximal_learning_rate=1e-2), "write max_lr"),
        (dict(base_lr=1e-4, max_lr=1e-2, name="MyCyclicScheduler"), "leave name out"),
    ],
)
def test_tf_addons_spellings_say_what_to_write(tfa_kwargs, write):
    with pytest.raises(TypeError, match=rf"CyclicalLearningRate\(\) has no .*{write}.*received"):
        CyclicalLearningRate(
            step_size=2000, scale_fn=lambda x: 1.0, scale_mode="cycle", **tfa_kwargs
        )


def test_tf_addons_positional_scale_fn_says_to_name_it():
    with pytest.raises(TypeError, match=re.escape("pass scale_fn=..., scale_mode=... by name")):
        CyclicalLearningRate(1e-4, 1e-2, 2000, lambda x: 1.0)


@pytest.mark.parametrize(
    "scale_fn, scale_mode",
    [
        (lambda x: 1.0, "cycle"),  # the documented example
        (lambda x: 1 / (2.0 ** (x - 1)), None),  # Triangular2CyclicalLearningRate
        (lambda x: 0.9995**x, "iterations"),  # ExponentialCyclicalLearningRate
    ],
)
def test_the_documented_example_rewritten_gives_tf_addons_values(scale_fn, scale_mode):
    given = {} if scale_mode is None else {"scale_mode": scale_mode}  # TF Addons: 'cycle'
    schedule = CyclicalLearningRate(
        base_lr=1e-4, max_lr=1e-2, step_size=2000, scale_fn=scale_fn, **given
    )
    expected = tfa_formula(STEPS, 1e-4, 1e-2, 2000, scale_fn, scale_mode or "cycle")
    np.testing.assert_allclose(schedule.schedule(STEPS), expected, rtol=1e-12)
    # in the graph, float32 as in TF: a per-step power of a float32 gamma drifts further
    got = [float(schedule(int(s))) for s in STEPS]
    np.testing.assert_allclose(got, expected, rtol=2e-6 if scale_mode != "iterations" else 1e-3)


def test_tf_addons_subclasses_are_cyclr_modes():
    triangular2 = CyclicalLearningRate(1e-4, 1e-2, 2000, mode="triangular2")
    exponential = CyclicalLearningRate(1e-4, 1e-2, 2000, mode="exp_range", gamma=0.9995)
    for schedule, scale_fn, scale_mode in [
        (triangular2, lambda x: 1 / (2.0 ** (x - 1)), "cycle"),
        (exponential, lambda x: 0.9995**x, "iterations"),
    ]:
        np.testing.assert_allclose(
            schedule.schedule(STEPS),
            tfa_formula(STEPS, 1e-4, 1e-2, 2000, scale_fn, scale_mode),
            rtol=1e-12,
        )


def test_compiled_into_sgd_as_documented():
    schedule = CyclicalLearningRate(base_lr=0.01, max_lr=0.05, step_size=2, scale_fn=lambda x: 1.0)
    rec = probe_fit(probe_model(keras.optimizers.SGD(learning_rate=schedule)), epochs=2)
    assert_lrs(rec.lrs, cyclr.CyclicSchedule(0.01, 0.05, 2)(np.arange(8)))
