"""The CyclicLR callback: the lr inside model.fit, resume, history, bckenstler's arguments."""

import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from keras_probe import (
    CASES,
    assert_lrs,
    probe_fit,
    probe_model,
)

import cyclr
from cyclr.keras import CyclicalLearningRate, CyclicLR


@pytest.mark.parametrize("name", sorted(CASES))
def test_callback_lr_used_in_fit_equals_core(name):
    core = cyclr.CyclicSchedule(0.01, 0.05, **CASES[name])
    args = dict(CASES[name])
    callback = CyclicLR(0.01, 0.05, **args)
    rec = probe_fit(probe_model(keras.optimizers.SGD(0.5)), epochs=4, callbacks=[callback])
    assert rec.steps == list(range(16))
    assert_lrs(rec.lrs, core(np.arange(16)))
    np.testing.assert_allclose(rec.deltas, core(np.arange(16)), rtol=0, atol=1e-7)
    assert callback.history["lr"] == [core(i) for i in range(16)]


def test_callback_runs_a_ready_onecycle():
    core = cyclr.OneCycle(0.05, total_steps=16, anneal="linear")
    rec = probe_fit(
        probe_model(keras.optimizers.SGD(0.5)),
        epochs=4,
        callbacks=[CyclicLR(schedule=core, cycle_momentum=False)],
    )
    assert_lrs(rec.lrs, core(np.arange(16)))


def test_bckenstler_defaults_and_history():
    callback = CyclicLR()
    assert callback.schedule == cyclr.CyclicSchedule(0.001, 0.006, 2000)
    rec = probe_fit(probe_model(keras.optimizers.SGD(0.5)), epochs=1, callbacks=[callback])
    assert callback.history["iterations"] == [1, 2, 3, 4]
    assert callback.history["lr"] == [callback.schedule(i) for i in range(4)]
    assert len(callback.history["loss"]) == 4
    assert_lrs(rec.lrs, [0.001 + 0.005 * i / 2000 for i in range(4)])


def test_exp_range_reads_the_global_step_as_bckenstler():
    # bckenstler passes scale_mode='cycle' by default but exp_range ignores it
    callback = CyclicLR(0.01, 0.05, 3, mode="exp_range", gamma=0.9)
    assert callback.schedule.effective_scale_mode == "iterations"


def test_fractional_step_size_is_rounded_with_a_warning():
    with pytest.warns(UserWarning, match="step_size=4.5"):
        callback = CyclicLR(0.01, 0.05, step_size=4 * 9 / 8)
    assert callback.schedule.step_size == 4
    assert CyclicLR(step_size=2000.0).schedule.step_size == 2000


def test_resume_continues_the_cycle(tmp_path):
    core = cyclr.CyclicSchedule(0.01, 0.05, step_size=3, mode="triangular2")
    model = probe_model(keras.optimizers.SGD(0.5))
    first = probe_fit(model, epochs=2, callbacks=[CyclicLR(0.01, 0.05, 3, mode="triangular2")])
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    # a new callback: the step comes from the restored optimizer, not from the callback
    second = probe_fit(loaded, epochs=2, callbacks=[CyclicLR(0.01, 0.05, 3, mode="triangular2")])
    assert second.steps == list(range(8, 16))
    assert_lrs(first.lrs + second.lrs, core(np.arange(16)))


def test_reset_restarts_the_cycle_with_new_bounds():
    callback = CyclicLR(0.01, 0.05, 2)
    model = probe_model(keras.optimizers.SGD(0.5))
    first = probe_fit(model, epochs=1, callbacks=[callback])
    callback.reset(base_lr=0.02, max_lr=0.04)
    second = probe_fit(model, epochs=1, callbacks=[callback])
    assert_lrs(first.lrs, cyclr.CyclicSchedule(0.01, 0.05, 2)(np.arange(4)))
    assert second.steps == [4, 5, 6, 7]
    assert_lrs(second.lrs, cyclr.CyclicSchedule(0.02, 0.04, 2)(np.arange(4)))


def test_refuses_an_optimizer_that_already_has_a_schedule():
    model = probe_model(keras.optimizers.SGD(CyclicalLearningRate(0.01, 0.05, 2)))
    with pytest.raises(ValueError, match="learning_rate=CyclicalLearningRate"):
        probe_fit(model, epochs=1, callbacks=[CyclicLR(0.01, 0.05, 2)])


