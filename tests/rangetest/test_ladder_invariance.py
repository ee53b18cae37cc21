"""One curve, read on any reasonable ladder, gives the same bounds (within 1.25x).

"Reasonable" is issue 12's range: 100 to 1000 rungs, starting 1e-7 to 1e-4, ending 1 to
100. A network's loss answers a rate a few updates late (``BoundsSettings.delay``; real
range tests in ``bench/ladders.py``), so the synthetic range tests here record the loss of
rung ``i`` as the curve's value at the rate of rung ``i - delay``, with batch noise on top.
"""

import math
import statistics

import numpy as np
import pytest

from cyclr.rangetest import BoundsSettings, lr_ladder, suggest_bounds

LADDERS = [
    (1e-4, 10.0, 400),  # the validated ladder (SGD)
    (1e-7, 10.0, 100),  # the old default of range_test / find_lr
    (1e-5, 1.0, 200),
    (1e-6, 100.0, 1000),
    (1e-4, 3.0, 150),
    (1e-7, 100.0, 100),  # the sparsest: 11 rungs per decade
    (1e-4, 1.0, 1000),  # the densest: 250 rungs per decade
    (1e-6, 10.0, 300),
]
SHAPES = [
    dict(),
    dict(k=6.0, centre=-1.5),  # a sharp fall close before the blow-up
    dict(k=2.0, centre=-2.5, blowup=-0.8),  # a slow fall
    dict(centre=-4.0, blowup=-2.0),  # two decades lower (Adam-like rates)
]
SEEDS = range(5)
GOAL = 1.25


def curve(lrs, *, k=3.0, centre=-2.0, blowup=-0.5):
    """A plateau at 2.3, a sigmoid fall of 2 centred at 10**centre (``k`` per decade),
    then a quadratic blow-up from 10**blowup: a function of the rate alone."""
    z = np.log10(lrs)
    return 2.3 - 2.0 / (1.0 + np.exp(-k * (z - centre))) + 40.0 * np.clip(z - blowup, 0, None) ** 2


def range_test(ladder, shape, seed, delay, noise=0.03):
    """The losses a range test on ``ladder`` records: each answers the rate ``delay``
    updates before (the first ones the starting rate), times (1 + noise * N(0, 1))."""
    lrs = lr_ladder(*ladder)
    values = curve(lrs, **shape)
    if delay:
        values = np.r_[np.full(delay, values[0]), values[:-delay]]
    rng = np.random.default_rng(seed)
    return lrs, values * (1.0 + noise * rng.standard_normal(values.size))


def median_bounds(shape, delay, settings):
    """Per ladder, the median (over seeds) base_lr and max_lr."""
    found = []
    for ladder in LADDERS:
        pairs = [
            suggest_bounds(*range_test(ladder, shape, s, delay), settings=settings) for s in SEEDS
        ]
        found.append(
            (
                statistics.median(p.base_lr for p in pairs),
                statistics.median(p.max_lr for p in pairs),
            )
        )
    return found


def spread(values):
    return max(values) / min(values)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_the_default_reading_of_a_delayed_curve_does_not_depend_on_the_ladder(shape):
    found = median_bounds(shape, delay=BoundsSettings().delay, settings=None)
    bases, highs = zip(*found, strict=True)
    assert spread(bases) <= GOAL, bases
    assert spread(highs) <= GOAL, highs
    # and it reads the curve, not the ladder: max_lr before the blow-up, base_lr on the fall
    blowup = 10 ** shape.get("blowup", -0.5)
    assert all(h < blowup for h in highs)
    assert all(4.0 <= h / b <= 10.0 * (1 + 1e-9) for b, h in found)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_a_curve_that_answers_at_once_read_with_no_delay_does_not_depend_on_the_ladder(shape):
    found = median_bounds(shape, delay=0, settings=BoundsSettings(delay=0))
    bases, highs = zip(*found, strict=True)
    assert spread(bases) <= GOAL, bases
    assert spread(highs) <= GOAL, highs
    # the same bounds as the delayed curve read with the delay: the delay is undone exactly
    delayed = median_bounds(shape, delay=6, settings=BoundsSettings(delay=6))
    for (b0, h0), (b6, h6) in zip(found, delayed, strict=True):
        assert 1 / GOAL <= b6 / b0 <= GOAL and 1 / GOAL <= h6 / h0 <= GOAL


def test_a_wrong_delay_moves_the_bounds_by_that_many_rungs():
    # The one place the ladder shows through: a curve read with a delay it does not have
    # moves by (delay difference) x (decades per rung), so the sparse ladder moves most.
    # That is why the entry points default to ladders of a few hundred rungs.
    shape = SHAPES[0]
    for ladder in (LADDERS[0], LADDERS[5]):
        lrs, losses = range_test(ladder, shape, 0, delay=0, noise=0.0)
        right = suggest_bounds(lrs, losses, settings=BoundsSettings(delay=0))
        wrong = suggest_bounds(lrs, losses, settings=BoundsSettings(delay=6))
        per_rung = math.log10(lrs[1] / lrs[0])
        moved = math.log10(right.max_lr / wrong.max_lr) / per_rung
        assert 5 <= moved <= 7, moved
