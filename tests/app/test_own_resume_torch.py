"""``cyclr train --resume``: after Ctrl-C or ``kill -9`` a run ends as an uninterrupted one.

PyTorch; the Keras twin is tests/keras/test_own_resume_keras.py.
"""

import json
import shutil
import signal

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")

from cli_helpers import read_csv
from own_helpers import TORCH_FACTORY, digits_folder
from resume_helpers import interrupt_after

from cyclr.cli import main

# Long enough that Ctrl-C, sent when epoch 2 is checkpointed, lands well before the end
EPOCHS = 20


@pytest.fixture
def own(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    digits_folder(tmp_path / "images", classes=(0, 1, 2), per_class=20)
    (tmp_path / "net.py").write_text(TORCH_FACTORY)
    return tmp_path


def _args(out, epochs=EPOCHS):
    return [
        "train", "--framework", "torch", "--model", "net.py:make", "--data", "images",
        "--batch-size", "8", "--base-lr", "0.01", "--max-lr", "0.1",
        "--epochs-per-half-cycle", "2", "--epochs", str(epochs), "--cycle-momentum",
        "--quiet", "--out", str(out),
    ]  # fmt: skip


def _weights(path):
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_a_resumed_run_equals_an_uninterrupted_one(own, capsys, monkeypatch, how):
    assert main(_args("whole")) == 0
    left = interrupt_after(_args("cut"), own, own / "cut", 2, how)
    assert 2 <= left < EPOCHS
    # the checkpoint is whole: the state file checkpoint.json names is there. A kill between
    # two writes may leave one more: the next epoch's state, written before checkpoint.json
    # named it, or the previous one, not yet removed
    states = sorted(p.name for p in (own / "cut").glob("checkpoint-*.pt"))
    named = json.loads((own / "cut" / "checkpoint.json").read_text())["state_file"]
    assert named == f"checkpoint-{left:05d}.pt" and named in states and len(states) <= 2
    capsys.readouterr()
    (own / "elsewhere").mkdir()
    monkeypatch.chdir(own / "elsewhere")  # --resume works from any folder
    assert main(["train", "--resume", "../cut"]) == 0
    monkeypatch.chdir(own)
    out = capsys.readouterr().out
    assert out.startswith("test accuracy "), out  # --quiet, as the run was started
    whole, cut = read_csv(own / "whole" / "metrics.csv"), read_csv(own / "cut" / "metrics.csv")
    assert len(whole) == len(cut) and whole == cut  # every step's lr, momentum, loss, metrics
    a, b = _weights(own / "whole" / "model.pt"), _weights(own / "cut" / "model.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    summary = json.loads((own / "cut" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == len(whole)
    config = json.loads((own / "cut" / "config.json").read_text())
    assert config["resumed_after_epoch"] == left and "--resume" not in config["argv"]


@pytest.fixture
def checkpointed(own, capsys):
    """A finished 2-epoch run (its checkpoint is that of epoch 2)."""
    assert main(_args("run", epochs=2)) == 0
    capsys.readouterr()
    return own / "run"


def _resume_error(capsys, *args) -> str:
    assert main(["train", "--resume", *map(str, args)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cyclr: error: "), lines
    return lines[0]


def test_a_corrupt_state_file_is_refused(checkpointed, capsys):
    state = next(checkpointed.glob("checkpoint-*.pt"))
    state.write_bytes(state.read_bytes()[:-10] + b"0123456789")
    line = _resume_error(capsys, checkpointed)
    assert line == (
        f"cyclr: error: --resume={str(checkpointed)!r}: {state.name} does not match "
        "checkpoint.json (corrupt)"
    )


def test_a_corrupt_or_foreign_checkpoint_json_is_refused(checkpointed, own, capsys):
    record = checkpointed / "checkpoint.json"
    text = record.read_text()
    record.write_text(text[: len(text) // 2])
    assert "checkpoint.json is corrupt" in _resume_error(capsys, checkpointed)
    record.write_text(json.dumps({"format": "something else", "epoch": 1}))
    assert "is not a cyclr train checkpoint" in _resume_error(capsys, checkpointed)
    # a checkpoint of another run (3 epochs) copied into this one (2 epochs)
    assert main(_args("other", epochs=3)) == 0
    capsys.readouterr()
    for f in (own / "other").glob("checkpoint*"):
        shutil.copy(f, checkpointed / f.name)
    line = _resume_error(capsys, checkpointed)
    assert "the checkpoint is of another run: total_steps=" in line


def test_resume_refuses_other_options_and_folders_without_a_run(checkpointed, own, capsys):
    assert main(["train", "--resume", str(checkpointed), "--epochs", "5"]) == 2
    err = capsys.readouterr().err
    assert "--epochs does not apply" in err and "with the options it was started with" in err
    (own / "empty").mkdir()
    assert "not a cyclr train run folder" in _resume_error(capsys, own / "empty")
    # a run folder without checkpoint.json (stopped before its first epoch ended) starts
    # again from the start: tests/app/test_resume_early.py
