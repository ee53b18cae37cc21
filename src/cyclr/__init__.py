"""cyclr: cyclical learning rates and the learning-rate range test.

The core (this package's top level) imports no deep-learning framework; the
adapters ``cyclr.keras``, ``cyclr.torch`` and ``cyclr.jax`` evaluate the
same schedules on their tensors.

>>> import cyclr
>>> s = cyclr.CyclicSchedule(1e-4, 1e-2, step_size=4800)
>>> s(0), s(4800)
(0.0001, 0.01)
"""

import importlib
import warnings
from typing import Any

from cyclr._base import Schedule, deserialize, serialize
from cyclr.compose import Constant, Linear, join
from cyclr.cyclic import CyclicSchedule
from cyclr.onecycle import OneCycle
from cyclr.planning import check, step_size_for, steps_per_epoch
from cyclr.rangetest import RangeTestResult, RangeTestSettings, suggest_bounds
from cyclr.warmup import WarmupConstant, WarmupCosine, WarmupLinear, WarmupStableDecay

__version__ = "0.2.0"

__all__ = [
    "Constant",
    "CyclicSchedule",
    "Linear",
    "OneCycle",
    "RangeTestResult",
    "RangeTestSettings",
    "Schedule",
    "WarmupConstant",
    "WarmupCosine",
    "WarmupLinear",
    "WarmupStableDecay",
    "check",
    "deserialize",
    "join",
    "serialize",
    "step_size_for",
    "steps_per_epoch",
    "suggest_bounds",
]

#: Names the top level exported before 0.2, and the module each lives in now.
_MOVED = {
    "Ops": "cyclr.ops",
    "NUMPY": "cyclr.ops",
    "PYTHON": "cyclr.ops",
    "waveform": "cyclr.cyclic",
    "Join": "cyclr.compose",
    "Finding": "cyclr.planning",
    "RangeTest": "cyclr.rangetest",
    "lr_ladder": "cyclr.rangetest",
    "smooth_losses": "cyclr.rangetest",
    "Suggestion": "cyclr.rangetest",
    "BoundsSuggestion": "cyclr.rangetest",
    "steepest": "cyclr.rangetest",
    "valley": "cyclr.rangetest",
    "minimum": "cyclr.rangetest",
    "bounds_suggestion": "cyclr.rangetest",
    "recommend": "cyclr.rangetest",
}


def __getattr__(name: str) -> Any:
    """Serve a moved name for one more release, with a warning that says where it lives."""
    if name not in _MOVED:
        raise AttributeError(f"module 'cyclr' has no attribute {name!r}")
    home = _MOVED[name]
    hint = {
        "Join": "; or build one with cyclr.join(...)",
        "bounds_suggestion": "; or use cyclr.suggest_bounds",
        "recommend": "; or use cyclr.suggest_bounds / RangeTestResult.bounds()",
    }.get(name, "")
    warnings.warn(
        f"cyclr.{name} is deprecated at the top level and will be removed in the next "
        f"release; import it from {home}{hint}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(home), name)
