"""The learning-rate range test, framework-free (numpy only): ladder, smoothing, recorder,
the result and its readings. Framework adapters drive ``RangeTest`` one batch at a time.

>>> test = RangeTest(1e-3, 1.0, num_steps=4, beta=0.0)
>>> while test.record(1.0 / test.next_lr):   # a loss that falls as lr grows
...     pass
>>> test.stop_reason
'end_of_ladder'
"""
from cyclr.rangetest.ladder import STEP_MODES, lr_ladder, smooth_losses
from cyclr.rangetest.recommend import recommend
from cyclr.rangetest.recorder import RangeTest
from cyclr.rangetest.result import (MONITORS, STOP_REASONS, RangeTestResult,
                                    RangeTestSettings)
from cyclr.rangetest.suggestions import (MIN_POINTS, SINGLE_SUGGESTIONS, BoundsSuggestion,
                                         Suggestion, bounds_suggestion, minimum, robust_smooth,
                                         steepest, suggest_bounds, valley)

__all__ = [
    "STEP_MODES", "STOP_REASONS", "MONITORS", "MIN_POINTS", "SINGLE_SUGGESTIONS",
    "lr_ladder", "smooth_losses", "RangeTest", "RangeTestResult", "RangeTestSettings",
    "Suggestion", "BoundsSuggestion", "bounds_suggestion", "suggest_bounds",
    "steepest", "valley", "minimum", "robust_smooth", "recommend",
]
