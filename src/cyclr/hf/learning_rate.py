"""``cyclr.hf.set_learning_rate``: the reading for the Trainer's own ``lr_scheduler_type``."""

from __future__ import annotations

from typing import Any

import transformers
from transformers.trainer_utils import SchedulerType

from cyclr.rangetest import BoundsSettings, RangeTestResult
from cyclr.rangetest.policies import peak_lr

#: The Trainer's ``lr_scheduler_type`` -> the policy whose reading is its ``learning_rate``.
POLICY_OF_SCHEDULER_TYPE = {
    "cosine": "cosine",
    "linear": "linear",
    "warmup_stable_decay": "wsd",
    "constant_with_warmup": "constant",
    "constant": "constant",
}


def set_learning_rate(
    trainer: transformers.Trainer,
    result: RangeTestResult,
    *,
    monitor: str | None = None,
    settings: BoundsSettings | None = None,
    optimizer: str | None = None,
    batchnorm: bool | None = None,
) -> float:
    """Set ``trainer.args.learning_rate`` to the reading for the Trainer's own schedule.

    The Trainer's ``lr_scheduler_type`` names the policy (docs/semantics.md, *Readings per
    schedule*): ``cosine`` reads ``'cosine'``, ``linear`` reads ``'linear'``,
    ``warmup_stable_decay`` reads ``'wsd'``, ``constant_with_warmup`` and ``constant``
    read ``'constant'`` (:data:`POLICY_OF_SCHEDULER_TYPE`). The rate is that policy's peak,
    :func:`cyclr.rangetest.policies.peak_lr`, the peak of
    ``result.schedule(policy, total_steps)``: ``max_lr`` times the policy's factor for the
    family of the optimizer the test ran with, and with Adam for a model with BatchNorm
    layers or without, which :func:`cyclr.hf.range_test` records (the Trainer's
    optimizer, AdamW by default); ``train()`` then builds its optimizer and
    its own scheduler from it, with its own warm-up (``warmup_steps``) and
    ``lr_scheduler_kwargs``. Call it after :func:`cyclr.hf.range_test` and before
    ``trainer.train()``::

        result = cyclr.hf.range_test(trainer)
        cyclr.hf.set_learning_rate(trainer, result)   # also returns the rate
        trainer.train()

    Args:
      trainer: a ``transformers.Trainer`` whose optimizer and scheduler ``train()`` will
        build (none built yet, and no ``lr`` in ``optimizer_cls_and_kwargs``).
      result: the :class:`~cyclr.RangeTestResult` to read, from :func:`cyclr.hf.range_test`
        or any other range test of this model.
      monitor: the curve to read (default: the test's ``settings.monitor``).
      settings: the bounds reading's knobs, as in :meth:`cyclr.RangeTestResult.bounds`.
      optimizer: ``'sgd'``, ``'adam'`` or an optimizer's class name, whose family's factor
        the peak takes (default: ``result.optimizer``, the one the test recorded).
      batchnorm: whether the model has BatchNorm layers, read with Adam (default:
        ``result.batchnorm``, what the test recorded).

    Returns:
      The rate set, ``trainer.args.learning_rate``.

    Raises:
      ValueError: a ``lr_scheduler_type`` with no policy (naming it and those supported);
        a Trainer that would not use ``args.learning_rate`` (an optimizer or a scheduler
        already built, or an ``lr`` of its own in ``optimizer_cls_and_kwargs``); no
        optimizer family known (a result that records none, and no ``optimizer``), or
        with Adam no ``batchnorm`` known; a
        curve with no reading for the policy, naming the policy and why.
    """
    if not isinstance(trainer, transformers.Trainer):
        raise ValueError(
            f"trainer must be a transformers.Trainer; received trainer={type(trainer).__name__}"
        )
    if not isinstance(result, RangeTestResult):
        raise ValueError(
            f"result must be a cyclr.RangeTestResult; received result={type(result).__name__}"
        )
    kind = SchedulerType(trainer.args.lr_scheduler_type).value
    if kind not in POLICY_OF_SCHEDULER_TYPE:
        raise ValueError(
            "the range test reads a learning rate for lr_scheduler_type in "
            f"{sorted(POLICY_OF_SCHEDULER_TYPE)}; received "
            f"trainer.args.lr_scheduler_type={kind!r}"
        )
    _check_uses_the_arguments(trainer)
    policy = POLICY_OF_SCHEDULER_TYPE[kind]
    rate = peak_lr(result, policy, monitor, settings, optimizer=optimizer, batchnorm=batchnorm)
    trainer.args.learning_rate = rate
    return rate


def _check_uses_the_arguments(trainer: transformers.Trainer) -> None:
    """Refuse a Trainer whose ``train()`` would not build from ``args.learning_rate``."""
    for name in ("optimizer", "lr_scheduler"):
        built: Any = getattr(trainer, name)
        if built is not None:
            raise ValueError(
                f"trainer.{name} is built already, and train() keeps it: "
                "args.learning_rate would not reach training; set it before "
                f"create_optimizer() or give the rate to the optimizer; received "
                f"trainer.{name}={type(built).__name__}"
            )
    own = getattr(trainer, "optimizer_cls_and_kwargs", None)
    if own is not None and "lr" in own[1]:
        raise ValueError(
            "optimizer_cls_and_kwargs sets the optimizer's lr, which train() uses instead of "
            f"args.learning_rate; received optimizer_cls_and_kwargs[1]['lr']={own[1]['lr']!r}"
        )
