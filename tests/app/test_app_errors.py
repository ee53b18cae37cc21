"""Bad input to the training commands: exit 2, one line on stderr, nothing overwritten."""

import sys

import numpy as np
import pytest
from cli_helpers import one_line_error


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "--dataset", "imagenet"], "'imagenet'"),
        (["find", "--model", "resnet"], "'resnet'"),
        (["compare", "--policies", "fixed,adamw+linear"], "--policies='fixed,adamw+linear'"),
        (["compare", "--policies", "triangular"], "--target"),
        (["train", "--base-lr", "0.1"], "--max-lr=None"),
        (["train", "--base-lr", "0.5", "--max-lr", "0.1"], "--base-lr=0.5"),
        (["train", "--epochs", "0"], "'0'"),
        (["find", "--start-lr", "1", "--end-lr", "0.1"], "--end-lr=0.1"),
        (["train", "--data", "missing.npz"], "missing.npz"),
        (["find", "--model", "cnn1d"], "--model cnn1d needs sequences"),
        (["train", "--dataset", "mnist1d", "--model", "seed_cnn"], "--model seed_cnn needs images"),
        (["train", "--policy", "exp_range", "--gamma", "2"], "--gamma=2.0"),
        (["train", "--gamma", "0.5"], "--gamma does not apply to --policy triangular"),
        (["train", "--policy", "adam", "--base-lr", "0.1", "--max-lr", "1"], "--base-lr, --max-lr"),
        (["train", "--base-momentum", "0.8"], "need --cycle-momentum"),
        (["train", "--policy", "fixed", "--mode", "triangular2"], "--mode does not apply"),
        (["train", "--policy", "onecycle", "--cycle-momentum"], "--cycle-momentum does not apply"),
        (["train", "--policy", "adam", "--optimizer", "sgd"], "--optimizer=sgd"),
        (
            ["train", "--cycle-momentum", "--base-momentum", "0.99", "--max-momentum", "0.9"],
            "--base-momentum=0.99",
        ),
        (["compare", "--optimizer", "adam"], "--optimizer=adam"),
        (["train", "--device", "gpu"], "--device='gpu'"),
        (["find", "--device", "cuda:99"], "--device='cuda:99'"),
        (["train", "--device", "cpu", "--amp", "fp16"], "--amp='fp16' needs a CUDA device"),
        (["compare", "--amp", "fp16", "--device", "cpu"], "--amp='fp16' needs a CUDA device"),
    ],
)
def test_bad_options(cyclr_cli, args, needle, tmp_path):
    """Each is refused before anything runs: no run folder is made."""
    one_line_error(cyclr_cli(*args, "--framework", "torch", "--out", tmp_path / "o"), needle)
    assert not (tmp_path / "o").exists()


