"""What differs between the Keras backends for code that touches variables during ``fit``.

Public for code that drives Keras as cyclr's callbacks do (the ``cyclr`` app, user callbacks):
:func:`sync` before reading or assigning a variable inside a batch hook, :func:`to_float`
and :func:`to_numpy` to read a value on any backend, :func:`step_of` for the update count,
:func:`set_learning_rate` to assign a float learning rate at the least cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np
import numpy.typing as npt
from keras import ops


def sync(model: keras.Model) -> None:
    """Make the model's and optimizer's variables current.

    During ``fit`` the JAX backend keeps every variable in a state tuple and
    writes it back only at the end of an epoch. Syncing writes it back now, and
    makes the next training step read the variables again, so that a value a
    callback assigns (the learning rate) reaches that step. TensorFlow and
    torch variables are always current.

    Args:
      model: the model being fitted.
    """
    sync_fn = getattr(model, "jax_state_sync", None)
    if sync_fn is not None:
        sync_fn()


def to_numpy(value: Any) -> npt.NDArray[Any]:
    """A tensor's or variable's value as a numpy array (detached, on the host).

    Args:
      value: a tensor or ``keras.Variable`` of any backend, or a number.

    Returns:
      The value as a NumPy array of its own dtype.
    """
    if isinstance(value, keras.Variable):
        value = value.value
    if hasattr(value, "detach"):  # torch: keras' conversion warns under numpy 2
        return value.detach().cpu().numpy()
    if hasattr(value, "numpy"):  # tensorflow, likewise
        return np.asarray(value.numpy())
    return np.asarray(ops.convert_to_numpy(value))


def to_float(value: Any) -> float:
    """A scalar tensor's or variable's value as a Python float.

    Args:
      value: a scalar tensor or ``keras.Variable`` of any backend, or a number.

    Returns:
      ``float`` of its value.
    """
    return float(to_numpy(value))


def step_of(optimizer: keras.optimizers.Optimizer) -> int:
    """The optimizer's update count (``optimizer.iterations``) as an int.

    Args:
      optimizer: a Keras optimizer.

    Returns:
      The number of updates it has applied.
    """
    return int(to_numpy(optimizer.iterations))


def set_learning_rate(optimizer: keras.optimizers.Optimizer, value: float) -> None:
    """Assign ``value`` to the optimizer's learning-rate variable, as its setter does.

    On TensorFlow, Keras' setter (dtype and shape checks, then an assignment
    that reads the value back) costs ~62 µs a call; the ``tf.Variable`` under
    it, assigned without the read, ~17 µs: once per batch, that was most of a
    callback's cost (bench/overhead.py). Elsewhere, and for anything but a
    float learning-rate variable (or an optimizer that redefines ``learning_rate``,
    as ``LossScaleOptimizer`` does), the setter.

    Args:
      optimizer: a Keras optimizer whose learning rate is a float (a variable).
      value: the new learning rate.
    """
    variable = getattr(optimizer, "_learning_rate", None)
    own = type(optimizer).learning_rate is keras.optimizers.Optimizer.learning_rate
    if keras.backend.backend() == "tensorflow" and own and isinstance(variable, keras.Variable):
        import tensorflow as tf

        raw = getattr(variable, "_value", None)
        if isinstance(raw, tf.Variable) and variable.trainable is False:
            raw.assign(value, read_value=False)
            return
    optimizer.learning_rate = value


def snapshot(variables: Iterable[keras.Variable]) -> list[npt.NDArray[Any]]:
    """Copies of the variables' values, bit-for-bit.

    Args:
      variables: the variables to copy.

    Returns:
      One NumPy array per variable, in order, for :func:`restore`.
    """
    return [np.array(to_numpy(v), copy=True) for v in variables]


def restore(variables: Iterable[keras.Variable], values: Sequence[npt.ArrayLike]) -> None:
    """Assign saved values back: the inverse of :func:`snapshot`.

    Args:
      variables: the variables, in the order they were saved.
      values: what :func:`snapshot` returned for them.
    """
    for variable, value in zip(variables, values, strict=False):
        variable.assign(value)
