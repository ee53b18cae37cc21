"""Image folders reach a PyTorch model channels-first, ``(C, H, W)``, as PyTorch models take them.

A factory is called with ``input_shape=(C, H, W)`` and fed ``(N, C, H, W)``; a model whose
first ``Conv2d`` takes another channel count (a torchvision-style RGB stem on grayscale files,
or the reverse) gets the images converted, and the command says so. Real PNG files, real
models. The Keras twin is tests/keras/test_keras_image_layout.py.
"""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")

from own_helpers import colour_folder, digits_folder

from cyclr.app.data import load_data
from cyclr.app.torch_runner import TorchRunner
from cyclr.cli import main

NETS = """
import json
from pathlib import Path

from torch import nn


def conv(input_shape, num_classes):
    Path("shape.json").write_text(json.dumps(list(input_shape)))
    channels, height, width = input_shape  # PyTorch's layout
    return nn.Sequential(
        nn.Conv2d(channels, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * height * width, num_classes),
    )


def rgb_stem(input_shape, num_classes):
    # takes RGB whatever the data, as torchvision's resnet18(num_classes=...) does
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Linear(16, num_classes),
    )


def gray_stem(input_shape, num_classes):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Linear(16, num_classes),
    )
"""


@pytest.fixture
def own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    (tmp_path / "nets.py").write_text(NETS)
    return tmp_path


def _train(capsys, model, data):
    code = main(
        ["train", "--framework", "torch", "--model", model, "--data", data, "--batch-size", "8",
         "--base-lr", "0.01", "--max-lr", "0.1", "--epochs", "1", "--out", "run"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_a_factory_gets_grayscale_images_as_one_channel_first(own, capsys):
    digits_folder(own / "digits", classes=(0, 1, 2), per_class=10, size=28)
    out = _train(capsys, "nets.py:conv", "digits")
    assert json.loads((own / "shape.json").read_text()) == [1, 28, 28]
    assert "note:" not in out  # nothing converted: only the channel axis placed
    assert json.loads((own / "run" / "summary.json").read_text())["status"] == "finished"


def test_grayscale_images_are_repeated_into_rgb_for_an_rgb_stem(own, capsys):
    digits_folder(own / "digits", classes=(0, 1), per_class=10)
    out = _train(capsys, "nets.py:rgb_stem", "digits")
    assert (
        "note: the images are grayscale (1 channel) and the model's first Conv2d takes 3: "
        "each image is repeated into R, G and B" in out
    )
    data = load_data(data="digits")
    runner = TorchRunner(data, "nets.py:rgb_stem", 8, 0, device="cpu")
    assert runner.data.x_train.shape == (len(data.x_train), 3, 8, 8)
    for c in range(3):
        np.testing.assert_array_equal(runner.data.x_train[:, c], data.x_train)


def test_rgb_images_become_grayscale_for_a_one_channel_stem(own, capsys):
    colour_folder(own / "colours", classes=2, per_class=10)
    out = _train(capsys, "nets.py:gray_stem", "colours")
    assert (
        "note: the images are RGB (3 channels) and the model's first Conv2d takes 1: each "
        "image is converted to grayscale, L = 0.299 R + 0.587 G + 0.114 B" in out
    )
    data = load_data(data="colours")
    runner = TorchRunner(data, "nets.py:gray_stem", 8, 0, device="cpu")
    assert runner.data.x_train.shape == (len(data.x_train), 1, 8, 8)
    rgb = data.x_train
    want = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    np.testing.assert_allclose(runner.data.x_train[:, 0], want, rtol=1e-6, atol=1e-7)


def test_a_model_that_takes_neither_layout_names_the_channels_first_batch(own, capsys):
    digits_folder(own / "digits", classes=(0, 1), per_class=5)
    (own / "flat.py").write_text(
        "from torch import nn\n"
        "def make(input_shape, num_classes):\n"
        "    return nn.Sequential(nn.Linear(8, num_classes))\n"
    )
    code = main(["find", "--framework", "torch", "--model", "flat.py:make", "--data", "digits"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert "does not fit the data: a batch (2, 1, 8, 8) gives outputs (2, 1, 8, 2)" in err[0]
    assert "the data (digits) has inputs (1, 8, 8) and 2 classes" in err[0]