def test_an_existing_out_is_never_overwritten(cyclr_cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    one_line_error(cyclr_cli("train", "--framework", "torch", "--out", out), "--overwrite")
    assert (out / "mine.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1


def test_a_download_while_offline_names_data(cyclr_cli, tmp_path):
    proc = cyclr_cli("train", "--framework", "torch", "--dataset", "mnist", "--out", tmp_path / "o")
    # The sandbox has no network; with a cached copy this would train instead.
    if proc.returncode == 0:
        pytest.skip("mnist was downloadable here")
    one_line_error(proc, "--data")


@pytest.mark.parametrize(
    "arrays, needle",
    [
        (
            dict(x_train=np.zeros((4, 8, 8)), y_train=np.zeros(4, int)),
            "missing key(s) x_test, y_test",
        ),
        (
            dict(
                x_train=np.zeros((4, 8, 8)),
                y_train=np.array([0, 1, 0, 1]),
                x_test=np.zeros((2, 8, 9)),
                y_test=np.array([0, 1]),
            ),
            "x_test samples are (8, 9)",
        ),
        (
            dict(
                x_train=np.zeros((4, 8, 8)),
                y_train=np.array([0, 1, 0]),
                x_test=np.zeros((2, 8, 8)),
                y_test=np.array([0, 1]),
            ),
            "3 labels for 4 samples",
        ),
        (
            dict(
                x_train=np.zeros((4, 8, 8)),
                y_train=np.array([0, 1, 0, 1]),
                x_test=np.zeros((2, 8, 8)),
                y_test=np.array([0, 7]),
            ),
            "y_test holds label 7",
        ),
        (
            dict(
                x_train=np.zeros((4, 8, 8)),
                y_train=np.array([0, -1, 0, 1]),
                x_test=np.zeros((2, 8, 8)),
                y_test=np.array([0, 1]),
            ),
            "negative label",
        ),
        (
            dict(
                x_train=np.zeros((4, 8, 8), dtype=np.int32),
                y_train=np.array([0, 1, 0, 1]),
                x_test=np.zeros((2, 8, 8), dtype=np.int32),
                y_test=np.array([0, 1]),
            ),
            "dtype int32",
        ),
        (
            dict(
                x_train=np.zeros((4, 8, 8)),
                y_train=np.array([0.5, 1, 0, 1]),
                x_test=np.zeros((2, 8, 8)),
                y_test=np.array([0, 1]),
            ),
            "integer class indices",
        ),
        (
            dict(
                x_train=np.zeros((4, 8, 8, 2)),
                y_train=np.array([0, 1, 0, 1]),
                x_test=np.zeros((2, 8, 8, 2)),
                y_test=np.array([0, 1]),
            ),
            "1, 3 or 4 channels",
        ),
    ],
)
def test_bad_npz(cyclr_cli, tmp_path, arrays, needle):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    one_line_error(
        cyclr_cli("train", "--framework", "torch", "--data", path, "--out", tmp_path / "o"), needle
    )


def test_pickled_npz_is_refused(cyclr_cli, tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(
        path,
        x_train=np.array([object()] * 4),
        y_train=np.zeros(4, int),
        x_test=np.zeros((2, 8, 8)),
        y_test=np.zeros(2, int),
    )
    one_line_error(
        cyclr_cli("find", "--framework", "torch", "--data", path, "--out", tmp_path / "o"), "pickle"
    )


def test_not_a_zip(cyclr_cli, tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip file")
    one_line_error(
        cyclr_cli("find", "--framework", "torch", "--data", path, "--out", tmp_path / "o"),
        "junk.npz",
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["train", "--device", "cpu"], "--device does not apply to --framework keras"),
        (["compare", "--amp", "bf16"], "--amp does not apply to --framework keras"),
        (["find", "--device", "cpu"], "--device does not apply to --framework keras"),
    ],
)
def test_pytorch_options_with_keras_are_refused(cyclr_cli, args, needle, tmp_path):
    one_line_error(cyclr_cli(*args, "--framework", "keras", "--out", tmp_path / "o"), needle)
    assert not (tmp_path / "o").exists()


def test_find_trains_nothing_so_it_takes_no_amp(cyclr_cli, tmp_path):
    proc = cyclr_cli("find", "--framework", "torch", "--amp", "bf16", "--out", tmp_path / "o")
    assert proc.returncode == 2 and "unrecognized arguments: --amp bf16" in proc.stderr


def test_a_downloaded_dataset_without_keras_names_what_to_install(monkeypatch):
    """A PyTorch user's machine may lack Keras, through which mnist and cifar10 download."""
    from cyclr._extras import MissingExtra
    from cyclr.app.downloads import load_download

    monkeypatch.setitem(sys.modules, "keras", None)  # import keras fails, as if absent
    monkeypatch.setattr("cyclr._extras._absent", lambda name: name == "keras")
    with pytest.raises(MissingExtra, match=r"dataset='mnist' .*pip install \"cyclr\[keras\]\""):
        load_download("mnist")


def test_only_the_commands_own_parameters_are_spelled_as_options():
    from cyclr.cli import command_options
    from cyclr.cli.errors import as_options

    options = command_options("train")
    assert options["device"] == "--device" and options["range_test"] == "--range-test"
    message = "amp='fp16' needs a CUDA device; received amp='fp16' with device='cpu'"
    assert as_options(message, options) == (
        "--amp='fp16' needs a CUDA device; received --amp='fp16' with --device='cpu'"
    )
    # a user's own message passed through (a factory's error) keeps its words
    assert as_options("timestamp=3, subdevice=2, --device=x", options) == (
        "timestamp=3, subdevice=2, --device=x"
    )
    # a name with an underscore wherever it stands as a word, a one-word name only as
    # the message's subject or given a value; never inside a path or a file's name
    assert as_options(
        "epochs must be >= 1; received epochs=0 for the data in runs/base_lr "
        "(widen start_lr, end_lr; range_test.json stays)",
        options,
    ) == (
        "--epochs must be >= 1; received --epochs=0 for the data in runs/base_lr "
        "(widen --start-lr, --end-lr; range_test.json stays)"
    )
    # the core's schedule parameters are options of preview, not of train
    assert as_options("step_size=0", options) == "step_size=0"
    assert as_options("step_size=0", command_options("preview")) == "--step-size=0"


def test_an_app_error_names_the_parameter_and_the_command_its_option(cyclr_cli, tmp_path):
    from cyclr.app.files import prepare_out

    out = tmp_path / "full"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"^out='.*full' already exists .*overwrite=False"):
        prepare_out(out, overwrite=False)
    one_line_error(
        cyclr_cli("find", "--framework", "torch", "--out", out),
        f"--out={str(out)!r} already exists and is not empty; received --overwrite=False",
    )
