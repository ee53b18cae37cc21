"""The learning rate and momentum reach Keras' logs: TensorBoard, CSVLogger and History.

Run once per backend (``KERAS_BACKEND=tensorflow|jax|torch``, separate processes). The
TensorBoard files are read back with the tensorboard package's own reader.
"""

import csv

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import cyclr
import cyclr.keras as ck
from cyclr.keras import LogLearningRate

KERAS = dict(base_lr=0.01, max_lr=0.05, step_size=3, base_momentum=0.8, max_momentum=0.95)
CORE = cyclr.CyclicSchedule(**KERAS)
STEPS_PER_EPOCH, EPOCHS = 4, 3  # 8 samples in batches of 2


def model(optimizer, **compile_args):
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    net.compile(optimizer=optimizer, loss="mse", **compile_args)
    return net


def fit(net, callbacks, epochs=EPOCHS, **kwargs):
    x = np.random.RandomState(0).rand(2 * STEPS_PER_EPOCH, 3).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    return net.fit(x, y, batch_size=2, epochs=epochs, verbose=0, callbacks=callbacks, **kwargs)


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def tensorboard(log_dir, update_freq="epoch"):
    pytest.importorskip("tensorflow")  # Keras' TensorBoard callback writes with tf.summary
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), update_freq=update_freq)


def read_scalars(run_dir):
    """``{tag: {step: value}}`` of a run folder, with the tensorboard package's reader."""
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.util import tensor_util

    acc = ea.EventAccumulator(str(run_dir), size_guidance={ea.TENSORS: 0, ea.SCALARS: 0})
    acc.Reload()
    found = {}
    for tag in acc.Tags()["tensors"]:
        if tag.startswith(("batch_", "epoch_")):
            found[tag] = {
                e.step: float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)
            }
    for tag in acc.Tags()["scalars"]:
        found[tag] = {e.step: e.value for e in acc.Scalars(tag)}
    return found


def last_of_epochs(values):
    """The value at each epoch's last update."""
    return [values((e + 1) * STEPS_PER_EPOCH - 1) for e in range(EPOCHS)]


def after_epochs(values):
    """The value at the update after each epoch (what an in-graph optimizer holds)."""
    return [values((e + 1) * STEPS_PER_EPOCH) for e in range(EPOCHS)]


def test_callback_puts_lr_and_momentum_in_every_logger(tmp_path):
    clr = ck.CyclicLR(**KERAS)
    callbacks = [
        clr,
        tensorboard(tmp_path / "tb", update_freq="batch"),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
    ]
    history = fit(model(ck.SGD(0.5, momentum=0.9)), callbacks)
    expected_lr, expected_m = last_of_epochs(CORE), last_of_epochs(CORE.momentum)
    assert len(set(expected_lr)) > 1  # the epochs end at different rates

    rows = read_csv(tmp_path / "log.csv")
    assert [float(r["learning_rate"]) for r in rows] == expected_lr
    assert [float(r["momentum"]) for r in rows] == expected_m
    assert history.history["learning_rate"] == expected_lr
    assert history.history["momentum"] == expected_m

    scalars = read_scalars(tmp_path / "tb" / "train")
    epoch_lr = scalars["epoch_learning_rate"]
    np.testing.assert_allclose([epoch_lr[e] for e in range(EPOCHS)], expected_lr, rtol=1e-6)
    epoch_m = scalars["epoch_momentum"]
    np.testing.assert_allclose([epoch_m[e] for e in range(EPOCHS)], expected_m, rtol=1e-6)
    steps = range(STEPS_PER_EPOCH * EPOCHS)
    batch_lr = scalars["batch_learning_rate"]  # TensorBoard counts batches from 1
    np.testing.assert_allclose([batch_lr[k + 1] for k in steps], CORE(steps), rtol=1e-6)
    batch_m = scalars["batch_momentum"]
    np.testing.assert_allclose([batch_m[k + 1] for k in steps], CORE.momentum(steps), rtol=1e-6)

    # bckenstler's history is unchanged: 'lr' per batch, no copy under Keras' key
    assert clr.history["lr"] == [CORE(k) for k in steps]
    assert "learning_rate" not in clr.history
    assert clr.history["momentum"] == [CORE.momentum(k) for k in steps]


def test_callback_without_momentum_logs_the_lr_only(tmp_path):
    clr = ck.CyclicLR(base_lr=0.01, max_lr=0.05, step_size=3)
    history = fit(
        model(keras.optimizers.SGD(0.5)),
        [clr, keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))],
    )
    rows = read_csv(tmp_path / "log.csv")
    assert "momentum" not in rows[0]
    assert [float(r["learning_rate"]) for r in rows] == last_of_epochs(CORE)
    assert "momentum" not in history.history


def test_in_graph_schedule_alone_reaches_tensorboard_only(tmp_path):
    """What Keras does by itself: TensorBoard reads the optimizer, the CSV has no lr."""
    clr = ck.CyclicalLearningRate(**KERAS)
    history = fit(
        model(keras.optimizers.SGD(learning_rate=clr)),
        [tensorboard(tmp_path / "tb"), keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))],
    )
    assert "learning_rate" not in read_csv(tmp_path / "log.csv")[0]
    assert "learning_rate" not in history.history
    epoch_lr = read_scalars(tmp_path / "tb" / "train")["epoch_learning_rate"]
    np.testing.assert_allclose([epoch_lr[e] for e in range(EPOCHS)], after_epochs(CORE), rtol=1e-6)


