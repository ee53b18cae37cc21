"""``cyclr.torch.range_test``'s argument checks: each refusal names the value received.

The checks run in a fixed order, so that of several bad arguments the same one is
always named first.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import torch

from cyclr._base import check_count
from cyclr.rangetest.settings import RangeTestSettings, checked_settings, resolve_monitor

#: ``amp=`` by name; ``amp=True`` is bfloat16 (no loss scaling needed)
AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


def check_arguments(
    model: Any,
    optimizer: Any,
    criterion: Any,
    settings: Any,
    val_loader: Any,
    val_step_fn: Any,
    val_accuracy: bool,
    batch_fn: Any,
    step_fn: Any,
    accumulation_steps: Any,
    amp: Any,
    grad_scaler: Any,
    max_grad_norm: Any,
) -> tuple[RangeTestSettings, int, torch.dtype | None]:
    """``range_test``'s argument checks; ``(settings, accumulation_steps, amp dtype)``.

    The settings come back with their ``monitor`` chosen (``resolve_monitor``).
    """
    _check_callables(model, optimizer, criterion, batch_fn, step_fn)
    settings = checked_settings(settings)
    accumulation_steps = check_count("accumulation_steps", accumulation_steps)
    amp_dtype = amp_to_dtype(amp)
    _check_scaling(grad_scaler, max_grad_norm)
    if step_fn is not None:
        engine_owned = {
            "accumulation_steps": accumulation_steps if accumulation_steps != 1 else None,
            "amp": amp if amp_dtype is not None else None,
            "grad_scaler": grad_scaler,
            "max_grad_norm": max_grad_norm,
            "batch_fn": batch_fn,
        }
        _check_step_fn(step_fn, criterion, engine_owned)
    elif criterion is None and batch_fn is not None:
        raise ValueError(
            "batch_fn makes the (inputs, targets) a criterion reads; with criterion=None the "
            f"batch goes to the model as it is; received batch_fn={batch_fn!r}"
        )
    settings = _check_validation(criterion, settings, val_loader, val_step_fn, val_accuracy)
    return settings, accumulation_steps, amp_dtype


def check_state_keeping(cpu_offload: Any, checkpoint_dir: str | os.PathLike[str] | None) -> None:
    """Where the starting state is kept: ``cpu_offload`` a bool, not with ``checkpoint_dir``."""
    if not isinstance(cpu_offload, bool):
        raise ValueError(f"cpu_offload must be True or False; received cpu_offload={cpu_offload!r}")
    if cpu_offload and checkpoint_dir is not None:
        raise ValueError(
            "give cpu_offload=True or checkpoint_dir, not both (the state goes to CPU memory "
            f"or to a file); received cpu_offload=True and checkpoint_dir={checkpoint_dir!r}"
        )


def check_optimizer(optimizer: Any, steps: bool) -> None:
    """An optimizer, or an engine's wrapper of one: ``param_groups`` and its state."""
    kind = f"{type(optimizer).__module__}.{type(optimizer).__qualname__}"
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, Sequence) or not groups:
        raise TypeError(
            "optimizer must be a torch.optim.Optimizer or an object with param_groups "
            f"(as accelerate's AcceleratedOptimizer); received optimizer of type {kind} "
            "without param_groups"
        )
    needed = ["state_dict", "load_state_dict"] + (["step", "zero_grad"] if steps else [])
    missing = [name for name in needed if not callable(getattr(optimizer, name, None))]
    if missing:
        raise TypeError(
            f"optimizer needs {', '.join(m + '()' for m in missing)} (the test restores its "
            f"state{' and steps it' if steps else ''}); received optimizer of type {kind}"
        )


def amp_to_dtype(amp: Any) -> torch.dtype | None:
    """The autocast dtype ``amp=`` names; ``None`` for float32 (``amp=False``)."""
    if isinstance(amp, str) and amp in AMP_DTYPES:
        return AMP_DTYPES[amp]
    if not isinstance(amp, str) and amp in (True, False):
        return torch.bfloat16 if amp else None
    raise ValueError(
        f"amp must be False, True (bfloat16), 'bfloat16' or 'float16'; received amp={amp!r}"
    )


def _check_callables(
    model: Any, optimizer: Any, criterion: Any, batch_fn: Any, step_fn: Any
) -> None:
    """The model, the optimizer (stepped by the test unless ``step_fn``) and the callables."""
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; received model={model!r}")
    if step_fn is not None and not callable(step_fn):
        raise ValueError(f"step_fn must be callable; received step_fn={step_fn!r}")
    check_optimizer(optimizer, steps=step_fn is None)
    if criterion is not None and not callable(criterion):
        raise ValueError(f"criterion must be callable or None; received criterion={criterion!r}")
    if batch_fn is not None and not callable(batch_fn):
        raise ValueError(f"batch_fn must be callable; received batch_fn={batch_fn!r}")


def _check_scaling(grad_scaler: Any, max_grad_norm: Any) -> None:
    """A ``GradScaler`` or ``None``; a clipping norm that is positive and finite, or ``None``."""
    if grad_scaler is not None and not isinstance(grad_scaler, torch.amp.GradScaler):
        raise ValueError(
            f"grad_scaler must be a torch.amp.GradScaler; received grad_scaler={grad_scaler!r}"
        )
    if max_grad_norm is not None and (
        isinstance(max_grad_norm, bool)
        or not isinstance(max_grad_norm, numbers.Real)
        or not 0 < float(max_grad_norm) < math.inf
    ):
        raise ValueError(
            "max_grad_norm must be a positive number or None; "
            f"received max_grad_norm={max_grad_norm!r}"
        )


def _check_step_fn(step_fn: Any, criterion: Any, engine_owned: dict[str, Any]) -> None:
    """With ``step_fn``, no criterion, and none of the ``engine_owned`` settings given."""
    if criterion is not None:
        raise ValueError(
            "give step_fn or criterion, not both: step_fn computes the loss itself; "
            f"received criterion={criterion!r} and step_fn={step_fn!r}"
        )
    given = ", ".join(f"{k}={v!r}" for k, v in engine_owned.items() if v is not None)
    if given:
        raise ValueError(
            "with step_fn, accumulation, mixed precision, loss scaling, clipping and "
            "unpacking the batch are the engine's (step_fn does the whole step): "
            f"received step_fn with {given}"
        )


def _check_validation(
    criterion: Any,
    settings: RangeTestSettings,
    val_loader: Any,
    val_step_fn: Any,
    val_accuracy: bool,
) -> RangeTestSettings:
    """A callable ``val_step_fn``; a ``val_loader`` when validating; targets to score.

    Returns ``settings`` with the monitor chosen.
    """
    if val_step_fn is not None and not callable(val_step_fn):
        raise ValueError(
            f"val_step_fn must be callable or None; received val_step_fn={val_step_fn!r}"
        )
    settings = resolve_monitor(settings, has_validation=val_loader is not None)
    if val_loader is None and (val_accuracy or val_step_fn is not None):
        raise ValueError(
            "validation needs a val_loader; received val_loader=None with "
            f"val_accuracy={val_accuracy!r}, val_step_fn={val_step_fn!r}"
        )
    scores_accuracy = val_accuracy or settings.monitor == "val_accuracy"
    if val_step_fn is None and criterion is None and scores_accuracy:
        raise ValueError(
            "val_accuracy reads the criterion's (outputs, targets); the model's own loss "
            "gives no targets to score; received criterion=None with "
            f"val_accuracy={val_accuracy!r}, monitor={settings.monitor!r}"
        )
    return settings
