"""``cyclr train --framework torch`` on a CUDA device, where CI has none: skipped without one.

No ``--device``: the GPU. ``--amp fp16`` trains with a gradient scaler, and a run cut by
Ctrl-C and resumed ends bit for bit as the uninterrupted one: the checkpoint holds the
scaler's loss scale and the device's random generator (the model's dropout draws on it).
"""

import json
import signal

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

from cli_helpers import read_csv
from own_helpers import digits_folder
from resume_helpers import interrupt_after

from cyclr.cli import main

EPOCHS = 12

FACTORY = """
from torch import nn


def make(input_shape, num_classes):
    size = 1
    for d in input_shape:
        size *= d
    return nn.Sequential(
        nn.Flatten(), nn.Linear(size, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, num_classes)
    )
"""


@pytest.fixture
def own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    digits_folder(tmp_path / "images", classes=(0, 1, 2), per_class=30)
    (tmp_path / "net.py").write_text(FACTORY)
    return tmp_path


def _args(out, *extra):
    return [
        "train", "--framework", "torch", "--model", "net.py:make", "--data", "images",
        "--batch-size", "8", "--base-lr", "0.01", "--max-lr", "0.1",
        "--epochs-per-half-cycle", "2", "--epochs", str(EPOCHS), "--quiet", "--out", str(out),
        *extra,
    ]  # fmt: skip


def _weights(path):
    return torch.load(path, weights_only=True)


def test_the_gpu_is_the_default_device_and_bf16_trains_there(own):
    assert main(_args("bf16", "--amp", "bf16")) == 0
    config = json.loads((own / "bf16" / "config.json").read_text())
    assert config["device"] == "cuda" and config["amp"] == "bf16"
    rows = read_csv(own / "bf16" / "metrics.csv")
    assert float(rows[-1]["test_accuracy"]) > 0.8


def test_an_fp16_run_resumed_after_ctrl_c_equals_the_uninterrupted_one(own, capsys):
    assert main(_args("whole", "--amp", "fp16")) == 0
    left = interrupt_after(_args("cut", "--amp", "fp16"), own, own / "cut", 2, signal.SIGINT)
    assert 2 <= left < EPOCHS
    state = torch.load(own / "cut" / f"checkpoint-{left:05d}.pt", weights_only=True)
    assert "grad_scaler" in state and "cuda_rng" in state
    capsys.readouterr()
    assert main(["train", "--resume", "cut"]) == 0
    whole, cut = read_csv(own / "whole" / "metrics.csv"), read_csv(own / "cut" / "metrics.csv")
    assert len(whole) == len(cut) and whole == cut
    a, b = _weights(own / "whole" / "model.pt"), _weights(own / "cut" / "model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
