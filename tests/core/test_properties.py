"""Property tests (hypothesis): bounds, periodicity, halving, end points, vectorisation,
round trips."""

import json
import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cyclr import CyclicSchedule, Linear, OneCycle, deserialize, serialize
from cyclr.compose import Join
from cyclr.cyclic import MODES, WAVEFORMS, waveform
from cyclr.ops import NUMPY, PYTHON

rates = st.floats(min_value=1e-6, max_value=10.0, allow_nan=False)
sizes = st.integers(min_value=1, max_value=50)


@st.composite
def cyclic_schedules(draw):
    a, b = sorted([draw(rates), draw(rates)])
    mode = draw(st.sampled_from(MODES))
    kwargs = dict(
        mode=mode,
        waveform=draw(st.sampled_from(WAVEFORMS)),
        decay_target=draw(st.sampled_from(["amplitude", "bounds"])),
    )
    if mode == "exp_range":
        kwargs["gamma"] = draw(st.floats(min_value=0.9, max_value=1.0))
    if draw(st.booleans()):
        kwargs.update(step_size_up=draw(sizes), step_size_down=draw(sizes))
    else:
        kwargs.update(step_size=draw(sizes))
    if draw(st.booleans()):
        kwargs.update(base_momentum=0.8, max_momentum=0.95)
    return CyclicSchedule(a, b, **kwargs)


@given(cyclic_schedules(), st.integers(min_value=0, max_value=10_000))
def test_bounds_are_respected(s, step):
    lr = s(step)
    low = s.base_lr * (s.scale_at(float(step), PYTHON) if s.decay_target == "bounds" else 1.0)
    assert low * (1 - 1e-12) <= lr <= s.max_lr * (1 + 1e-12)
    if s.has_momentum:
        assert s.base_momentum - 1e-12 <= s.momentum(step) <= s.max_momentum + 1e-12


@given(rates, rates, sizes, sizes, st.sampled_from(WAVEFORMS), st.integers(0, 5000))
def test_triangular_is_periodic(a, b, up, down, wave, step):
    s = CyclicSchedule(min(a, b), max(a, b), step_size_up=up, step_size_down=down, waveform=wave)
    assert np.isclose(s(step), s(step + s.cycle_length), rtol=1e-12, atol=0)
    assert np.isclose(s(step), s(step + 7 * s.cycle_length), rtol=1e-12, atol=0)


@given(rates, rates, sizes, st.integers(1, 10), st.integers(0, 99))
def test_triangular2_halves_the_amplitude_each_cycle(a, b, size, cycle, offset):
    s = CyclicSchedule(min(a, b), max(a, b), step_size=size, mode="triangular2")
    step = (cycle - 1) * 2 * size + offset % (2 * size)
    later = step + 2 * size
    assert np.isclose(s(later) - s.base_lr, (s(step) - s.base_lr) / 2, rtol=1e-9, atol=1e-15)


@given(st.sampled_from(WAVEFORMS), st.floats(min_value=0.0, max_value=1.0))
def test_waveform_end_points_and_monotone(name, h):
    assert waveform(name, 0.0, PYTHON) == 0.0
    assert waveform(name, 1.0, PYTHON) == 1.0
    assert 0.0 <= waveform(name, h, PYTHON) <= 1.0
    grid = np.linspace(0, 1, 101)
    assert np.all(np.diff(waveform(name, grid, NUMPY)) >= 0)


@settings(max_examples=50)
@given(cyclic_schedules(), st.lists(st.integers(0, 100_000), min_size=1, max_size=20))
def test_vectorised_equals_scalar(s, steps):
    # math.cos and np.cos may differ in the last bit; nothing else does.
    np.testing.assert_allclose(s(np.array(steps)), [s(i) for i in steps], rtol=1e-15, atol=0)


@given(cyclic_schedules())
def test_config_and_pickle_round_trips(s):
    cfg = json.loads(json.dumps(s.to_config()))
    assert CyclicSchedule.from_config(cfg) == s
    assert deserialize(json.loads(json.dumps(serialize(s)))) == s
    assert pickle.loads(pickle.dumps(s)) == s
    assert pickle.loads(pickle.dumps(s))(123) == s(123)


def test_composite_round_trips():
    s = Join(
        [
            Linear(0.0, 0.1, 10),
            CyclicSchedule(0.01, 0.1, 5, mode="triangular2"),
            OneCycle(0.1, 50, three_phase=True),
        ],
        [10, 40],
    )
    again = deserialize(json.loads(json.dumps(serialize(s))))
    assert again == s and pickle.loads(pickle.dumps(s)) == s
    np.testing.assert_array_equal(again(np.arange(120)), s(np.arange(120)))