def test_log_learning_rate_puts_an_in_graph_schedule_in_every_logger(tmp_path):
    clr = ck.CyclicalLearningRate(**KERAS)
    callbacks = [
        LogLearningRate(),
        tensorboard(tmp_path / "tb", update_freq="batch"),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
    ]
    history = fit(model(ck.SGD(learning_rate=clr, momentum=clr)), callbacks)
    expected_lr, expected_m = after_epochs(CORE), after_epochs(CORE.momentum)
    assert len(set(expected_lr)) == EPOCHS

    rows = read_csv(tmp_path / "log.csv")
    assert [float(r["learning_rate"]) for r in rows] == expected_lr
    assert [float(r["momentum"]) for r in rows] == expected_m
    assert history.history["learning_rate"] == expected_lr
    assert history.history["momentum"] == expected_m

    scalars = read_scalars(tmp_path / "tb" / "train")
    # TensorBoard's own epoch_learning_rate and LogLearningRate's agree
    epoch_lr = scalars["epoch_learning_rate"]
    np.testing.assert_allclose([epoch_lr[e] for e in range(EPOCHS)], expected_lr, rtol=1e-6)
    epoch_m = scalars["epoch_momentum"]
    np.testing.assert_allclose([epoch_m[e] for e in range(EPOCHS)], expected_m, rtol=1e-6)
    steps = range(STEPS_PER_EPOCH * EPOCHS)
    batch_lr = scalars["batch_learning_rate"]  # the batch's update: schedule(step)
    np.testing.assert_allclose([batch_lr[k + 1] for k in steps], CORE(steps), rtol=1e-6)
    batch_m = scalars["batch_momentum"]
    np.testing.assert_allclose([batch_m[k + 1] for k in steps], CORE.momentum(steps), rtol=1e-6)


def test_log_learning_rate_with_steps_per_execution(tmp_path):
    """One batch hook per execution of two steps: the last step's values."""
    if keras.backend.backend() == "torch":
        pytest.skip("Keras' torch backend needs steps_per_execution=1")
    clr = ck.CyclicalLearningRate(**KERAS)
    net = model(keras.optimizers.SGD(learning_rate=clr), steps_per_execution=2)
    history = fit(net, [LogLearningRate(), _BatchLogs()])
    batch_logs = history.model._batch_logs
    executions = range(STEPS_PER_EPOCH * EPOCHS // 2)
    assert [logs["learning_rate"] for logs in batch_logs] == [CORE(2 * j + 1) for j in executions]
    assert "momentum" not in batch_logs[0]  # Keras' SGD: a constant momentum
    assert history.history["learning_rate"] == after_epochs(CORE)


def test_log_learning_rate_follows_the_optimizer_across_fits(tmp_path):
    """A second fit continues at the optimizer's step, not at a counter of the callback."""
    clr = ck.CyclicalLearningRate(**KERAS)
    net = model(keras.optimizers.SGD(learning_rate=clr))
    log = LogLearningRate()
    fit(net, [log], epochs=1)
    again = fit(net, [log, _BatchLogs()], epochs=1)
    assert again.history["learning_rate"] == [CORE(2 * STEPS_PER_EPOCH)]
    batch = [logs["learning_rate"] for logs in again.model._batch_logs]
    assert batch == [CORE(k) for k in range(STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH)]


def test_log_learning_rate_reads_other_keras_schedules(tmp_path):
    decay = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    history = fit(
        model(keras.optimizers.SGD(learning_rate=decay)), [LogLearningRate(), _BatchLogs()]
    )
    batch = [logs["learning_rate"] for logs in history.model._batch_logs]
    np.testing.assert_allclose(batch, [0.1 * 0.5 ** (k / 2) for k in range(12)], rtol=1e-6)
    np.testing.assert_allclose(
        history.history["learning_rate"], after_epochs(lambda k: 0.1 * 0.5 ** (k / 2)), rtol=1e-6
    )


def test_log_learning_rate_per_epoch_only(tmp_path):
    clr = ck.CyclicalLearningRate(**KERAS)
    history = fit(
        model(keras.optimizers.SGD(learning_rate=clr)),
        [LogLearningRate(per_batch=False), _BatchLogs()],
    )
    assert all("learning_rate" not in logs for logs in history.model._batch_logs)
    assert history.history["learning_rate"] == after_epochs(CORE)


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_log_learning_rate_refuses_a_bad_per_batch(bad):
    with pytest.raises(ValueError, match=r"per_batch must be True or False; received per_batch="):
        LogLearningRate(per_batch=bad)


class _BatchLogs(keras.callbacks.Callback):
    """Keeps a copy of every batch's logs, as the callbacks after it see them."""

    def on_train_begin(self, logs=None):
        self.model._batch_logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.model._batch_logs.append(dict(logs))
