"""Probes shared by the Keras tests: tiny models whose updates reveal the learning rate.

A plain module (not a conftest) so that its name cannot clash with other test folders."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cyclr.keras import backend as kb

#: 8 samples in batches of 2: four optimizer steps per epoch.
N_SAMPLES, BATCH = 8, 2


class Recorder(keras.callbacks.Callback):
    """Reads back, before every batch, the lr and step the optimizer will use for it.

    ``optimizer.learning_rate`` evaluates a schedule at ``iterations`` (the
    update about to be applied) and returns the variable a callback set, so it
    is read in ``on_train_batch_begin``, after the callbacks that set it.
    Also records the probe weight before each batch and after the last one.
    """

    def __init__(self):
        super().__init__()
        self.lrs, self.steps, self.weights = [], [], []

    def on_train_batch_begin(self, batch, logs=None):
        kb.sync(self.model)
        optimizer = self.model.optimizer
        self.lrs.append(kb.to_float(optimizer.learning_rate))
        self.steps.append(kb.step_of(optimizer))
        self.weights.append(kb.to_float(self.model.weights[0].value[0, 0]))

    def on_train_end(self, logs=None):
        self.weights.append(kb.to_float(self.model.weights[0].value[0, 0]))

    @property
    def deltas(self):
        """The change of the probe weight made by each update."""
        return np.diff(np.asarray(self.weights))


def probe_model(optimizer):
    """``w * x`` with ``w = 0``, ``x = 1``, MAE against 1000: the gradient is exactly -1,
    so each plain-SGD update adds the learning rate it used to ``w``."""
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")]
    )
    model.compile(optimizer=optimizer, loss="mae")
    return model


def probe_fit(model, epochs, callbacks=()):
    """Fit the probe for ``epochs * 4`` steps; return the ``Recorder``."""
    x = np.ones((N_SAMPLES, 1), "float32")
    y = np.full((N_SAMPLES, 1), 1000.0, "float32")
    recorder = Recorder()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[*callbacks, recorder],
    )
    return recorder


def assert_lrs(recorded, expected):
    """float32 read-back against the core's float64 values."""
    np.testing.assert_allclose(np.asarray(recorded), np.asarray(expected), rtol=2e-6, atol=1e-9)


def _halving(x):
    return 0.5 ** (x - 1.0)


CASES = {
    "triangular": dict(step_size=3),
    "triangular2-sine": dict(step_size=2, mode="triangular2", waveform="sine"),
    "exp_range-parabolic": dict(step_size=3, mode="exp_range", gamma=0.9, waveform="parabolic"),
    "asymmetric-bounds": dict(
        step_size_up=2, step_size_down=4, mode="triangular2", decay_target="bounds"
    ),
    "scale_fn-iterations": dict(step_size=2, scale_fn=_halving, scale_mode="iterations"),
}
