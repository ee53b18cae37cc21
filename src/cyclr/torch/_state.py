"""What a ``cyclr.torch.CyclicLR`` checkpoint keeps of its schedules: plain data, no code.

Every entry of ``state_dict()['schedules']`` is ``cyclr.serialize`` of a schedule, which
``torch.load(..., weights_only=True)`` reads; a custom ``scale_fn`` cannot travel that
way, so it is described (the same on every run) and checked on load.
"""

from __future__ import annotations

import functools
import numbers
import types
from collections.abc import Callable
from typing import Any

from cyclr._base import Schedule, deserialize, serialize
from cyclr.cyclic import CyclicSchedule


def _plain(value: Any) -> Any:
    """``value`` as plain data a weights-only load reads (NumPy numbers as Python's), or None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        listed = [_plain(v) for v in value]
        lost = any(p is None and v is not None for p, v in zip(listed, value, strict=True))
        return None if lost else type(value)(listed)
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        mapped = {k: _plain(v) for k, v in value.items()}
        return None if any(mapped[k] is None and value[k] is not None for k in value) else mapped
    return None


def describe_scale_fn(fn: Callable[..., Any]) -> str | dict[str, Any]:
    """What a checkpoint keeps of a custom ``scale_fn``: the same on every run, no code.

    A function (or method) is kept by its qualified name; a callable object by its
    class's qualified name and its ``__dict__`` when that is plain data (as
    PyTorch's ``CyclicLR`` saves it), ``None`` when it is not; a
    ``functools.partial`` by its function and arguments.

    Args:
      fn: the ``scale_fn``.

    Returns:
      A string or a dict of plain data that ``torch.load(..., weights_only=True)`` reads.
    """
    if isinstance(fn, functools.partial):
        return {
            "partial": describe_scale_fn(fn.func),
            "args": _plain(list(fn.args)),
            "keywords": _plain(dict(fn.keywords)),
        }
    if isinstance(fn, (types.FunctionType, types.MethodType, types.BuiltinFunctionType)):
        return f"{fn.__module__}.{fn.__qualname__}"
    kind = type(fn)
    return {
        "class": f"{kind.__module__}.{kind.__qualname__}",
        "state": _plain(dict(vars(fn))) if hasattr(fn, "__dict__") else None,
    }


def schedule_entry(schedule: Schedule) -> dict[str, Any]:
    """``serialize(schedule)``; a custom ``scale_fn`` is described, not saved (no code)."""
    if isinstance(schedule, CyclicSchedule) and schedule.scale_fn is not None:
        config = Schedule.to_config(schedule)
        del config["scale_fn"]
        return {
            "class_name": type(schedule).__name__,
            "config": config,
            "scale_fn": describe_scale_fn(schedule.scale_fn),
        }
    return serialize(schedule)


def restore_schedule(entry: dict[str, Any], current: Schedule, group: int) -> Schedule:
    if "scale_fn" not in entry:
        return deserialize(entry)
    # The scale_fn cannot travel in a weights-only checkpoint; the scheduler being
    # loaded into must have been built with an equal one.
    mine = current.scale_fn if isinstance(current, CyclicSchedule) else None
    if mine is None or describe_scale_fn(mine) != entry["scale_fn"]:
        raise ValueError(
            f"the saved schedule of parameter group {group} has a custom scale_fn "
            f"({entry['scale_fn']!r}) that is not saved with it; build the scheduler with an "
            f"equal one before loading; received a scheduler whose schedule is {current!r}"
        )
    if entry.get("config") is None:  # saved by cyclr 0.1, which kept only the name
        return current
    return CyclicSchedule(**entry["config"], scale_fn=mine)
