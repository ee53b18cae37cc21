"""bckenstler/CLR's README usage, run against cyclr.keras.CyclicLR.

The snippet's users write ``CyclicLR(base_lr=0.001, max_lr=0.006, step_size=2000.,
mode='triangular')``, give custom ``scale_fn`` with ``scale_mode``, read ``clr.history['lr']``
and restart cycles with ``clr._reset(new_base_lr, new_max_lr, new_step_size)``. The expected
values come from the snippet's formula, written out here::

    cycle = floor(1 + iterations / (2 * step_size))
    x     = |iterations / step_size - 2 * cycle + 1|
    lr    = base_lr + (max_lr - base_lr) * max(0, 1 - x) * scale_fn(cycle or iterations)
"""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_probe import probe_fit, probe_model

from cyclr.keras import CyclicLR


def clr_formula(
    iterations,
    base_lr=0.001,
    max_lr=0.006,
    step_size=2000.0,
    scale_fn=lambda x: 1.0,
    scale_mode="cycle",
):
    iterations = np.asarray(iterations, dtype=float)
    cycle = np.floor(1 + iterations / (2 * step_size))
    x = np.abs(iterations / step_size - 2 * cycle + 1)
    scale = scale_fn(cycle if scale_mode == "cycle" else iterations)
    return base_lr + (max_lr - base_lr) * np.maximum(0.0, 1 - x) * scale


ITERATIONS = np.arange(0, 12001, 250)


@pytest.mark.parametrize(
    "kwargs, scale_fn, scale_mode",
    [
        # README: "triangular", "triangular2", "exp_range" policies
        (dict(mode="triangular"), lambda x: 1.0, "cycle"),
        (dict(mode="triangular2"), lambda x: 1 / (2.0 ** (x - 1)), "cycle"),
        (dict(mode="exp_range", gamma=0.99994), lambda x: 0.99994**x, "iterations"),
    ],
)
def test_readme_policies(kwargs, scale_fn, scale_mode):
    clr = CyclicLR(base_lr=0.001, max_lr=0.006, step_size=2000.0, **kwargs)
    got = [clr.clr(int(i)) for i in ITERATIONS]
    np.testing.assert_allclose(
        got, clr_formula(ITERATIONS, scale_fn=scale_fn, scale_mode=scale_mode), rtol=1e-12
    )


def sine_cycle(x):
    return 0.5 * (1 + np.sin(x * np.pi / 2.0))


def per_iteration(x):
    return 1 / (5 ** (x * 0.0001))


@pytest.mark.parametrize(
    "scale_fn, scale_mode", [(sine_cycle, "cycle"), (per_iteration, "iterations")]
)
def test_readme_custom_scale_fn(scale_fn, scale_mode):
    # clr = CyclicLR(base_lr=0.001, max_lr=0.006, step_size=2000., scale_fn=clr_fn,
    #                scale_mode='cycle')
    clr = CyclicLR(
        base_lr=0.001, max_lr=0.006, step_size=2000.0, scale_fn=scale_fn, scale_mode=scale_mode
    )
    got = [clr.clr(int(i)) for i in ITERATIONS]
    np.testing.assert_allclose(
        got, clr_formula(ITERATIONS, scale_fn=scale_fn, scale_mode=scale_mode), rtol=1e-12
    )


def test_positional_arguments_in_the_snippets_order():
    by_position = CyclicLR(0.001, 0.006, 2000.0, "exp_range", 0.99994)
    assert (
        by_position.schedule
        == CyclicLR(
            base_lr=0.001, max_lr=0.006, step_size=2000.0, mode="exp_range", gamma=0.99994
        ).schedule
    )


def test_history_lr_in_fit_and_reset_with_the_snippets_names():
    clr = CyclicLR(base_lr=0.01, max_lr=0.05, step_size=3.0, mode="triangular2")
    model = probe_model(keras.optimizers.SGD(0.5))
    probe_fit(model, epochs=2, callbacks=[clr])
    expected = clr_formula(np.arange(8), 0.01, 0.05, 3, lambda x: 1 / (2.0 ** (x - 1)))
    np.testing.assert_allclose(clr.history["lr"], expected, rtol=1e-12)
    assert clr.history["iterations"] == list(range(1, 9))

    # clr._reset(new_base_lr, new_max_lr, new_step_size): a new cycle from its first step
    clr._reset(new_base_lr=0.02, new_max_lr=0.04, new_step_size=2.0)
    probe_fit(model, epochs=1, callbacks=[clr])
    np.testing.assert_allclose(
        clr.history["lr"][8:], clr_formula(np.arange(4), 0.02, 0.04, 2), rtol=1e-12
    )
    clr._reset(0.01, 0.03)  # positionally; the step size stays
    clr._reset()  # no arguments: restart the cycle only
    probe_fit(model, epochs=1, callbacks=[clr])
    np.testing.assert_allclose(
        clr.history["lr"][12:], clr_formula(np.arange(4), 0.01, 0.03, 2), rtol=1e-12
    )
