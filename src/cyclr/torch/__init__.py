"""cyclr for PyTorch: the same schedules as an ``LRScheduler``, and the range test.

- :class:`CyclicLR`: any cyclr schedule (or PyTorch's ``CyclicLR`` keywords)
  driving an optimizer's learning rates and momentum.
- :func:`range_test`: the learning-rate range test; leaves the model and the
  optimizer exactly as it found them.
- :mod:`cyclr.torch.distributed`: rank helpers for ``torchrun``.
- :data:`TORCH_OPS`: the core's array operations on torch tensors.
"""

from cyclr._extras import require

require("cyclr.torch", "torch")  # one clear line, not a traceback from deep inside

from cyclr.rangetest import RangeTestResult
from cyclr.torch import distributed
from cyclr.torch._ops import TORCH_OPS
from cyclr.torch.rangetest import range_test
from cyclr.torch.scheduler import CyclicLR

__all__ = ["TORCH_OPS", "CyclicLR", "RangeTestResult", "distributed", "range_test"]
