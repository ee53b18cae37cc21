"""In-graph schedules: values, the lr inside model.fit, config, .keras files and resume."""

import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_probe import CASES, _halving, assert_lrs, probe_fit, probe_model

import cyclr
from cyclr.keras import CyclicalLearningRate, KerasSchedule, OneCycleSchedule


def test_values_match_the_core_by_hand():
    clr = CyclicalLearningRate(1.0, 5.0, step_size=4)
    assert [float(clr(i)) for i in range(10)] == [1, 2, 3, 4, 5, 4, 3, 2, 1, 2]


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_lr_used_in_fit_equals_core(name):
    core = cyclr.CyclicSchedule(0.01, 0.05, **CASES[name])
    model = probe_model(keras.optimizers.SGD(CyclicalLearningRate(0.01, 0.05, **CASES[name])))
    rec = probe_fit(model, epochs=4)
    assert rec.steps == list(range(16))
    assert_lrs(rec.lrs, core(np.arange(16)))
    # what the update actually applied: w grows by exactly the lr of each step
    np.testing.assert_allclose(rec.deltas, core(np.arange(16)), rtol=0, atol=1e-7)


def test_onecycle_schedule_lr_used_in_fit_equals_core():
    core = cyclr.OneCycle(0.05, total_steps=12, pct_start=0.25, three_phase=True)
    model = probe_model(
        keras.optimizers.SGD(OneCycleSchedule(0.05, 12, pct_start=0.25, three_phase=True))
    )
    rec = probe_fit(model, epochs=4)  # runs 4 steps past the end: holds the final value
    assert_lrs(rec.lrs, core(np.arange(16)))
    np.testing.assert_allclose(rec.deltas, core(np.arange(16)), rtol=0, atol=1e-7)


def test_keras_schedule_wraps_any_core_schedule():
    core = cyclr.join([cyclr.Linear(0.0, 0.05, 4), cyclr.CyclicSchedule(0.01, 0.05, 2)], [4])
    rec = probe_fit(probe_model(keras.optimizers.SGD(KerasSchedule(core))), epochs=3)
    assert_lrs(rec.lrs, core(np.arange(12)))


def test_get_config_is_exactly_the_constructor_arguments():
    args = dict(
        base_lr=1e-3,
        max_lr=6e-3,
        step_size=None,
        step_size_up=100,
        step_size_down=300,
        mode="exp_range",
        gamma=0.999,
        waveform="sine",
        decay_target="bounds",
        scale_fn=None,
        scale_mode="cycle",
        base_momentum=0.8,
        max_momentum=0.9,
    )
    clr = CyclicalLearningRate(**args)
    assert clr.get_config() == args
    again = CyclicalLearningRate.from_config(clr.get_config())
    assert again.schedule == clr.schedule
    one = OneCycleSchedule(0.1, 1000, anneal="linear")
    assert OneCycleSchedule.from_config(one.get_config()).schedule == one.schedule
    assert set(one.get_config()) == {
        "max_lr",
        "total_steps",
        "pct_start",
        "anneal",
        "div_factor",
        "final_div_factor",
        "three_phase",
        "base_momentum",
        "max_momentum",
    }


def test_keras_serialization_names_the_cyclr_package():
    data = keras.optimizers.schedules.serialize(CyclicalLearningRate(1e-3, 6e-3, 2000))
    assert data["registered_name"] == "cyclr>CyclicalLearningRate"
    back = keras.optimizers.schedules.deserialize(data)
    assert back.schedule == cyclr.CyclicSchedule(1e-3, 6e-3, 2000)


def test_custom_scale_fn_cannot_be_saved_and_says_so():
    clr = CyclicalLearningRate(0.1, 1.0, 2, scale_fn=_halving, scale_mode="cycle")
    with pytest.raises(ValueError, match="scale_fn"):
        clr.get_config()


def test_errors_name_the_parameter_and_value():
    with pytest.raises(ValueError, match="step_size=0"):
        CyclicalLearningRate(0.1, 1.0, 0)
    with pytest.raises(ValueError, match="mode='nope'"):
        CyclicalLearningRate(0.1, 1.0, 2, mode="nope")
    with pytest.raises(ValueError, match="schedule=3"):
        KerasSchedule(3)


