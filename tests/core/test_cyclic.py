"""CyclicSchedule: hand-checkable tables (base 1, max 5, step size 4) and its rules.

The rules are those of docs/semantics.md, *Cyclical schedules* and *Decay*.
"""

import math
import pickle

import numpy as np
import pytest

from cyclr import CyclicSchedule


def values(schedule, n):
    return [schedule(i) for i in range(n)]


def test_triangular_table():
    s = CyclicSchedule(1.0, 5.0, step_size=4)
    assert values(s, 17) == [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3, 2, 1]


def test_triangular2_halves_amplitude_each_cycle():
    s = CyclicSchedule(1.0, 5.0, step_size=4, mode="triangular2")
    assert values(s, 24) == [
        1,
        2,
        3,
        4,
        5,
        4,
        3,
        2,
        1,
        1.5,
        2,
        2.5,
        3,
        2.5,
        2,
        1.5,
        1,
        1.25,
        1.5,
        1.75,
        2,
        1.75,
        1.5,
        1.25,
    ]


def test_exp_range_decays_with_the_global_step():
    s = CyclicSchedule(1.0, 5.0, step_size=4, mode="exp_range", gamma=0.5)
    # lr = 1 + 4 * h * 0.5**step
    assert values(s, 6) == [1.0, 1.5, 1.5, 1.375, 1.25, 1.09375]


def test_decay_target_bounds_shrinks_both_bounds():
    s = CyclicSchedule(1.0, 5.0, step_size=4, mode="triangular2", decay_target="bounds")
    assert values(s, 16)[8:] == [0.5, 1.0, 1.5, 2.0, 2.5, 2.0, 1.5, 1.0]
    assert values(s, 8) == [1, 2, 3, 4, 5, 4, 3, 2]


@pytest.mark.parametrize(
    "waveform, quarter, half, three_quarters",
    [
        ("triangular", 2.0, 3.0, 4.0),
        (
            "sine",
            1 + 4 * (1 - math.cos(math.pi / 4)) / 2,
            3.0,
            1 + 4 * (1 - math.cos(3 * math.pi / 4)) / 2,
        ),
        ("parabolic", 1 + 4 * 0.4375, 4.0, 1 + 4 * 0.9375),
    ],
)
def test_waveform_tables(waveform, quarter, half, three_quarters):
    s = CyclicSchedule(1.0, 5.0, step_size=4, waveform=waveform)
    got = values(s, 9)
    assert got[0] == 1.0 and got[4] == 5.0 and got[8] == 1.0
    assert got[1] == pytest.approx(quarter, rel=1e-15)
    assert got[2] == pytest.approx(half, rel=1e-15)
    assert got[3] == pytest.approx(three_quarters, rel=1e-15)
    assert got[5:8] == pytest.approx(got[3:0:-1], rel=1e-15)  # the way down mirrors the way up


def test_asymmetric_cycle():
    s = CyclicSchedule(1.0, 5.0, step_size_up=2, step_size_down=6)
    assert values(s, 10) == pytest.approx(
        [1, 3, 5, 5 - 4 / 6, 5 - 8 / 6, 3, 5 - 16 / 6, 5 - 20 / 6, 1, 3], rel=1e-15
    )
    assert s.cycle_length == 8


def test_step_size_up_alone_means_a_symmetric_cycle():
    assert values(CyclicSchedule(1.0, 5.0, step_size_up=4), 9) == values(
        CyclicSchedule(1.0, 5.0, step_size=4), 9
    )


def test_momentum_runs_inverse_to_lr():
    s = CyclicSchedule(1.0, 5.0, step_size=4, base_momentum=0.85, max_momentum=0.95)
    assert [s.momentum(i) for i in (0, 2, 4, 6, 8)] == pytest.approx(
        [0.95, 0.90, 0.85, 0.90, 0.95], rel=1e-15
    )


def test_momentum_decays_with_the_lr_amplitude():
    s = CyclicSchedule(
        1.0, 5.0, step_size=4, mode="triangular2", base_momentum=0.8, max_momentum=0.9
    )
    assert s.momentum(4) == pytest.approx(0.8) and s.momentum(12) == pytest.approx(0.85)


def test_one_momentum_bound_takes_the_default_for_the_other():
    s = CyclicSchedule(1.0, 5.0, step_size=4, base_momentum=0.8)
    assert (s.base_momentum, s.max_momentum) == (0.8, 0.95)


