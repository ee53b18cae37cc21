"""Keras models for the example tasks, the same architectures as ``cyclr.app.torch_models``.

Inputs are channels-last as ``cyclr.app.datasets`` returns them: images
``(N, H, W)`` or ``(N, H, W, C)``, sequences ``(N, L)``. Outputs are class
probabilities (softmax, as in the seed): compile with
``sparse_categorical_crossentropy``.
"""

from __future__ import annotations

import keras
from keras import layers

MODELS = ("seed_cnn", "cnn1d", "mlp")


def seed_cnn(input_shape=(28, 28), num_classes=10) -> keras.Model:
    """The seed's CNN: Conv 32 3x3, max-pool, Conv 64 3x3, max-pool, Dense 256, Dense 128, softmax.

    Images smaller than 28 pixels (the 8x8 digits) get ``'same'`` padding so
    both poolings still leave a feature map (8 -> 4 -> 2); larger ones use
    valid convolutions as the seed does (28 -> 26 -> 13 -> 11 -> 5).

    >>> seed_cnn((8, 8)).output_shape
    (None, 10)
    """
    shape = tuple(int(d) for d in input_shape)
    if len(shape) not in (2, 3):
        raise ValueError(
            f"seed_cnn needs images (H, W) or (H, W, C); received input_shape={shape!r}"
        )
    padding = "same" if min(shape[:2]) < 28 else "valid"
    image = shape if len(shape) == 3 else (*shape, 1)
    return keras.Sequential(
        [
            keras.Input(shape),
            layers.Reshape(image),
            layers.Conv2D(32, 3, padding=padding, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding=padding, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(256, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="seed_cnn",
    )


def cnn1d(length=40, num_classes=10, channels=25) -> keras.Model:
    """The MNIST-1D paper's CNN.

    Three 1-D convolutions of 25 channels (kernels 5, 3, 3, stride 2, ReLU), then a
    dense layer to the classes.

    >>> cnn1d(40).output_shape
    (None, 10)
    """
    length = int(length)
    return keras.Sequential(
        [
            keras.Input((length,)),
            layers.Reshape((length, 1)),
            layers.ZeroPadding1D(1),
            layers.Conv1D(channels, 5, strides=2, activation="relu"),
            layers.ZeroPadding1D(1),
            layers.Conv1D(channels, 3, strides=2, activation="relu"),
            layers.ZeroPadding1D(1),
            layers.Conv1D(channels, 3, strides=2, activation="relu"),
            layers.Flatten(),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="cnn1d",
    )


def mlp(input_shape, num_classes=10, hidden=(100, 100)) -> keras.Model:
    """A multilayer perceptron on the flattened input, ReLU between layers (default 100-100).

    >>> mlp((40,)).output_shape
    (None, 10)
    """
    stack = [keras.Input(tuple(int(d) for d in input_shape)), layers.Flatten()]
    stack += [layers.Dense(size, activation="relu") for size in hidden]
    stack.append(layers.Dense(num_classes, activation="softmax"))
    return keras.Sequential(stack, name="mlp")


def build(name: str, input_shape, num_classes=10) -> keras.Model:
    """A model by name (one of ``MODELS``) for inputs of ``input_shape`` (no batch axis).

    Raises:
      ValueError: an unknown name, or a shape the model cannot take.

    >>> build("mlp", (8, 8)).name
    'mlp'
    """
    shape = tuple(int(d) for d in input_shape)
    if name == "seed_cnn":
        return seed_cnn(shape, num_classes)
    if name == "cnn1d":
        if len(shape) != 1:
            raise ValueError(f"cnn1d needs sequences (L,); received input_shape={shape!r}")
        return cnn1d(shape[0], num_classes)
    if name == "mlp":
        return mlp(shape, num_classes)
    raise ValueError(f"model must be one of {MODELS}; received model={name!r}")
