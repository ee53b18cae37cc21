"""A user's own model for ``--model``: a saved Keras model or a factory function.

``--model`` takes one of:

- a built-in name (``seed_cnn``, ``cnn1d``, ``mlp``, ``auto``);
- a saved Keras model, ``path/to/model.keras`` (loaded with ``safe_mode=True``);
- a factory, ``path/to/file.py:function`` or ``package.module:function``: called as
  ``function(input_shape, num_classes)`` (``input_shape`` without the batch axis,
  ``num_classes`` 1 for regression), it returns a ``torch.nn.Module`` (logits) or a
  Keras model.

A factory is the user's own code and runs as such; nothing else that ``cyclr`` reads
executes code.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUILTIN_MODELS = ("auto", "seed_cnn", "cnn1d", "mlp")
#: ``--loss`` names: cross-entropy for classification; the others make the run a regression.
LOSSES = ("crossentropy", "mse", "mae")
REGRESSION_LOSSES = ("mse", "mae")


def model_kind(spec: str) -> str:
    """``'builtin'``, ``'keras_file'`` (a saved ``.keras`` model) or ``'factory'``.

    Raises:
      ValueError: ``spec`` is none of them, naming it.
    """
    if spec in BUILTIN_MODELS:
        return "builtin"
    if spec.lower().endswith(".keras"):
        return "keras_file"
    module, sep, function = spec.rpartition(":")
    if sep and module and function.isidentifier():
        return "factory"
    raise ValueError(
        f"model must be one of {', '.join(BUILTIN_MODELS)}, a saved Keras model "
        f"(FILE.keras) or a factory (FILE.py:FUNCTION or package.module:FUNCTION); "
        f"received model={spec!r}"
    )


def task_of(loss: str | None) -> str:
    """``'regression'`` for a regression loss, else ``'classification'``.

    Raises:
      ValueError: an unknown loss name.
    """
    if loss is None or loss == "crossentropy":
        return "classification"
    if loss in REGRESSION_LOSSES:
        return "regression"
    raise ValueError(f"loss must be one of {', '.join(LOSSES)}; received loss={loss!r}")


def load_factory(spec: str) -> Callable[..., Any]:
    """The function ``spec`` (``FILE.py:NAME`` or ``module:NAME``) names.

    Raises:
      ValueError: a missing file or module, an import that fails, no such function.
    """
    where, _, name = spec.rpartition(":")
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise ValueError(f"model={spec!r}: no such file {where!r}")
        # One module per file, named after its resolved path, so two files never collide.
        digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        module_name = f"_cyclr_user_model_{digest}"
        module = sys.modules.get(module_name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(module_name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ValueError(f"model={spec!r}: {where!r} cannot be imported")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[module_name] = module
            try:
                loader_spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[module_name]
                raise ValueError(
                    f"model={spec!r}: importing {where!r} failed: {type(exc).__name__}: {exc}"
                ) from None
    else:
        try:
            module = importlib.import_module(where)
        except Exception as exc:
            raise ValueError(
                f"model={spec!r}: cannot import module {where!r} ({type(exc).__name__}: {exc})"
            ) from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ValueError(f"model={spec!r}: {where!r} has no function {name!r}")
    return factory


def call_factory(spec: str, input_shape: tuple[int, ...], num_classes: int) -> Any:
    """``factory(input_shape, num_classes)``; an error naming the factory if it raises.

    Raises:
      ValueError: the factory raised.
    """
    factory = load_factory(spec)
    try:
        return factory(tuple(input_shape), int(num_classes))
    except Exception as exc:
        raise ValueError(
            f"model={spec!r}: calling it with input_shape={tuple(input_shape)}, "
            f"num_classes={num_classes} failed: {type(exc).__name__}: {first_line(exc)}"
        ) from None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (framework errors run to pages)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def mismatch(spec: str, data: Any, what: str) -> ValueError:
    """The one-line error for a model that does not fit the data."""
    return ValueError(
        f"model={spec!r} does not fit the data: {what}; the data ({data.name}) has inputs "
        f"{tuple(data.input_shape)} and "
        + (
            "1 regression target"
            if data.task == "regression"
            else f"{data.num_classes} classes (outputs ({data.output_size},))"
        )
    )
