"""``cyclr find | train`` on your own Keras model (a saved ``.keras`` file or a factory).

Runs in-process through ``cyclr.cli.main`` on the backend of this process
(KERAS_BACKEND), on a tiny folder of PNG digits the test writes.
"""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("PIL")

from cli_helpers import assert_run_folder, read_csv
from own_helpers import digits_folder

from cyclr.cli import main

KERAS_FACTORY = """
import keras


def make(input_shape, num_classes):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ]
    )
"""


def _dense(input_shape=(8, 8), classes=3, activation=None):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(classes, activation=activation),
        ]
    )


@pytest.fixture
def own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    digits_folder(tmp_path / "images", classes=(0, 1, 2), per_class=60)
    keras.utils.set_random_seed(0)
    _dense().save(tmp_path / "model.keras")  # logits, not compiled
    return tmp_path


def _run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _error(capsys, *args) -> str:
    code, out, err = _run(capsys, *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cyclr: error:"), err
    return lines[0]


def test_find_then_train_a_saved_model_on_an_image_folder(own, capsys):
    common = ("--model", "model.keras", "--data", "images", "--batch-size", "16")
    code, out, err = _run(capsys, "find", *common, "--num-steps", "80", "--out", "found")
    assert code == 0, err
    assert "note: the model has no loss: compiling it with sparse categorical cross-entropy " in out
    assert "(its outputs are logits)" in out
    found = json.loads((own / "found" / "summary.json").read_text())
    assert 0 < found["base_lr"] < found["max_lr"]
    snippet = (own / "found" / "snippet.py").read_text()
    assert out.rstrip().endswith(snippet.rstrip())
    space: dict = {}
    exec(compile(snippet, "snippet.py", "exec"), space)  # the lines run as they are
    assert float(space["lr"](0)) == pytest.approx(float(f"{found['base_lr']:.3g}"), rel=1e-6)
    assert float(space["lr"](found["step_size"])) == pytest.approx(
        float(f"{found['max_lr']:.3g}"), rel=1e-6
    )

    code, out, err = _run(
        capsys, "train", *common, "--base-lr", found["base_lr"], "--max-lr", found["max_lr"],
        "--epochs-per-half-cycle", "0.7", "--out", "trained",
    )  # fmt: skip
    assert code == 0, err
    run = own / "trained"
    rows = assert_run_folder(run, range_test=False)
    summary = json.loads((run / "summary.json").read_text())
    # three whole cycles; 0.7 epochs a half cycle, so the last epoch is cut short
    assert summary["steps"] == len(rows) == 6 * summary["step_size"]
    assert summary["steps"] % summary["steps_per_epoch"] != 0
    assert not any("cycle boundary" in c for c in summary["checks"])
    assert len([line for line in out.splitlines() if line.startswith("epoch ")]) == 5
    trained = keras.models.load_model(run / "model.keras", safe_mode=True)
    x = np.zeros((2, 8, 8), "float32")
    assert keras.ops.convert_to_numpy(trained(x)).shape == (2, 3)
    assert summary["test_accuracy"] > 0.5  # chance is 1/3
    config = json.loads((run / "config.json").read_text())
    assert config["loss"] == "SparseCategoricalCrossentropy(from_logits=True)"


def test_a_compiled_model_keeps_its_loss(own, capsys):
    model = _dense(activation="softmax")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(own / "compiled.keras")
    code, out, err = _run(
        capsys, "train", "--model", "compiled.keras", "--data", "images", "--base-lr", "0.01",
        "--max-lr", "0.1", "--epochs", "1", "--out", "c",
    )  # fmt: skip
    assert code == 0, err
    assert "note: using the saved model's loss sparse_categorical_crossentropy" in out
    assert len(read_csv(own / "c" / "metrics.csv")) > 0


def test_a_factory_returning_a_keras_model(own, capsys):
    (own / "factory.py").write_text(KERAS_FACTORY)
    code, out, err = _run(
        capsys, "train", "--model", "factory.py:make", "--data", "images", "--base-lr", "0.01",
        "--max-lr", "0.1", "--epochs", "1", "--quiet", "--out", "f",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("test accuracy ") and "note:" not in out
    assert (own / "f" / "model.keras").is_file()


@pytest.mark.parametrize(
    "make,needle",
    [
        (
            lambda: _dense(input_shape=(4,)),
            "does not fit the data: it takes inputs (4,); the data (images) has inputs (8, 8, 1)",
        ),
        (
            lambda: _dense(classes=10),
            "gives outputs (2, 10), expected (2, 3); the data (images) has inputs (8, 8) and "
            "3 classes",
        ),
    ],
)
def test_a_saved_model_that_does_not_fit_is_one_line(own, capsys, make, needle):
    make().save(own / "other.keras")
    line = _error(capsys, "find", "--model", "other.keras", "--data", "images", "--out", "x")
    assert needle in line, line
    assert not (own / "x").exists()


def test_missing_or_corrupt_model_files(own, capsys):
    line = _error(capsys, "find", "--model", "absent.keras", "--data", "images")
    assert "--model='absent.keras': no such file" in line
    (own / "junk.keras").write_bytes(b"not a zip file")
    line = _error(capsys, "find", "--model", "junk.keras", "--data", "images")
    assert "--model='junk.keras': not a loadable Keras model" in line
    (own / "torchy.py").write_text("def make(shape, classes):\n    return object()\n")
    line = _error(capsys, "find", "--model", "torchy.py:make", "--data", "images")
    assert "returned a object, not a Keras model" in line


def test_regression_with_a_factory_reports_the_mean_absolute_error(own, capsys):
    (own / "factory.py").write_text(KERAS_FACTORY.replace('activation="softmax"', ""))
    rows = ["a,b,y"] + [f"{i / 50:.3f},{(i % 7) / 7:.3f},{2 * i / 50 - 1:.3f}" for i in range(120)]
    (own / "reg.csv").write_text("\n".join(rows) + "\n")
    code, out, err = _run(
        capsys, "train", "--model", "factory.py:make", "--data", "reg.csv", "--label", "y",
        "--loss", "mae", "--base-lr", "0.001", "--max-lr", "0.01", "--epochs", "2", "--out", "r",
    )  # fmt: skip
    assert code == 0, err
    assert "inputs (2,), regression" in out and "val_mae" in out
    summary = json.loads((own / "r" / "summary.json").read_text())
    assert summary["metric"] == "mae" and summary["test_mae"] > 0
    line = _error(capsys, "train", "--model", "mlp", "--data", "reg.csv", "--label", "y", "--loss",
                  "mse")  # fmt: skip
    assert "--model='mlp' ends in a softmax over classes; a regression loss needs your own" in line