def test_no_momentum_unless_asked():
    s = CyclicSchedule(1.0, 5.0, step_size=4)
    assert not s.has_momentum
    with pytest.raises(ValueError, match="base_momentum"):
        s.momentum(3)


def halve_per_cycle(x):
    return 0.5 ** (x - 1)


def test_custom_scale_fn_by_cycle_equals_triangular2():
    custom = CyclicSchedule(1.0, 5.0, step_size=4, scale_fn=halve_per_cycle, scale_mode="cycle")
    builtin = CyclicSchedule(1.0, 5.0, step_size=4, mode="triangular2")
    steps = np.arange(40)
    np.testing.assert_array_equal(custom(steps), builtin(steps))
    assert pickle.loads(pickle.dumps(custom))(13) == custom(13)


def test_scale_mode_with_a_builtin_mode_is_honoured():
    per_step = CyclicSchedule(1.0, 5.0, step_size=4, mode="triangular2", scale_mode="iterations")
    # scale = 1 / 2**(step - 1): at step 2, h = 0.5 and the scale is 0.5.
    assert per_step(2) == 1 + 4 * 0.5 * 0.5
    per_cycle = CyclicSchedule(
        1.0, 5.0, step_size=4, mode="exp_range", gamma=0.5, scale_mode="cycle"
    )
    assert per_cycle(12) == 1 + 4 * 1.0 * 0.5**2


def test_integral_float_step_sizes_are_accepted_as_ints():
    s = CyclicSchedule(1e-3, 6e-3, step_size=2000.0)
    assert s.step_size == 2000 and isinstance(s.step_size, int)


def test_array_steps_give_arrays_of_the_same_shape():
    s = CyclicSchedule(1.0, 5.0, step_size=4)
    got = s(np.array([[0, 4], [8, 2]]))
    assert isinstance(got, np.ndarray) and got.shape == (2, 2)
    np.testing.assert_array_equal(got, [[1, 5], [1, 3]])
    assert isinstance(s(np.int64(4)), float) and isinstance(s(4), float)


def test_with_bounds_keeps_the_rest():
    s = CyclicSchedule(1.0, 5.0, step_size=4, mode="triangular2", waveform="sine")
    t = s.with_bounds(2.0, 3.0)
    assert (t.base_lr, t.max_lr, t.mode, t.waveform, t.step_size) == (
        2.0,
        3.0,
        "triangular2",
        "sine",
        4,
    )


def test_zero_dim_arrays_are_read_as_numbers_and_stored_as_floats():
    s = CyclicSchedule(np.array(1.0), np.float32(5.0), step_size=4, base_momentum=np.array(0.8))
    assert s == CyclicSchedule(1.0, 5.0, step_size=4, base_momentum=0.8)
    assert type(s.base_lr) is float and type(s.max_lr) is float


def test_torch_keyword_form_has_pytorchs_defaults():
    s = CyclicSchedule.from_torch_kwargs(1.0, 5.0)
    assert s == CyclicSchedule(1.0, 5.0, step_size_up=2000, base_momentum=0.8, max_momentum=0.9)
    assert type(s.base_momentum) is float
    assert CyclicSchedule.from_torch_kwargs(1.0, 5.0, 4, cycle_momentum=False) == CyclicSchedule(
        1.0, 5.0, step_size_up=4
    )
    custom = CyclicSchedule.from_torch_kwargs(1.0, 5.0, 4, scale_fn=halve_per_cycle)
    assert custom.scale_mode == "cycle"


def test_bckenstler_keyword_form_has_the_snippets_defaults():
    assert CyclicSchedule.from_bckenstler_kwargs() == CyclicSchedule(0.001, 0.006, 2000)
    # the default step_size yields to step_size_up/down: none was given
    assert CyclicSchedule.from_bckenstler_kwargs(
        step_size_up=3, step_size_down=5
    ) == CyclicSchedule(0.001, 0.006, step_size_up=3, step_size_down=5)
    assert CyclicSchedule.from_bckenstler_kwargs(
        1.0, 5.0, 4, scale_fn=halve_per_cycle
    ) == CyclicSchedule(1.0, 5.0, 4, scale_fn=halve_per_cycle, scale_mode="cycle")


def test_bckenstler_fractional_step_size_is_rounded_with_a_warning():
    with pytest.warns(UserWarning, match="step_size=4.5 is not a whole number"):
        s = CyclicSchedule.from_bckenstler_kwargs(1.0, 5.0, 4.5)
    assert s.step_size == 4
