"""cyclr for the Hugging Face ``Trainer``: the range test through the Trainer's own step.

- :func:`range_test`: cyclr's range test on a ``transformers.Trainer``'s model,
  optimizer, train dataloader (its data collator), loss and precision; restores
  the model and the optimizer exactly.
- :func:`set_learning_rate`: the test's reading as ``trainer.args.learning_rate``, for
  the Trainer's own ``lr_scheduler_type`` (``cosine``, ``linear``,
  ``warmup_stable_decay``, ``constant_with_warmup``, ``constant``).

A cyclr schedule drives the Trainer as a plain :class:`cyclr.torch.CyclicLR`,
given in ``Trainer(optimizers=(optimizer, scheduler))`` or set as
``trainer.lr_scheduler`` before ``trainer.train()``: the Trainer steps its
scheduler once per optimizer update, so the cycle counts updates, not the
micro-batches of ``gradient_accumulation_steps``. The schedule of a policy, read
for the run, is ``result.schedule(policy, total_steps)`` (``total_steps`` counting
optimizer updates).
"""

from cyclr._extras import require

require("cyclr.hf", "hf")  # one clear line, not a traceback from deep inside

from cyclr.hf.learning_rate import set_learning_rate
from cyclr.hf.rangetest import range_test

__all__ = ["range_test", "set_learning_rate"]
