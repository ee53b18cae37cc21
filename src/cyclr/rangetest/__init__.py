"""The learning-rate range test, framework-free (numpy only).

The ladder, smoothing, recorder, the result and its readings. Framework adapters
drive ``RangeTest`` one batch at a time.

>>> test = RangeTest(RangeTestSettings(1e-3, 1.0, num_steps=4, beta=0.0))
>>> while test.record(1.0 / test.next_lr):   # a loss that falls as lr grows
...     pass
>>> test.stop_reason
'end_of_ladder'
"""

from cyclr.rangetest.bounds import (
    BoundsSettings,
    BoundsSuggestion,
    bounds_curve,
    robust_smooth,
    suggest_bounds,
)
from cyclr.rangetest.ladder import STEP_MODES, lr_ladder, smooth_losses
from cyclr.rangetest.recorder import RangeTest
from cyclr.rangetest.result import STOP_REASONS, RangeTestResult
from cyclr.rangetest.settings import MONITORS, RangeTestSettings
from cyclr.rangetest.suggestions import (
    MIN_POINTS,
    SINGLE_SUGGESTIONS,
    Suggestion,
    minimum,
    steepest,
    valley,
)

__all__ = [
    "MIN_POINTS",
    "MONITORS",
    "SINGLE_SUGGESTIONS",
    "STEP_MODES",
    "STOP_REASONS",
    "BoundsSettings",
    "BoundsSuggestion",
    "RangeTest",
    "RangeTestResult",
    "RangeTestSettings",
    "Suggestion",
    "bounds_curve",
    "lr_ladder",
    "minimum",
    "robust_smooth",
    "smooth_losses",
    "steepest",
    "suggest_bounds",
    "valley",
]
