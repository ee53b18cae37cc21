"""The ladder and the smoothing of docs/semantics.md, to the last bit where the math allows."""

import math

import numpy as np
import pytest

from cyclr.rangetest import lr_ladder, smooth_losses


def test_exp_ladder_doubles_from_one_to_sixteen():
    assert lr_ladder(1.0, 16.0, 5).tolist() == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_exp_ladder_follows_the_spec_formula_exactly():
    start, end, n = 1e-7, 10.0, 100
    expected = [start * (end / start) ** (i / (n - 1)) for i in range(n - 1)] + [end]
    assert lr_ladder(start, end, n).tolist() == expected


def test_linear_ladder_steps_by_one():
    assert lr_ladder(0.0, 3.0, 4, step_mode="linear").tolist() == [0.0, 1.0, 2.0, 3.0]
    assert lr_ladder(0.5, 2.5, 5, "linear").tolist() == [0.5, 1.0, 1.5, 2.0, 2.5]


@pytest.mark.parametrize("mode", ["exp", "linear"])
@pytest.mark.parametrize("start,end,n", [(1e-6, 1.0, 2), (1e-5, 10.0, 97), (0.003, 0.7, 1000)])
def test_ladder_includes_both_end_points_and_rises(mode, start, end, n):
    lrs = lr_ladder(start, end, n, mode)
    assert lrs.shape == (n,) and lrs.dtype == np.float64
    assert lrs[0] == start and lrs[-1] == end
    assert np.all(np.diff(lrs) > 0)


def test_exp_ladder_is_evenly_spaced_in_log_lr():
    steps = np.diff(np.log10(lr_ladder(1e-6, 1.0, 61)))
    np.testing.assert_allclose(steps, 0.1, rtol=1e-9)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            dict(start_lr=1.0, end_lr=0.1, num_steps=10),
            "end_lr must be greater than start_lr; received start_lr=1.0, end_lr=0.1",
        ),
        (dict(start_lr=0.1, end_lr=0.1, num_steps=10), "received start_lr=0.1, end_lr=0.1"),
        (dict(start_lr=0.0, end_lr=1.0, num_steps=10), "start_lr must be > 0 for step_mode='exp'"),
        (
            dict(start_lr=-1.0, end_lr=1.0, num_steps=10, step_mode="linear"),
            "start_lr must be >= 0; received start_lr=-1.0",
        ),
        (
            dict(start_lr=1e-3, end_lr=1.0, num_steps=1),
            "num_steps must be >= 2; received num_steps=1",
        ),
        (dict(start_lr=1e-3, end_lr=1.0, num_steps=10.5), "num_steps must be an integer"),
        (dict(start_lr=1e-3, end_lr=1.0, num_steps=True), "num_steps must be an integer"),
        (dict(start_lr=1e-3, end_lr=math.inf, num_steps=10), "end_lr must be finite"),
        (dict(start_lr="0.1", end_lr=1.0, num_steps=10), "start_lr must be a real number"),
        (
            dict(start_lr=1e-3, end_lr=1.0, num_steps=10, step_mode="log"),
            "step_mode must be one of ('exp', 'linear'); received step_mode='log'",
        ),
    ],
)
def test_bad_ladders_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        lr_ladder(**kwargs)


def test_smoothing_matches_the_hand_computed_debiased_average():
    # beta = 0.5: weights 1, 1/2, 1/4 ... normalized by 1 - 0.5**(i+1)
    #   i=0: 2 ;  i=1: (1*2 + .5*2) / 1.5 = 2 ;  i=2: (0.25 + .5*2 + .25*2) / 1.75 = 1
    #   i=3: (3.125 + .5*.25 + .25*2 + .125*2) / 1.875 = 4 / 1.875
    assert smooth_losses([2.0, 2.0, 0.25, 3.125], beta=0.5).tolist()[:3] == [2.0, 2.0, 1.0]
    assert smooth_losses([2.0, 2.0, 0.25, 3.125], beta=0.5)[3] == pytest.approx(
        4 / 1.875, rel=1e-15
    )


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.98])
def test_smoothing_equals_its_closed_form(beta):
    losses = np.random.default_rng(3).uniform(0.5, 3.0, 200)
    smooth = smooth_losses(losses, beta)
    for i in (0, 1, 7, 199):
        weights = beta ** np.arange(i, -1, -1.0)
        assert smooth[i] == pytest.approx(
            np.dot(weights, losses[: i + 1]) / weights.sum(), rel=1e-12
        )


def test_smoothing_a_constant_is_that_constant_from_the_first_value():
    np.testing.assert_allclose(smooth_losses([3.0] * 50), 3.0, rtol=1e-12)


def test_smoothing_with_beta_zero_is_the_identity():
    assert smooth_losses([5.0, -1.0, 2.5], beta=0.0).tolist() == [5.0, -1.0, 2.5]


@pytest.mark.parametrize("beta", [1.0, -0.1, math.nan])
def test_bad_beta_names_the_value(beta):
    with pytest.raises(ValueError, match="beta"):
        smooth_losses([1.0, 2.0], beta)
