"""cyclr: cyclical learning rates and the learning-rate range test.

The core (this package's top level) imports no deep-learning framework; the
adapters ``cyclr.keras``, ``cyclr.torch`` and ``cyclr.jax`` evaluate the
same schedules on their tensors, and the integrations ``cyclr.lightning``
(PyTorch Lightning) and ``cyclr.hf`` (the Hugging Face ``Trainer``) reach
them through ``cyclr.torch``.

>>> import cyclr
>>> s = cyclr.CyclicSchedule(1e-4, 1e-2, step_size=4800)
>>> s(0), s(4800)
(0.0001, 0.01)
"""

from cyclr._base import Schedule, deserialize, register, serialize
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
    "register",
    "serialize",
    "step_size_for",
    "steps_per_epoch",
    "suggest_bounds",
]
