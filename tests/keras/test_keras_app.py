"""The app's Keras models, the download loader offline, and the example script end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from cyclr.app import keras_models
from cyclr.app.downloads import DownloadError, load_download

ROOT = Path(__file__).resolve().parents[2]
NO_NETWORK = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}


@pytest.mark.parametrize(
    "name,shape",
    [
        ("seed_cnn", (8, 8)),
        ("seed_cnn", (28, 28)),
        ("seed_cnn", (32, 32, 3)),
        ("cnn1d", (40,)),
        ("mlp", (8, 8)),
    ],
)
def test_models_take_their_inputs_and_output_probabilities(name, shape):
    model = keras_models.build(name, shape)
    out = keras.ops.convert_to_numpy(model(np.zeros((2, *shape), "float32")))
    assert out.shape == (2, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_seed_cnn_has_the_seed_layers():
    model = keras_models.seed_cnn((28, 28))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Reshape",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
        "Dense",
    ]
    assert [layer.units for layer in model.layers if hasattr(layer, "units")] == [256, 128, 10]
    assert model.layers[3].output.shape[1:3] == (11, 11)  # valid convolutions on 28x28


def test_build_errors_name_the_value():
    with pytest.raises(ValueError, match="model='resnet'"):
        keras_models.build("resnet", (8, 8))
    with pytest.raises(ValueError, match=r"input_shape=\(8, 8\)"):
        keras_models.build("cnn1d", (8, 8))


def test_download_offline_names_the_data_option(monkeypatch, tmp_path):
    for key, value in NO_NETWORK.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # nothing cached
    with pytest.raises(DownloadError, match=r"data='PATH\.npz'"):
        load_download("mnist")
    with pytest.raises(ValueError, match="dataset='svhn'"):
        load_download("svhn")


def test_example_runs_offline_with_a_small_budget(tmp_path, png_header):
    env = dict(os.environ, **NO_NETWORK, KERAS_BACKEND=keras.backend.backend())
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "keras_mnist.py"),
            "--dataset",
            "digits",
            "--steps",
            "12",
            "--epochs",
            "1",
            "--out",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test accuracy" in done.stdout
    for name in ("range_test.png", "clr_training.png"):
        assert (tmp_path / name).read_bytes()[:8] == png_header
    saved = json.loads((tmp_path / "range_test.json").read_text())
    assert saved  # a RangeTestResult in JSON
