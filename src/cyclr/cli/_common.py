"""Options every training command takes, and turning their errors into one line."""

from __future__ import annotations

import argparse
import os

from cyclr.cli._range_test import add_range_test_options
from cyclr.cli._types import positive_int
from cyclr.cli.errors import UsageError

FRAMEWORKS = ("keras", "torch")
OPTIMIZERS = ("sgd", "adam")
#: ``--loss`` choices (see :mod:`cyclr.app.usermodel`).
LOSSES = ("crossentropy", "mse", "mae")
#: ``--amp`` choices (:class:`cyclr.app.torch_runner.TorchRunner`'s ``amp``).
AMP = ("bf16", "fp16")


def given(args, names) -> list[str]:
    """The options among ``names`` the user gave (not left at None), spelled as options."""
    return [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is not None]


def do_not_apply(options: list[str]) -> str:
    """``"--a, --b do not apply"`` (or ``does`` for one)."""
    return f"{', '.join(options)} {'does' if len(options) == 1 else 'do'} not apply"


def add_common(
    p: argparse.ArgumentParser, *, default_out: str, epochs: int | None = None, trains: bool = True
) -> None:
    """The options of ``find``, ``train`` and ``compare``.

    ``--dataset/--data --framework --model --optimizer --epochs --batch-size --seed --out
    --device``, and ``--amp`` for a command that ``trains`` (not ``find``).
    """
    _add_data(p)
    _add_training(p, default_out, epochs, trains)
    add_range_test_options(p)


def _add_data(p: argparse.ArgumentParser) -> None:
    from cyclr.app.data import DATASET_NAMES

    data = p.add_argument_group("data and model")
    data.add_argument(
        "--dataset",
        default="digits",
        choices=DATASET_NAMES,
        help="a dataset by name (default: digits, offline)",
    )
    data.add_argument(
        "--data",
        metavar="PATH",
        help="your own data, overrides --dataset: FILE.npz in the layout of Keras's mnist.npz "
        "(x_train, y_train, x_test, y_test); a FOLDER of images, one subfolder per class; or "
        "FILE.csv of numeric features with a --label column (folders and CSVs: a fixed 20%% "
        "test split)",
    )
    data.add_argument("--label", metavar="COLUMN", help="the label column of a CSV --data")
    data.add_argument(
        "--image-size",
        nargs=2,
        type=positive_int,
        metavar=("HEIGHT", "WIDTH"),
        help="resize a folder's images (default: all images must have one size)",
    )
    data.add_argument(
        "--validation-split",
        type=float,
        default=0.2,
        help="the last fraction of the training data used for validation (0.2)",
    )
    data.add_argument(
        "--framework",
        choices=FRAMEWORKS,
        default="keras",
        help="keras (backend from KERAS_BACKEND) or torch (default: keras)",
    )
    data.add_argument(
        "--model",
        default="auto",
        metavar="MODEL",
        help="seed_cnn (the seed's CNN), cnn1d (MNIST-1D's), mlp, auto (seed_cnn for images, "
        "cnn1d for sequences); your own: a saved Keras model FILE.keras, or a factory "
        "FILE.py:FUNCTION or package.module:FUNCTION called as FUNCTION(input_shape, "
        "num_classes) that returns a torch.nn.Module (logits) or a Keras model",
    )
    data.add_argument(
        "--loss",
        choices=LOSSES,
        help="crossentropy (classification, the default; a saved Keras model's own loss if "
        "it has one), mse or mae (regression on a CSV; reports the mean absolute error)",
    )


def _add_training(
    p: argparse.ArgumentParser, default_out: str, epochs: int | None, trains: bool
) -> None:
    train = p.add_argument_group("training")
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="default sgd")
    train.add_argument(
        "--epochs",
        type=positive_int,
        default=epochs,
        help="training epochs" + ("" if epochs is None else f" (default {epochs})"),
    )
    train.add_argument("--batch-size", type=positive_int, default=32)
    train.add_argument("--seed", type=int, default=0, help="makes runs reproducible")
    train.add_argument(
        "--device",
        metavar="DEVICE",
        help="PyTorch's device with --framework torch: cpu, cuda, cuda:N, mps (default: "
        "cuda when PyTorch sees a GPU, else cpu); Keras places its work itself",
    )
    if trains:
        train.add_argument(
            "--amp",
            choices=AMP,
            help="mixed precision for --framework torch's training: bf16 (CPU or GPU) or "
            "fp16 (GPU, with a gradient scaler); the weights, range tests and evaluation "
            "stay float32 (default: float32 throughout)",
        )
    train.add_argument("--out", default=default_out, help=f"run folder (default {default_out})")
    train.add_argument(
        "--overwrite", action="store_true", help="write into an existing, non-empty --out"
    )
    train.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars and no per-epoch lines (for scripts); errors still print",
    )


def resolve_model(args, data) -> str:
    """``--model`` with ``auto`` resolved; a UsageError for a value that names no model."""
    from cyclr.app.usermodel import model_kind

    try:
        model_kind(args.model)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.model != "auto":
        return args.model
    return "cnn1d" if data.is_sequence else "seed_cnn"


