"""``cyclr train --resume`` with Keras: after Ctrl-C or ``kill -9`` a run ends as an
uninterrupted one (this file runs once per KERAS_BACKEND)."""

import json
import signal

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("PIL")

from cli_helpers import read_csv
from own_helpers import digits_folder
from resume_helpers import interrupt_after

from cyclr.cli import main

# Long enough that Ctrl-C, sent when epoch 2 is checkpointed, lands well before the end
# (an epoch of this tiny model takes tens of milliseconds: with 6, a busy machine could
# see the run finish first)
EPOCHS = 20
BACKEND = keras.backend.backend()


@pytest.fixture
def own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    digits_folder(tmp_path / "images", classes=(0, 1, 2), per_class=20)
    keras.utils.set_random_seed(0)
    keras.Sequential(
        [
            keras.Input((8, 8)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3),
        ]
    ).save(tmp_path / "model.keras")
    return tmp_path


def _args(out, epochs=EPOCHS):
    return [
        "train", "--model", "model.keras", "--data", "images", "--batch-size", "8",
        "--base-lr", "0.01", "--max-lr", "0.1", "--epochs-per-half-cycle", "2",
        "--epochs", str(epochs), "--cycle-momentum", "--quiet", "--out", str(out),
    ]  # fmt: skip


# Ctrl-C once failed here on Keras's JAX backend about one run in six: the interrupt landed
# in NumPy's array coercion of a batch's logs, which clears the error (numpy#20596), and the
# run trained on to the end. Training now defers Ctrl-C to the next step boundary
# (cyclr.app.workflow.DeferredInterrupt; 0 of 25 runs failed after, 6 of 32 before).
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_resumed_run_equals_an_uninterrupted_one(own, capsys, how):
    assert main(_args("whole")) == 0
    env = {"KERAS_BACKEND": BACKEND, "TF_CPP_MIN_LOG_LEVEL": "3"}
    left = interrupt_after(_args("cut"), own, own / "cut", 2, how, env=env)
    assert 2 <= left < EPOCHS
    named = json.loads((own / "cut" / "checkpoint.json").read_text())["state_file"]
    assert named == f"checkpoint-{left:05d}.npz"
    capsys.readouterr()
    assert main(["train", "--resume", str(own / "cut")]) == 0
    whole, cut = read_csv(own / "whole" / "metrics.csv"), read_csv(own / "cut" / "metrics.csv")
    assert len(whole) == len(cut) == EPOCHS * 5
    # every step's lr and momentum exactly; losses and metrics as the same computation gives
    for key in ("step", "lr", "momentum", "epoch"):
        assert [r[key] for r in whole] == [r[key] for r in cut], key
    for key in ("loss", "val_loss", "test_accuracy"):
        a = np.array([float(r[key] or "nan") for r in whole])
        b = np.array([float(r[key] or "nan") for r in cut])
        np.testing.assert_allclose(a, b, rtol=1e-5, equal_nan=True, err_msg=key)
    a = keras.models.load_model(own / "whole" / "model.keras").get_weights()
    b = keras.models.load_model(own / "cut" / "model.keras").get_weights()
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)
    summary = json.loads((own / "cut" / "summary.json").read_text())
    assert summary["status"] == "finished"


def test_a_truncated_state_file_is_refused(own, capsys):
    assert main(_args("run", epochs=1)) == 0
    capsys.readouterr()
    state = next((own / "run").glob("checkpoint-*.npz"))
    state.write_bytes(state.read_bytes()[:100])
    assert main(["train", "--resume", str(own / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"cyclr: error: --resume={str(own / 'run')!r}: {state.name} does not match " + (
        "checkpoint.json (corrupt)"
    )
