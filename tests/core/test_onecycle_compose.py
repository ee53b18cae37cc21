"""OneCycle, Constant, Linear and Join: hand-checkable values."""

import numpy as np
import pytest

from cyclr import Constant, CyclicSchedule, Linear, OneCycle, join
from cyclr.compose import Join


def test_onecycle_linear_two_phase_table():
    # initial 0.5, peak 1.0 at step pct*total - 1 = 4, final 0.5/2 = 0.25 at step 10.
    s = OneCycle(
        1.0, total_steps=11, pct_start=5 / 11, anneal="linear", div_factor=2.0, final_div_factor=2.0
    )
    assert [s(i) for i in range(11)] == pytest.approx(
        [0.5, 0.625, 0.75, 0.875, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25], rel=1e-12
    )


def test_onecycle_holds_its_final_value_past_total_steps():
    s = OneCycle(0.1, total_steps=100)
    assert s(99) == s(100) == s(10**6) == pytest.approx(0.1 / 25 / 1e4, rel=1e-12)
    assert s.momentum(10**6) == pytest.approx(0.95)


def test_onecycle_cos_end_points_and_momentum():
    s = OneCycle(0.1, total_steps=1000)
    assert s(0) == pytest.approx(0.004, rel=1e-12)
    assert s(299) == pytest.approx(0.1, rel=1e-12)
    assert s.momentum(0) == 0.95 and s.momentum(299) == pytest.approx(0.85, rel=1e-12)


def test_onecycle_by_epochs_and_steps_per_epoch_is_the_one_with_their_product():
    by_epochs = OneCycle(0.1, epochs=10, steps_per_epoch=7, pct_start=0.25)
    assert by_epochs == OneCycle(0.1, total_steps=70, pct_start=0.25)
    assert by_epochs.total_steps == 70 and by_epochs(17) == OneCycle(0.1, 70, pct_start=0.25)(17)
    config = by_epochs.to_config()
    assert config["total_steps"] == 70 and "epochs" not in config
    assert OneCycle.from_config(config) == by_epochs
    assert repr(by_epochs) == "OneCycle(max_lr=0.1, total_steps=70, pct_start=0.25)"


def test_onecycle_three_phase_comes_back_to_the_start():
    s = OneCycle(1.0, total_steps=100, three_phase=True, anneal="linear")
    assert s(29) == pytest.approx(1.0) and s(58) == pytest.approx(0.04)
    assert s(99) == pytest.approx(0.04 / 1e4)


def test_constant_and_linear():
    assert Constant(0.3)(np.arange(3)).tolist() == [0.3, 0.3, 0.3]
    assert Constant(0.3, momentum_value=0.9).momentum(7) == 0.9
    assert [Linear(1.0, 0.0, 4)(i) for i in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def test_join_runs_each_piece_in_local_time():
    warmup = Linear(0.0, 1.0, transition_steps=4)
    cycles = CyclicSchedule(1.0, 5.0, step_size=2)
    tail = Linear(1.0, 0.0, transition_steps=2)
    s = join([warmup, cycles, tail], [4, 12])
    assert [s(i) for i in range(16)] == [0, 0.25, 0.5, 0.75, 1, 3, 5, 3, 1, 3, 5, 3, 1, 0.5, 0, 0]
    np.testing.assert_array_equal(s(np.arange(16)), [s(i) for i in range(16)])


def test_join_momentum_needs_every_piece_to_have_it():
    a = CyclicSchedule(1.0, 5.0, step_size=2, base_momentum=0.8)
    b = Constant(1.0, momentum_value=0.95)
    assert Join([a, b], [4]).momentum(5) == 0.95
    assert not Join([a, Constant(1.0)], [4]).has_momentum


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(schedules=[], boundaries=[]), "schedules"),
        (dict(schedules=[Constant(1.0), Constant(2.0)], boundaries=[]), "boundaries"),
        (dict(schedules=[Constant(1.0)] * 3, boundaries=[5, 5]), "boundaries must increase"),
        (dict(schedules=[Constant(1.0), 0.1], boundaries=[3]), "schedules"),
    ],
)
def test_join_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Join(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_lr=-1.0, total_steps=100), "max_lr"),
        (dict(max_lr=1.0, total_steps=0), "total_steps"),
        (dict(max_lr=1.0, total_steps=100, pct_start=1.5), "pct_start=1.5"),
        (dict(max_lr=1.0, total_steps=100, anneal="step"), "anneal='step'"),
        (dict(max_lr=1.0, total_steps=100, div_factor=0.0), "div_factor=0.0"),
        (dict(max_lr=1.0, total_steps=3, pct_start=0.2), "pct_start=0.2"),
        (
            dict(max_lr=1.0, total_steps=100, base_momentum=0.9, max_momentum=0.8),
            "base_momentum=0.9",
        ),
        (dict(max_lr=1.0, total_steps=100, base_momentum=None), "max_momentum=0.95"),
        (dict(max_lr=1.0), "received total_steps=None, epochs=None, steps_per_epoch=None"),
        (dict(max_lr=1.0, steps_per_epoch=10), "epochs=None, steps_per_epoch=10"),
        (dict(max_lr=1.0, total_steps=50, epochs=5, steps_per_epoch=10), "not both"),
        (dict(max_lr=1.0, epochs=2, steps_per_epoch=2.5), "steps_per_epoch=2.5"),
        (dict(max_lr=1.0, epochs=1, steps_per_epoch=1), "epochs=1, steps_per_epoch=1"),
    ],
)
def test_onecycle_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OneCycle(**kwargs)