def check_torch_options(args) -> None:
    """``--device`` and ``--amp`` are PyTorch's: a UsageError with ``--framework keras``."""
    extra = given(args, [n for n in ("device", "amp") if hasattr(args, n)])
    if extra and args.framework != "torch":
        raise UsageError(
            f"{do_not_apply(extra)} to --framework {args.framework} (PyTorch's options; "
            "Keras places its work itself)"
        )


def check_device(args) -> None:
    """A ``--device`` this machine does not have, as a UsageError before the data loads."""
    if args.framework == "torch" and args.device is not None:
        from cyclr.app.torch_setup import resolve_device

        try:
            resolve_device(args.device)
        except ValueError as exc:
            raise UsageError(str(exc)) from None


def device_record(runner) -> dict:
    """``{"device": "cuda"}`` for a PyTorch runner (where it ran), ``{}`` for Keras."""
    device = getattr(runner, "device", None)
    return {} if device is None else {"device": str(device)}


def load_data_or_fail(args):
    """The run's data, or a one-line UsageError naming what was wrong."""
    from cyclr.app.data import load_data
    from cyclr.app.downloads import DownloadError
    from cyclr.app.usermodel import task_of

    if args.framework == "torch":
        # keras.datasets downloads with any backend: a PyTorch run need not start TensorFlow.
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        return load_data(
            args.dataset,
            args.data,
            args.validation_split,
            label=getattr(args, "label", None),
            image_size=None if args.image_size is None else tuple(args.image_size),
            task=task_of(getattr(args, "loss", None)),
        )
    except (ValueError, DownloadError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None


def check_model(model: str, data) -> str:
    """``model`` if it can take the data's inputs, else a one-line UsageError.

    Built-in models are checked by shape here; a user's model when it is built
    (:func:`build_runner`).
    """
    rank = len(data.input_shape)
    if (model == "cnn1d" and rank != 1) or (model == "seed_cnn" and rank not in (2, 3)):
        needs = "sequences (N, L)" if model == "cnn1d" else "images (N, H, W[, C])"
        raise UsageError(
            f"--model {model} needs {needs}; received inputs of shape "
            f"{data.input_shape} from {data.name}"
        )
    return model


def build_runner(args, data, model: str, say=print):
    """The framework's runner for ``model`` on ``data``; a UsageError if it does not fit.

    Notes on the model (the loss it is compiled with) are said.
    """
    from cyclr.app.session import make_runner

    try:
        runner = make_runner(
            args.framework,
            data,
            model,
            args.batch_size,
            args.seed,
            getattr(args, "loss", None),
            device=args.device,
            amp=getattr(args, "amp", None),
        )
    except ValueError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    for note in runner.notes:
        say(f"note: {note}")
    return runner


def progress(args) -> bool | None:
    """Progress bars: never with ``--quiet``; otherwise on a terminal (None)."""
    return False if args.quiet else None


def say(args):
    """How a command prints a line of progress: nothing with ``--quiet``."""
    if args.quiet:
        return lambda line: None
    from cyclr.app.session import printer

    return printer(progress(args))


def open_run(args, check=None, runner: bool = True, check_runner=None):
    """``(data, out, model, runner)`` of a run, or a one-line UsageError.

    ``check(data, model)`` may raise a UsageError before the folder is made, so that bad
    options never leave files behind; the runner (the model built, checked against the
    data) is made before the folder too, and ``check_runner(data, model, runner)`` may
    raise one then. ``runner=False`` skips it (None).
    """
    from cyclr._extras import require

    check_torch_options(args)
    require(f"cyclr {args.command} --framework {args.framework}", "app", args.framework)
    check_device(args)
    from cyclr.app.files import prepare_out

    data = load_data_or_fail(args)
    model = resolve_model(args, data)
    if model in MODEL_NAMES:
        check_model(model, data)
    if check is not None:
        check(data, model)
    try:
        prepare_out(args.out, args.overwrite, create=False)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not args.quiet:
        print(data.describe())
    built = build_runner(args, data, model, say(args)) if runner else None
    if check_runner is not None:
        check_runner(data, model, built)
    return data, prepare_out(args.out, args.overwrite), model, built


def options_config(args) -> dict:
    """The options a run was given, as its configuration records them.

    An option not given (None) is left out, and the dataset when ``--data`` overrides it.
    """
    config = {k: v for k, v in vars(args).items() if v is not None and k != "command"}
    if args.data is not None:
        del config["dataset"]
    return config


def loss_name(runner) -> str:
    """The loss a runner trains with, as a name for the report."""
    loss = getattr(runner, "loss", None)
    if isinstance(loss, str):
        return loss
    if loss is None:
        return "?"
    from_logits = getattr(loss, "from_logits", None)
    return type(loss).__name__ + ("" if from_logits is None else f"(from_logits={from_logits})")


#: The built-in model names (``auto`` resolved).
MODEL_NAMES = ("seed_cnn", "cnn1d", "mlp")


def keras_backend() -> str:
    return os.environ.get("KERAS_BACKEND", "tensorflow")