@pytest.mark.parametrize("kind", ["cyclic", "onecycle"])
def test_keras_file_round_trip_resumes_at_the_saved_step(tmp_path, kind):
    if kind == "cyclic":
        make, args = (
            CyclicalLearningRate,
            dict(base_lr=0.01, max_lr=0.05, step_size=3, mode="triangular2"),
        )
        core = cyclr.CyclicSchedule(**args)
    else:
        make, args = OneCycleSchedule, dict(max_lr=0.05, total_steps=16, pct_start=0.25)
        core = cyclr.OneCycle(**args)
    model = probe_model(keras.optimizers.SGD(make(**args)))
    first = probe_fit(model, epochs=2)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    # No custom_objects and no custom_object_scope: the registration made on
    # import of cyclr.keras is all load_model needs.
    loaded = keras.models.load_model(path)
    assert type(loaded.optimizer.learning_rate) is not float
    assert isinstance(loaded.optimizer._learning_rate, make)
    second = probe_fit(loaded, epochs=2)
    assert second.steps == list(range(8, 16))
    assert_lrs(first.lrs + second.lrs, core(np.arange(16)))
    np.testing.assert_allclose(
        np.concatenate([first.deltas, second.deltas]), core(np.arange(16)), rtol=0, atol=1e-7
    )


def test_a_scale_fn_without_scale_mode_reads_the_cycle_like_the_callbacks():
    # cyclr 0.1 demanded scale_mode here, unlike its two callbacks/schedulers and TF Addons
    clr = CyclicalLearningRate(1.0, 5.0, 4, scale_fn=_halving)
    assert clr.schedule.scale_mode == "cycle"
    assert [float(clr(i)) for i in (4, 12, 20)] == [5.0, 3.0, 2.0]
    assert (
        CyclicalLearningRate(
            1.0, 5.0, 4, scale_fn=_halving, scale_mode="iterations"
        ).schedule.scale_mode
        == "iterations"
    )


def test_one_cycle_schedule_takes_epochs_and_steps_per_epoch():
    by_epochs = OneCycleSchedule(0.05, epochs=4, steps_per_epoch=4, pct_start=0.25)
    assert by_epochs.schedule == cyclr.OneCycle(0.05, total_steps=16, pct_start=0.25)
    again = OneCycleSchedule.from_config(by_epochs.get_config())
    assert again.schedule == by_epochs.schedule and again.get_config()["total_steps"] == 16


def test_signatures_are_the_cores():
    import inspect

    assert list(inspect.signature(CyclicalLearningRate).parameters) == list(
        inspect.signature(cyclr.CyclicSchedule).parameters
    )
    assert (
        inspect.signature(OneCycleSchedule).parameters
        == inspect.signature(cyclr.OneCycle).parameters
    )


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="the eager path is torch's")
def test_on_the_torch_backend_the_rate_is_the_cores_python_value_rounded_to_float32():
    """Keras' torch backend calls the schedule eagerly every step: the step is read from
    the CPU and the core's Python math gives the rate (bench/overhead.py: 47 -> ~6 µs)."""
    import torch

    core = cyclr.CyclicSchedule(
        0.001,
        0.01,
        step_size=7,
        waveform="sine",
        mode="exp_range",
        gamma=0.99,
        base_momentum=0.85,
        max_momentum=0.95,
    )
    clr = KerasSchedule(core)
    opt = keras.optimizers.SGD(clr)
    for step in (0, 3, 123, 10**6 + 5):
        opt.iterations.assign(step)
        lr, mom = clr(opt.iterations), clr.momentum(opt.iterations)
        assert isinstance(lr, torch.Tensor) and lr.dtype == torch.float32 and lr.ndim == 0
        assert lr.item() == np.float32(core(step)) and mom.item() == np.float32(core.momentum(step))
    # The graph's float32 math, for comparison: the same rate within float32 rounding.
    from cyclr.keras._ops import KERAS_OPS

    for step in (0, 3, 123):
        graph = core.lr_at(KERAS_OPS.asfloat(torch.tensor(step)), KERAS_OPS)
        assert float(graph) == pytest.approx(core(step), rel=1e-6)