def test_errors_name_the_parameter_and_value():
    with pytest.raises(ValueError, match="step_size=-3"):
        CyclicLR(step_size=-3)
    with pytest.raises(ValueError, match="base_lr"):
        CyclicLR(base_lr=0.1, max_lr=0.01)


def test_arguments_a_given_schedule_would_ignore_are_refused():
    import cyclr

    with pytest.raises(ValueError, match="mode='exp_range'"):
        CyclicLR(schedule=cyclr.CyclicSchedule(0.1, 1.0, 4), mode="exp_range")
    with pytest.raises(ValueError, match="step_size=100"):
        CyclicLR(step_size=100, step_size_up=50)


def test_arguments_next_to_a_schedule_are_refused_even_at_bckenstlers_defaults():
    # cyclr 0.1 compared with the defaults and let these through, ignored
    schedule = cyclr.CyclicSchedule(0.1, 1.0, 4)
    with pytest.raises(ValueError, match=r"step_size=2000.0, gamma=1.0; received schedule="):
        CyclicLR(schedule=schedule, step_size=2000.0, gamma=1.0)
    with pytest.raises(ValueError, match=r"base_lr=0.001; received schedule="):
        CyclicLR(0.001, schedule=schedule)


def test_an_explicit_step_size_next_to_step_size_up_is_refused_even_at_its_default():
    with pytest.raises(ValueError, match="received step_size=2000, step_size_up=50"):
        CyclicLR(step_size=2000.0, step_size_up=50)
    assert CyclicLR(step_size_up=50).schedule == cyclr.CyclicSchedule(0.001, 0.006, step_size_up=50)


def test_signature_is_bckenstlers_written_once_in_the_core():
    import inspect

    params = inspect.signature(CyclicLR).parameters
    assert list(params)[:7] == [
        "base_lr",
        "max_lr",
        "step_size",
        "mode",
        "gamma",
        "scale_fn",
        "scale_mode",
    ]
    assert [params[n].default for n in ("base_lr", "max_lr", "step_size")] == [0.001, 0.006, 2000.0]
    assert params["schedule"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["step_size_up"].kind is inspect.Parameter.KEYWORD_ONLY
    with pytest.raises(TypeError, match=r"CyclicLR\(\) got an unexpected keyword .*'step_sise'"):
        CyclicLR(step_sise=10)


def test_reset_takes_bckenstlers_new_names_only():
    callback = CyclicLR(0.01, 0.05, 2)
    callback._reset(new_base_lr=0.02, new_step_size=3)
    assert callback.schedule == cyclr.CyclicSchedule(0.02, 0.05, 3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'base_lr'"):
        callback._reset(base_lr=0.02)  # cyclr 0.1's names: gone before the first release


def test_history_holds_every_batchs_logs_as_floats_after_each_epoch():
    # the batch logs are converted once per epoch, not per batch (a device wait each)
    callback = CyclicLR(0.01, 0.05, 2)
    model = probe_model(keras.optimizers.SGD(0.5))
    probe_fit(model, epochs=3, callbacks=[callback])
    assert len(callback.history["loss"]) == len(callback.history["lr"]) == 12
    assert all(type(v) is float for v in callback.history["loss"])
    assert callback.history["iterations"] == list(range(1, 13))
    callback.on_epoch_begin(3)  # as fit calls it: the update count read once, on the host
    assert callback._step == 12


def test_a_loss_scale_optimizer_has_its_step_read_every_batch():
    # it may skip an update, so the callback does not count updates on the host
    inner = keras.optimizers.SGD(0.5)
    callback = CyclicLR(0.01, 0.05, 2)
    rec = probe_fit(
        probe_model(keras.optimizers.LossScaleOptimizer(inner)), epochs=2, callbacks=[callback]
    )
    callback.on_epoch_begin(2)  # as fit calls it: no host count for this optimizer
    assert callback._step is None
    assert rec.steps == list(range(8))
    assert_lrs(rec.lrs, cyclr.CyclicSchedule(0.01, 0.05, 2)(np.arange(8)))


def test_set_learning_rate_assigns_what_the_optimizer_reads_on_every_backend():
    from cyclr.keras import backend

    opt = keras.optimizers.SGD(0.5)
    backend.set_learning_rate(opt, 0.0123)
    assert float(backend.to_float(opt.learning_rate)) == float(np.float32(0.0123))
    wrapped = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.5))
    backend.set_learning_rate(wrapped, 0.25)  # it redefines learning_rate: the setter
    assert backend.to_float(wrapped.inner_optimizer.learning_rate) == 0.25
