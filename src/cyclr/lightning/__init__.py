"""cyclr for PyTorch Lightning: the range test at fit start, cyclr schedules per optimizer step.

- :class:`RangeTestCallback`: runs cyclr's range test through the module's own
  ``training_step`` when ``fit`` starts, restores everything, and hands the
  suggested ``(base_lr, max_lr)`` to ``configure_optimizers`` (``hparams``), or with
  ``policy=`` that policy's schedule for the Trainer's planned run.
- :func:`scheduler_config`: the ``lr_scheduler`` entry ``configure_optimizers``
  returns for any cyclr schedule, stepped once per optimizer step.
"""

from cyclr._extras import require

require("cyclr.lightning", "lightning")  # one clear line, not a traceback from deep inside

from cyclr.lightning.callback import RangeTestCallback
from cyclr.lightning.scheduler import scheduler_config

__all__ = ["RangeTestCallback", "scheduler_config"]
