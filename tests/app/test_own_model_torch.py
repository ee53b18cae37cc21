"""``cyclr find | train | compare`` on your own PyTorch model (a factory in a .py file) and data.

The commands run in-process through ``cyclr.cli.main`` (as ``python -m cyclr`` does), on
tiny folders of PNG digits and small CSVs the tests write.
"""

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")

from cli_helpers import assert_run_folder, read_csv
from own_helpers import TORCH_FACTORY, blobs_csv, digits_folder

import cyclr
from cyclr.cli import main


@pytest.fixture
def own(tmp_path, monkeypatch):
    """A folder of digit PNGs (3 classes), a factory file, and the working folder set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    digits_folder(tmp_path / "images", classes=(0, 1, 2), per_class=60)
    (tmp_path / "net.py").write_text(TORCH_FACTORY)
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


def test_find_then_train_a_factory_on_an_image_folder(own, capsys):
    common = ("--framework", "torch", "--model", "net.py:make", "--data", "images")
    common += ("--batch-size", "16", "--num-steps", "80", "--seed", "1")
    code, out, err = _run(capsys, "find", *common, "--out", "found")
    assert code == 0, err
    found = json.loads((own / "found" / "summary.json").read_text())
    assert 0 < found["base_lr"] < found["max_lr"]
    assert found["model"] == "net.py:make" and found["dataset"] == "images"
    # find ends with the lines to paste, bounds and step size filled in
    snippet = (own / "found" / "snippet.py").read_text()
    assert out.rstrip().endswith(snippet.rstrip())
    assert f"step_size={found['step_size']}" in snippet and "CyclicLR(optimizer" in snippet
    # ... and they run: the scheduler they build follows the suggested schedule
    space = {"model": torch.nn.Linear(3, 2)}
    exec(compile(snippet, "snippet.py", "exec"), space)
    for _ in range(5):
        space["optimizer"].step()
        space["scheduler"].step()
    schedule = cyclr.CyclicSchedule(
        float(f"{found['base_lr']:.3g}"), float(f"{found['max_lr']:.3g}"), found["step_size"]
    )
    assert space["optimizer"].param_groups[0]["lr"] == pytest.approx(schedule(5), rel=1e-12)

    code, out, err = _run(capsys, "train", *common, "--cycles", "1", "--out", "trained")
    assert code == 0, err
    run = own / "trained"
    rows = assert_run_folder(run)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["model_file"] == "model.pt"
    # the same range test on the same model and seed: the same bounds as find
    assert (summary["base_lr"], summary["max_lr"]) == (found["base_lr"], found["max_lr"])
    # one whole cycle by default with --cycles 1, ending at a cycle boundary
    assert summary["steps"] == len(rows) == 2 * summary["step_size"]
    assert not any("cycle boundary" in c for c in summary["checks"])
    # the trained weights load into the factory's model, without executing code
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 3)
    )
    model.load_state_dict(torch.load(run / "model.pt", weights_only=True))
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == summary["epochs"] == 8
    assert re.match(
        r"epoch 1/8  lr \S+-\S+  loss \d\.\d{4}  val_loss \d\.\d{4}  val_accuracy \d\.\d{4}  "
        r"\d+\.\d s$",
        epochs[0],
    ), epochs[0]
    assert summary["test_accuracy"] > 0.5  # chance is 1/3
    config = json.loads((run / "config.json").read_text())
    assert config["optimizer"] == "sgd" and config["cycles"] == 1  # resolved, not None
    assert None not in config.values()


def test_checks_come_before_training_and_the_run_ends_at_a_cycle_boundary(own, capsys):
    args = ("train", "--framework", "torch", "--model", "net.py:make", "--data", "images")
    args += ("--batch-size", "16", "--base-lr", "0.01", "--max-lr", "0.1")
    # 0.7 epochs per half cycle: 3 cycles are not whole epochs; the last one is cut short.
    code, out, err = _run(capsys, *args, "--epochs-per-half-cycle", "0.7", "--out", "a")
    assert code == 0, err
    summary = json.loads((own / "a" / "summary.json").read_text())
    spe = summary["steps_per_epoch"]
    assert summary["step_size"] == round(0.7 * spe)
    assert summary["steps"] == 6 * summary["step_size"] == len(read_csv(own / "a" / "metrics.csv"))
    assert summary["steps"] % spe != 0  # a partial last epoch
    assert not any("cycle boundary" in c for c in summary["checks"])
    # --epochs and --epochs-per-half-cycle both given that end mid-cycle are kept as given,
    # with the warning said before training (--epochs alone fits whole cycles into them:
    # tests/app/test_train_epochs_fit.py).
    code, out, err = _run(
        capsys, *args, "--epochs", "3", "--epochs-per-half-cycle", "4", "--out", "b"
    )
    assert code == 0, err
    lines = out.splitlines()
    warning = next(i for i, line in enumerate(lines) if "not at a cycle boundary" in line)
    first_epoch = next(i for i, line in enumerate(lines) if line.startswith("epoch 1/3"))
    assert lines[warning].startswith("check: the run ends") and warning < first_epoch
    assert sum(line.startswith("check:") for line in lines[first_epoch:]) == 0


def test_quiet_prints_only_the_result(own, capsys):
    code, out, err = _run(
        capsys,
        "train",
        "--framework",
        "torch",
        "--model",
        "net.py:make",
        "--data",
        "images",
        "--base-lr",
        "0.01",
        "--max-lr",
        "0.1",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        "q",
    )
    assert code == 0, err
    assert out.splitlines()[0].startswith("test accuracy ") and len(out.splitlines()) == 2
    assert err == ""
    # the report: momentum never moved, so no momentum panel; the configuration resolved
    page = (own / "q" / "report.html").read_text()
    assert "<h2>Learning rate used</h2>" in page and "momentum used" not in page
    assert "<th>optimizer</th><td>sgd</td>" in page and "<th>momentum</th><td>0.9</td>" in page
    assert "<td>None</td>" not in page
    assert "<th>mode</th><td>triangular</td>" in page and "<th>total_steps</th>" in page


def test_cycles_and_epochs_are_one_or_the_other(own, capsys):
    base = ("train", "--framework", "torch", "--data", "images", "--base-lr", "0.01")
    line = _error(capsys, *base, "--max-lr", "0.1", "--cycles", "2", "--epochs", "3")
    assert "give --cycles or --epochs, not both; received --cycles=2, --epochs=3" in line
    line = _error(capsys, *base, "--max-lr", "0.1", "--policy", "fixed", "--cycles", "2")
    assert "--cycles does not apply to --policy fixed" in line


def test_regression_on_a_csv_reports_the_mean_absolute_error(own, capsys):
    rows = ["a,b,y"] + [f"{i / 50:.3f},{(i % 7) / 7:.3f},{2 * i / 50 - 1:.3f}" for i in range(120)]
    (own / "reg.csv").write_text("\n".join(rows) + "\n")
    code, out, err = _run(
        capsys,
        "train",
        "--framework",
        "torch",
        "--model",
        "net.py:make",
        "--data",
        "reg.csv",
        "--label",
        "y",
        "--loss",
        "mse",
        "--base-lr",
        "0.001",
        "--max-lr",
        "0.01",
        "--epochs",
        "2",
        "--out",
        "reg",
    )
    assert code == 0, err
    header = list(read_csv(own / "reg" / "metrics.csv")[0])
    assert header[-2:] == ["test_loss", "test_mae"]
    summary = json.loads((own / "reg" / "summary.json").read_text())
    assert summary["metric"] == "mae" and summary["test_mae"] > 0
    assert "test mae " in out and "val_mae" in out


def test_compare_on_your_own_data_writes_a_report(own, capsys):
    code, _, err = _run(
        capsys,
        "compare",
        "--framework",
        "torch",
        "--model",
        "net.py:make",
        "--data",
        "images",
        "--policies",
        "fixed,triangular",
        "--seeds",
        "1",
        "--epochs",
        "2",
        "--num-steps",
        "60",
        "--batch-size",
        "16",
        "--out",
        "cmp",
    )
    assert code == 0, err
    page = (own / "cmp" / "report.html").read_text()
    assert "triangular: final accuracy" in page and page.count("data:image/png;base64") == 2
    config = json.loads((own / "cmp" / "compare_config.json").read_text())
    assert config["model"] == "net.py:make" and config["num_steps"] == 60


@pytest.mark.parametrize(
    "model,needle",
    [
        (
            "net.py:fixed_size",
            "--model='net.py:fixed_size' does not fit the data: a batch (2, 1, 8, 8) fails",
        ),
        ("net.py:not_a_module", "returned a str, not a torch.nn.Module"),
        ("net.py:missing", "'net.py' has no function 'missing'"),
        ("nowhere.py:make", "no such file 'nowhere.py'"),
        ("no_such_package_xyz.models:make", "cannot import module 'no_such_package_xyz.models'"),
        ("model.keras", "--model='model.keras' is a Keras model; run it with --framework='keras'"),
        ("resnet", "--model must be one of auto, seed_cnn, cnn1d, mlp, a saved Keras model"),
    ],
)
def test_a_model_that_does_not_fit_or_load_is_one_line(own, capsys, model, needle):
    line = _error(
        capsys, "find", "--framework", "torch", "--model", model, "--data", "images", "--out", "x"
    )
    assert needle in line, line
    if "does not fit" in needle:
        assert "the data (images) has inputs (1, 8, 8) and 3 classes" in line  # (C, H, W)
    assert not (own / "x").exists()  # refused before the run folder is made


def test_a_model_with_the_wrong_output_size_names_both(own, capsys):
    (own / "wide.py").write_text(
        "from torch import nn\n"
        "def make(input_shape, num_classes):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes + 2))\n"
    )
    line = _error(
        capsys, "train", "--framework", "torch", "--model", "wide.py:make", "--data", "images"
    )
    assert "gives outputs (2, 5), expected (2, 3)" in line and "3 classes" in line


@pytest.mark.parametrize(
    "setup,args,needle",
    [
        ("bad_csv", ("--data", "bad.csv", "--label", "species"), "column 'f2' is not numeric"),
        ("one_class", ("--data", "one"), "at least 2 classes; found 1 (digit_5)"),
        ("", ("--data", "missing_folder"), "--data='missing_folder': no such file or folder"),
        ("", ("--data", "images", "--label", "y"), "--label='y' with --data='images'"),
    ],
)
def test_bad_data_is_one_line_before_anything_trains(own, capsys, setup, args, needle):
    if setup == "bad_csv":
        blobs_csv(own / "bad.csv")
        text = (own / "bad.csv").read_text().splitlines()
        text[5] = text[5].rsplit(",", 1)[0] + ",n/a"
        (own / "bad.csv").write_text("\n".join(text) + "\n")
    if setup == "one_class":
        digits_folder(own / "one", classes=(5,), per_class=3)
    line = _error(capsys, "find", "--framework", "torch", "--model", "net.py:make", *args)
    assert needle in line, line
    assert not (own / "runs").exists()


def test_a_csv_trains_with_a_built_in_model(own, capsys):
    blobs_csv(own / "blobs.csv")
    code, out, err = _run(
        capsys,
        "train",
        "--framework",
        "torch",
        "--model",
        "mlp",
        "--data",
        "blobs.csv",
        "--label",
        "species",
        "--base-lr",
        "0.01",
        "--max-lr",
        "0.1",
        "--epochs",
        "3",
        "--out",
        "csv",
    )
    assert code == 0, err
    assert "inputs (2,), 3 classes" in out
    accuracy = json.loads((own / "csv" / "summary.json").read_text())["test_accuracy"]
    assert np.isfinite(accuracy) and accuracy > 0.6
