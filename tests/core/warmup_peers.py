"""The warm-up schedules of optax and Keras, each run in a process of its own.

``python warmup_peers.py optax`` (JAX with 64-bit floats) or ``python warmup_peers.py keras``
(Keras on its torch backend with float64: the NumPy backend computes in float32) reads a
JSON list of configs on stdin and writes, on stdout, a JSON list with each config's values
at steps ``0 .. config["steps"] - 1``. Separate processes, so that neither x64 nor a Keras
backend reaches the other tests.
"""

import json
import sys


def optax_values(configs):
    """optax's ``warmup_cosine_decay_schedule`` (kind 'cosine') or
    ``warmup_constant_schedule`` (kind 'constant'), in float64."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    out = []
    for c in configs:
        if c["kind"] == "cosine":
            schedule = optax.warmup_cosine_decay_schedule(
                c["init_lr"],
                c["peak_lr"],
                c["warmup_steps"],
                decay_steps=c["total_steps"],
                end_value=c["final_lr"],
            )
        else:
            schedule = optax.warmup_constant_schedule(c["init_lr"], c["peak_lr"], c["warmup_steps"])
        values = schedule(jnp.arange(c["steps"]))
        assert values.dtype == jnp.float64, values.dtype
        out.append([float(v) for v in values])
    return out


def keras_values(configs):
    """Keras' ``CosineDecay`` with a warm-up (kind 'cosine' only), in float64."""
    import keras
    import numpy as np

    keras.config.set_floatx("float64")
    out = []
    for c in configs:
        schedule = keras.optimizers.schedules.CosineDecay(
            np.float64(c["init_lr"]),
            decay_steps=c["total_steps"] - c["warmup_steps"],
            alpha=c["final_lr"] / c["peak_lr"],
            warmup_target=np.float64(c["peak_lr"]),
            warmup_steps=c["warmup_steps"],
        )
        values = [schedule(step) for step in range(c["steps"])]
        assert all(str(v.dtype).endswith("float64") for v in values), values[0].dtype
        out.append([float(v) for v in values])
    return out


if __name__ == "__main__":
    peer = {"optax": optax_values, "keras": keras_values}[sys.argv[1]]
    json.dump(peer(json.load(sys.stdin)), sys.stdout)
