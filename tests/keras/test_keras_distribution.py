"""The in-graph schedule under Keras' distribution API (JAX, data parallel on 2 CPU devices)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import cyclr

SCRIPT = r"""
import json, numpy as np, keras, jax
import cyclr.keras as ck
from cyclr.keras import backend as kb
devices = keras.distribution.list_devices("cpu")
assert len(devices) == 2, devices
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
out = {}
for kind in ("schedule", "callback"):
    lr = (ck.CyclicalLearningRate(0.01, 0.05, step_size=3, mode="triangular2", waveform="sine")
          if kind == "schedule" else 0.5)
    model = keras.Sequential([keras.Input((1,)),
                              keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(keras.optimizers.SGD(lr), loss="mae")
    seen = {"lrs": [], "w": []}
    class Rec(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            kb.sync(self.model)
            seen["lrs"].append(kb.to_float(self.model.optimizer.learning_rate))
            seen["w"].append(kb.to_float(self.model.weights[0].value[0, 0]))
    callbacks = [Rec()] if kind == "schedule" else [
        ck.CyclicLR(0.01, 0.05, 3, mode="triangular2", waveform="sine"), Rec()]
    x, y = np.ones((16, 1), "float32"), np.full((16, 1), 1000.0, "float32")
    model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0, callbacks=callbacks)
    seen["w"].append(kb.to_float(model.weights[0].value[0, 0]))
    seen["sharding"] = str(model.weights[0].value.sharding)
    out[kind] = seen
print("RESULT" + json.dumps(out))
"""


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the distribution API test is JAX's")
def test_data_parallel_on_two_cpu_devices_gives_the_same_lrs():
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT")][-1]
    out = json.loads(line[len("RESULT") :])
    core = cyclr.CyclicSchedule(0.01, 0.05, step_size=3, mode="triangular2", waveform="sine")
    expected = core(np.arange(12))
    for kind in ("schedule", "callback"):
        assert "'batch': 2" in out[kind]["sharding"]  # the variables live on the 2-device mesh
        np.testing.assert_allclose(out[kind]["lrs"], expected, rtol=2e-6)
        np.testing.assert_allclose(np.diff(out[kind]["w"]), expected, rtol=0, atol=1e-7)
