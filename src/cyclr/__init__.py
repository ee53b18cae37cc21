"""cyclr: cyclical learning rates and the learning-rate range test.

The core (this package's top level) imports no deep-learning framework; the
adapters ``cyclr.keras``, ``cyclr.torch`` and ``cyclr.jax`` evaluate the
same schedules on their tensors.

>>> import cyclr
>>> s = cyclr.CyclicSchedule(1e-4, 1e-2, step_size=4800)
>>> s(0), s(4800)
(0.0001, 0.01)
"""
from cyclr._base import Schedule, deserialize, serialize
from cyclr._ops import NUMPY, PYTHON, Ops
from cyclr.compose import Constant, Join, Linear, join
from cyclr.cyclic import CyclicSchedule, waveform
from cyclr.onecycle import OneCycle
from cyclr.planning import Finding, check, step_size_for, steps_per_epoch
from cyclr.rangetest import (BoundsSuggestion, RangeTest, RangeTestResult, Suggestion,
                             bounds_suggestion, lr_ladder, minimum, recommend, smooth_losses,
                             steepest, suggest_bounds, valley)

__version__ = "0.1.0"

__all__ = [
    "BoundsSuggestion", "Constant", "CyclicSchedule", "Finding", "Join", "Linear", "NUMPY",
    "OneCycle", "Ops", "PYTHON", "RangeTest", "RangeTestResult", "Schedule", "Suggestion",
    "bounds_suggestion", "check", "deserialize", "join", "lr_ladder", "minimum", "recommend",
    "serialize", "smooth_losses", "steepest", "step_size_for", "steps_per_epoch",
    "suggest_bounds", "valley", "waveform",
]
