"""Every bad input is a ValueError that names the parameter and the value received."""

import math

import numpy as np
import pytest

from cyclr import CyclicSchedule, check, step_size_for, steps_per_epoch


def double(x):
    return 2 * x


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((math.nan, 1.0, 4), {}, "base_lr=nan"),
        ((0.1, math.inf, 4), {}, "max_lr=inf"),
        ((-0.1, 1.0, 4), {}, "base_lr=-0.1"),
        (("0.1", 1.0, 4), {}, "base_lr='0.1'"),
        ((1.0, 0.1, 4), {}, r"base_lr=1.0, max_lr=0.1"),
        ((0.1, 1.0, 0), {}, "step_size=0"),
        ((0.1, 1.0, -3), {}, "step_size=-3"),
        ((0.1, 1.0, 2.5), {}, "step_size=2.5"),
        ((0.1, 1.0), {}, "step_size=None"),
        ((0.1, 1.0), dict(step_size_up=0), "step_size_up=0"),
        ((0.1, 1.0), dict(step_size_up=3, step_size_down=1.5), "step_size_down=1.5"),
        ((0.1, 1.0), dict(step_size_down=3), "step_size_down=3"),
        ((0.1, 1.0, 4), dict(step_size_up=4), "step_size_up=4"),
        ((0.1, 1.0, 4), dict(mode="cosine"), "mode='cosine'"),
        ((0.1, 1.0, 4), dict(waveform="square"), "waveform='square'"),
        ((0.1, 1.0, 4), dict(decay_target="low"), "decay_target='low'"),
        ((0.1, 1.0, 4), dict(scale_mode="epoch"), "scale_mode='epoch'"),
        ((0.1, 1.0, 4), dict(mode="exp_range", gamma=0.0), "gamma=0.0"),
        ((0.1, 1.0, 4), dict(mode="exp_range", gamma=1.5), "gamma=1.5"),
        ((0.1, 1.0, 4), dict(mode="exp_range", gamma=-0.5), "gamma=-0.5"),
        ((0.1, 1.0, 4), dict(gamma=0.99), "gamma=0.99 with mode='triangular'"),
        ((0.1, 1.0, 4), dict(scale_fn=double), "scale_mode=None"),
        ((0.1, 1.0, 4), dict(scale_fn=double, scale_mode="cycle", gamma=0.5), "and a scale_fn"),
        ((0.1, 1.0, 4), dict(scale_mode="iterations"), "scale_mode='iterations' with mode"),
        (
            (0.1, 1.0, 4),
            dict(scale_fn=double, scale_mode="cycle", mode="triangular2"),
            "mode='triangular2'",
        ),
        ((0.1, 1.0, 4), dict(scale_fn=3, scale_mode="cycle"), "scale_fn=3"),
        ((0.1, 1.0, 4), dict(base_momentum=0.99, max_momentum=0.9), "base_momentum=0.99"),
        ((0.1, 1.0, 4), dict(max_momentum=1.5), "max_momentum=1.5"),
        ((0.1, 1.0, 4), dict(base_momentum=-0.1), "base_momentum=-0.1"),
        ((np.array([0.1, 0.2]), 1.0, 4), {}, r"base_lr=array\(\[0.1, 0.2\]\)"),
        ((np.array(True), 1.0, 4), {}, "base_lr=True"),
        ((0.1, 1.0, 4), dict(mode="exp_range", gamma=np.array(1.5)), "gamma=1.5"),
    ],
)
def test_bad_parameters_name_the_value(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CyclicSchedule(*args, **kwargs)


@pytest.mark.parametrize(
    "step, match",
    [
        (-1, "step=-1"),
        (np.array([3, -2]), "step=-2"),
        (np.array([1.0, np.nan]), "finite"),
        ("3", "step='3'"),
    ],
)
def test_negative_or_bad_steps(step, match):
    with pytest.raises(ValueError, match=match):
        CyclicSchedule(0.1, 1.0, 4)(step)


def test_custom_scale_fn_refuses_to_be_silently_dropped_from_config():
    s = CyclicSchedule(0.1, 1.0, 4, scale_fn=double, scale_mode="iterations")
    with pytest.raises(ValueError, match="scale_fn"):
        s.to_config()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: steps_per_epoch(0, 10), "n_samples=0"),
        (lambda: steps_per_epoch(100, 0), "batch_size=0"),
        (lambda: steps_per_epoch(100, 2.5), "batch_size=2.5"),
        (lambda: step_size_for(100, 10, epochs=0), "epochs=0"),
        (lambda: check(CyclicSchedule(0.1, 1.0, 4), 0), "total_steps=0"),
        (lambda: check(CyclicSchedule(0.1, 1.0, 4), 10, steps_per_epoch=-1), "steps_per_epoch=-1"),
    ],
)
def test_helper_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "form, kwargs, match",
    [
        (
            CyclicSchedule.from_torch_kwargs,
            dict(base_lr=0.1, max_lr=1.0, cycle_momentum=False, max_momentum=0.9),
            "do not apply with cycle_momentum=False; received max_momentum=0.9",
        ),
        (
            CyclicSchedule.from_torch_kwargs,
            dict(base_lr=0.1, max_lr=1.0, step_size_up=0),
            "step_size_up=0",
        ),
        (
            CyclicSchedule.from_bckenstler_kwargs,
            dict(step_size=2000.0, step_size_up=10),
            "received step_size=2000, step_size_up=10",
        ),
        (CyclicSchedule.from_bckenstler_kwargs, dict(step_size=-3), "step_size=-3"),
    ],
)
def test_keyword_forms_name_the_value(form, kwargs, match):
    with pytest.raises(ValueError, match=match):
        form(**kwargs)
