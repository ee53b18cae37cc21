"""Image folders reach a Keras model channels-last, ``(H, W, C)``, as Keras models take them.

Issue 28, item 4: ``cyclr find --model mine.keras --data digits/`` with a model on
``keras.Input((28, 28, 1))`` and 28x28 grayscale PNGs was refused ("it takes inputs
(28, 28, 1); the data ... has inputs (28, 28)"). A factory is called with ``(H, W, C)``; a
saved model gets the layout it declares, grayscale repeated into RGB or RGB made grayscale
when it declares the other channel count, and the command says so. Runs once per
KERAS_BACKEND, on real PNG files and real models. The PyTorch twin is
tests/app/test_image_layout_torch.py.
"""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("PIL")

from own_helpers import colour_folder, digits_folder

from cyclr.app.data import load_data
from cyclr.app.keras_runner import KerasRunner
from cyclr.cli import main

FACTORY = """
import json
from pathlib import Path

import keras


def make(input_shape, num_classes):
    Path("shape.json").write_text(json.dumps(list(input_shape)))
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes),
        ]
    )
"""


def _convnet(shape, classes):
    """A Keras example's convnet head: Conv2D on a declared (H, W, C) input."""
    return keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )


@pytest.fixture
def own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    return tmp_path


def _ok(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_a_model_on_input_28_28_1_reads_a_folder_of_grayscale_pngs(own, capsys):
    digits_folder(own / "digits", classes=(0, 1, 2), per_class=30, size=28)
    keras.utils.set_random_seed(0)
    keras.Sequential(  # the Keras MNIST example's convnet, smaller
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(4),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    ).save(own / "mine.keras")
    out = _ok(capsys, "find", "--model", "mine.keras", "--data", "digits", "--num-steps", "60",
              "--batch-size", "8", "--quiet", "--out", "found")  # fmt: skip
    assert "note: the images" not in out  # nothing converted: only the channel axis placed
    assert json.loads((own / "found" / "summary.json").read_text())["num_steps"] == 60


def test_a_factory_gets_height_width_channels(own, capsys):
    digits_folder(own / "digits", classes=(0, 1), per_class=10)
    (own / "factory.py").write_text(FACTORY)
    _ok(capsys, "train", "--model", "factory.py:make", "--data", "digits", "--base-lr", "0.01",
        "--max-lr", "0.1", "--epochs", "1", "--quiet", "--out", "run")  # fmt: skip
    assert json.loads((own / "shape.json").read_text()) == [8, 8, 1]


def test_grayscale_images_are_repeated_into_rgb_for_a_model_on_three_channels(own, capsys):
    digits_folder(own / "digits", classes=(0, 1), per_class=10)
    _convnet((8, 8, 3), 2).save(own / "rgb.keras")
    out = _ok(capsys, "train", "--model", "rgb.keras", "--data", "digits", "--base-lr", "0.01",
              "--max-lr", "0.1", "--epochs", "1", "--out", "run")  # fmt: skip
    assert (
        "note: the images are grayscale (1 channel) and the model takes inputs (8, 8, 3): each "
        "image is repeated into R, G and B" in out
    )
    data = load_data(data="digits")
    runner = KerasRunner(data, "rgb.keras", 8, 0)
    assert runner.data.x_train.shape == (len(data.x_train), 8, 8, 3)
    for c in range(3):
        np.testing.assert_array_equal(runner.data.x_train[..., c], data.x_train)


def test_rgb_images_become_grayscale_for_a_model_on_one_channel(own, capsys):
    colour_folder(own / "colours", classes=2, per_class=10)
    _convnet((8, 8, 1), 2).save(own / "gray.keras")
    out = _ok(capsys, "train", "--model", "gray.keras", "--data", "colours", "--base-lr", "0.01",
              "--max-lr", "0.1", "--epochs", "1", "--out", "run")  # fmt: skip
    assert (
        "note: the images are RGB (3 channels) and the model takes inputs (8, 8, 1): each "
        "image is converted to grayscale, L = 0.299 R + 0.587 G + 0.114 B" in out
    )
    data = load_data(data="colours")
    runner = KerasRunner(data, "gray.keras", 8, 0)
    rgb = data.x_train
    want = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    assert runner.data.x_train.shape == (len(rgb), 8, 8, 1)
    np.testing.assert_allclose(runner.data.x_train[..., 0], want, rtol=1e-6, atol=1e-7)


def test_a_model_that_takes_no_image_layout_names_both_shapes(own, capsys):
    digits_folder(own / "digits", classes=(0, 1), per_class=5)
    _convnet((6, 6, 1), 2).save(own / "small.keras")
    code = main(["find", "--model", "small.keras", "--data", "digits", "--out", "x"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert (
        "--model='small.keras' does not fit the data: it takes inputs (6, 6, 1); the data "
        "(digits) has inputs (8, 8, 1)" in err[0]
    )
