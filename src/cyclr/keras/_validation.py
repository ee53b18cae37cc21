"""The Keras range test's validation pass, BatchNorm layers recalibrated before it.

:func:`validation_scores` evaluates the validation data after a rung. Before it,
the moving averages of every BatchNorm layer that trains are replaced by their
means over the validation data (:func:`recalibrated`, noise layers off), and put
back after; on the torch backend torch's CPU generator is kept as it was.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras

from cyclr.keras import backend


def validation_scores(
    model: keras.Model, validation_data: Any, batch_size: int | None, monitor: str
) -> dict[str, float]:
    """``val_loss`` (and ``val_accuracy``) on ``validation_data``, BatchNorm recalibrated first.

    ``monitor`` ``'val_accuracy'`` needs the model compiled with ``metrics=['accuracy']``.
    """
    backend.sync(model)
    x, y = validation_data
    with torch_rng_kept(), recalibrated(model, x, batch_size or 32):
        scores = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
    if keras.backend.backend() == "torch":
        model.train()  # evaluate leaves torch modules in eval mode
    out = {"val_loss": float(scores["loss"])}
    if "accuracy" in scores:
        out["val_accuracy"] = float(scores["accuracy"])
    elif monitor == "val_accuracy":
        raise ValueError(
            "monitor='val_accuracy' needs the model compiled with "
            f"metrics=['accuracy']; evaluate returned {sorted(scores)}"
        )
    return out


#: Keras' noise layers and the attribute that switches each off at 0.
NOISE_LAYERS = (
    (keras.layers.Dropout, "rate"),  # SpatialDropout1D/2D/3D too
    (keras.layers.GaussianDropout, "rate"),
    (keras.layers.AlphaDropout, "rate"),
    (keras.layers.GaussianNoise, "stddev"),
)


def has_batchnorm(model: keras.Model) -> bool:
    """Whether ``model`` has a ``BatchNormalization`` layer, nested ones included.

    What the range test records as ``RangeTestResult.batchnorm``.
    """
    layers = model._flatten_layers(include_self=False, recursive=True)
    return any(isinstance(layer, keras.layers.BatchNormalization) for layer in layers)


@contextlib.contextmanager
def recalibrated(model: keras.Model, x: Any, batch_size: int) -> Iterator[None]:
    """Replace the training BatchNorm layers' moving averages by their means over ``x``.

    Forward passes over ``x`` in batches of ``batch_size``, in training mode with
    every noise layer off and each norm's momentum at ``k / (k + 1)`` for the
    ``k``-th batch: an equal-weight mean of the batches' statistics. Everything is
    put back on leaving (the averages, momenta and noise rates).
    """
    layers = list(model._flatten_layers(include_self=False, recursive=True))
    norms = [
        layer
        for layer in layers
        if isinstance(layer, keras.layers.BatchNormalization)
        and layer.trainable
        and not layer.renorm
        and layer.built
    ]
    if not norms:
        yield
        return
    noise = [
        (layer, name, getattr(layer, name))
        for layer in layers
        for kind, name in NOISE_LAYERS
        if isinstance(layer, kind)
    ]
    averages = [v for norm in norms for v in (norm.moving_mean, norm.moving_variance)]
    saved, momenta = backend.snapshot(averages), [norm.momentum for norm in norms]
    total = int(keras.tree.flatten(x)[0].shape[0])
    starts = list(range(0, total, batch_size))
    if len(starts) > 1 and total - starts[-1] == 1:
        starts.pop()  # a last batch of one has no variance to measure
    try:
        for layer, name, _ in noise:
            setattr(layer, name, 0.0)
        with no_grad():
            for k, start in enumerate(starts):
                for norm in norms:
                    norm.momentum = k / (k + 1)
                part = slice(start, start + batch_size)
                model(keras.tree.map_structure(lambda a, part=part: a[part], x), training=True)
        yield  # evaluate: inference mode, where momenta and noise rates play no part
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        for layer, name, value in noise:
            setattr(layer, name, value)
        backend.restore(averages, saved)


def torch_rng_kept() -> contextlib.AbstractContextManager[Any]:
    """Keep torch's CPU generator as it was, on the torch backend.

    ``evaluate``'s data loader draws from it, which would change the dropout masks of
    the training batches after a validation pass.
    """
    if keras.backend.backend() == "torch":
        import torch

        return torch.random.fork_rng(devices=[])
    return contextlib.nullcontext()


def no_grad() -> contextlib.AbstractContextManager[Any]:
    """No autograd graph for the recalibration's forward passes (the torch backend)."""
    if keras.backend.backend() == "torch":
        import torch

        return torch.no_grad()
    return contextlib.nullcontext()
