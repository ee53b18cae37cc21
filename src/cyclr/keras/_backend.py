"""The few places where the Keras backends differ for a callback that touches variables."""
from __future__ import annotations

import keras
import numpy as np
from keras import ops


def sync(model) -> None:
    """Make the model's and optimizer's variables current.

    During ``fit`` the JAX backend keeps every variable in a state tuple and
    writes it back only at the end of an epoch. Syncing writes it back now, and
    makes the next training step read the variables again, so that a value a
    callback assigns (the learning rate) reaches that step. TensorFlow and
    torch variables are always current.
    """
    sync_fn = getattr(model, "jax_state_sync", None)
    if sync_fn is not None:
        sync_fn()


def to_numpy(value) -> np.ndarray:
    """A tensor's or variable's value as a numpy array (detached, on the host)."""
    if isinstance(value, keras.Variable):
        value = value.value
    if hasattr(value, "detach"):  # torch: keras' conversion warns under numpy 2
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy"):  # tensorflow, likewise
        return np.asarray(value.numpy())
    return np.asarray(ops.convert_to_numpy(value))


def to_float(value) -> float:
    return float(to_numpy(value))


def step_of(optimizer) -> int:
    """The optimizer's update count (``optimizer.iterations``) as an int."""
    return int(to_numpy(optimizer.iterations))


def snapshot(variables) -> list:
    """Copies of the variables' values, bit-for-bit."""
    return [np.array(to_numpy(v), copy=True) for v in variables]


def restore(variables, values) -> None:
    for variable, value in zip(variables, values):
        variable.assign(value)
