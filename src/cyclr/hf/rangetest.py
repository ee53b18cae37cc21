"""``cyclr.hf.range_test``: the range test through a ``transformers.Trainer``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import torch
import transformers

import cyclr.torch
from cyclr.rangetest import RangeTestResult
from cyclr.rangetest.settings import RangeTestSettings, checked_settings
from cyclr.torch import distributed
from cyclr.torch._snapshot import sharding
from cyclr.torch.engines import MicroBatches, loss_of, scaler_restored
from cyclr.torch.rangetest import clip_gradients


def range_test(
    trainer: transformers.Trainer,
    *,
    settings: RangeTestSettings | None = None,
    criterion: Callable[[Any, Mapping[str, Any]], Any] | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    json_path: str | os.PathLike[str] | None = None,
) -> RangeTestResult:
    """Run cyclr's range test on a ``Trainer`` before ``trainer.train()``; leave it as found.

    Each rung is one optimizer update the way the Trainer makes one:
    ``gradient_accumulation_steps`` batches of ``trainer.get_train_dataloader()``
    (its sampler and data collator), each placed by the Trainer, its loss from
    ``trainer.compute_loss`` (the model's own loss, a label smoother or
    ``compute_loss_func``) under the Accelerator's autocast (``bf16``/``fp16``),
    with its loss scaler for ``fp16``, gradients clipped to ``max_grad_norm``,
    then ``optimizer.step()``. The Trainer's callbacks and logging are not
    called. The loss recorded is the mean over the batches of the update. Under
    several processes (``accelerate launch``, ``torchrun``) the model is not yet
    wrapped in DDP (``train()`` wraps it): the test averages the gradients across
    processes as DDP would, and the loss of each rung is the mean of the
    processes' losses.

    The Trainer is left as it was found. When it has no optimizer yet, the test
    trains with the one ``train()`` would build (``trainer.create_optimizer()``,
    from the ``TrainingArguments``) and then drops it, so ``train()`` builds its
    own from the arguments as they are then: ``trainer.args.learning_rate = max_lr``
    takes effect. Afterwards the model's weights and buffers, the optimizer's
    state and learning rates, the loss scaler, train/eval modes and the random
    generators are exactly what they were, also when the test raised.

    When the Trainer has an ``eval_dataset``, its loss (``trainer.get_eval_dataloader()``,
    the model's own loss) is measured after the update of every rung ``i`` with
    ``i % settings.val_every == 0`` and the bounds read it (``monitor='val_loss'``,
    the default with an ``eval_dataset``): when fine-tuning, the training loss keeps
    falling past the rates that undo what pre-training learned, and its reading lands
    near the pre-training rate (23% worse than the best grid pair on a transformer
    fine-tuned on prose, 1.2% from the validation curve: docs/bounds-reading.md, *The
    first, untouched score*). ``result.bounds(monitor="loss")`` still reads the training
    loss. Each pass runs over the whole ``eval_dataset``, every 2 rungs by default (the
    default ``RangeTestSettings.val_every``): with a large one, give the test a
    smaller ``eval_dataset`` or space the passes,
    ``settings=cyclr.RangeTestSettings(val_every=10)``;
    ``settings=cyclr.RangeTestSettings(monitor='loss')`` makes none and reads the
    training loss.

    Then give the bounds to a :class:`cyclr.torch.CyclicLR` before training::

        settings = cyclr.RangeTestSettings(fine_tuning=True)  # from_pretrained
        result = cyclr.hf.range_test(trainer, settings=settings)
        base_lr, max_lr = result.bounds()
        trainer.create_optimizer()  # the Trainer's own, from its TrainingArguments
        trainer.lr_scheduler = cyclr.torch.CyclicLR(
            trainer.optimizer, cyclr.CyclicSchedule(base_lr, max_lr, step_size=200))
        trainer.train()

    or a policy's schedule, ``CyclicLR(trainer.optimizer, result.schedule('cosine',
    total_steps))``, or keep the Trainer's own scheduler at the rate the test reads for it,
    :func:`cyclr.hf.set_learning_rate`.

    Args:
      trainer: a ``transformers.Trainer`` with a train dataset.

    Args: Ladder, smoothing, stop and reading: settings
      settings: a :class:`~cyclr.RangeTestSettings` (its defaults when ``None``: the
        ladder 1e-5 -> 10 in 450 rungs `result.bounds()` was validated on), each
        rung one optimizer update; ``start_lr=None`` starts at the optimizer's own
        lr. Its ``val_every`` and ``monitor`` as above (``'val_accuracy'`` is
        refused: the Trainer's model gives no accuracy to read). Its
        ``fine_tuning=True`` when the model starts from trained weights
        (``from_pretrained``) and all of it trains: ``result.bounds()`` reads a
        factor 2 lower (``BoundsSettings(fine_tuning=True)``, measured on four
        fine-tunings: docs/results.md, *Fine-tuning: the reading a factor 2
        lower*); a model built from a config trains from scratch: leave it ``False``.

    Args: The step
      criterion: ``criterion(outputs, batch) -> loss`` for a model that computes
        no loss of its own (no labels in the batch); ``outputs = model(**batch)``.
        ``None``: ``trainer.compute_loss``.

    Args: Where the snapshot lives
      checkpoint_dir: keep the starting state in a temporary file in this folder
        instead of in memory.

    Args: Output
      progress: a tqdm progress bar; ``None`` shows one in a terminal.
      json_path: write the result here as JSON (rank 0).

    Returns:
      The :class:`~cyclr.RangeTestResult`; ``result.bounds()`` suggests
      ``(base_lr, max_lr)``. Its ``optimizer`` is the class name of the Trainer's
      optimizer (``'AdamW'`` by default) and its ``batchnorm`` whether the model has
      BatchNorm layers: a policy's peak takes their factor.

    Raises:
      ValueError: naming the parameter and the value received; a model that
        returns no loss without a ``criterion``, naming the batch's keys.
    """
    if not isinstance(trainer, transformers.Trainer):
        raise ValueError(
            f"trainer must be a transformers.Trainer; received trainer={type(trainer).__name__}"
        )
    settings = checked_settings(settings)
    if settings.monitor == "val_accuracy":
        raise ValueError(
            "cyclr.hf.range_test measures the eval_dataset's loss, no accuracy; received "
            "settings.monitor='val_accuracy' (use 'val_loss' or 'loss')"
        )
    if criterion is not None and not callable(criterion):
        raise ValueError(f"criterion must be callable or None; received criterion={criterion!r}")
    model = trainer.model
    if model is None:
        raise ValueError("the trainer has no model yet; received trainer.model=None")
    output = dict(checkpoint_dir=checkpoint_dir, progress=progress, json_path=json_path)
    own_optimizer = trainer.optimizer is None
    if own_optimizer:  # the optimizer train() would build, for the test only
        trainer.create_optimizer()
    try:
        return _run(trainer, model, criterion, settings, output)
    finally:
        if own_optimizer:
            # Left as found: train() builds its optimizer from the TrainingArguments as
            # they are then (a learning_rate set from the reading takes effect).
            trainer.optimizer = None


def _run(
    trainer: transformers.Trainer,
    model: torch.nn.Module,
    criterion: Callable[[Any, Mapping[str, Any]], Any] | None,
    settings: RangeTestSettings,
    output: dict[str, Any],
) -> RangeTestResult:
    """The test on the Trainer's optimizer (which exists by now)."""
    optimizer = trainer.optimizer
    loader = trainer.get_train_dataloader()
    validate = trainer.eval_dataset is not None and settings.monitor != "loss"
    step = _TrainerStep(trainer, model, optimizer, criterion)
    with scaler_restored(step.scaler, optimizer):
        return cyclr.torch.range_test(
            model,
            optimizer,
            None,
            MicroBatches(loader, trainer.args.gradient_accumulation_steps),
            settings=settings,
            val_loader=trainer.get_eval_dataloader() if validate else None,
            step_fn=step,
            **output,
        )


class _TrainerStep:
    """One optimizer update on a list of micro-batches, as ``Trainer.train`` makes it."""

    def __init__(
        self,
        trainer: transformers.Trainer,
        model: torch.nn.Module,
        optimizer: Any,
        criterion: Callable[[Any, Mapping[str, Any]], Any] | None,
    ) -> None:
        self.trainer, self.model = trainer, model
        self.optimizer, self.criterion = optimizer, criterion
        self.scaler: torch.amp.GradScaler | None = getattr(trainer.accelerator, "scaler", None)
        # train() wraps the model in DDP only then: under several processes the test's
        # updates average the gradients themselves, as DDP would (a wrapped or sharded
        # model, e.g. after train() with FSDP or DeepSpeed, reduces its own).
        self.average = trainer.accelerator.unwrap_model(model) is model and sharding(model) is None

    def _loss(self, batch: Mapping[str, Any]) -> torch.Tensor:
        trainer, model = self.trainer, self.model
        inputs = trainer._prepare_inputs(dict(batch))
        with trainer.accelerator.autocast(), trainer.compute_loss_context_manager():
            if self.criterion is not None:
                return loss_of(self.criterion(model(**inputs), inputs), "criterion")
            try:
                loss = trainer.compute_loss(model, dict(inputs))
            except ValueError as error:
                # Trainer.compute_loss's own words for outputs without a loss; any other
                # error (or other words in a later version) goes up as it is.
                if "did not return a loss" not in str(error):
                    raise
                labels = list(trainer.label_names)
                raise ValueError(
                    "the model returned no loss: the Trainer's batches have keys "
                    f"{sorted(map(str, inputs))} (label_names={labels!r}); have the data "
                    "collator put the labels in each batch, or pass "
                    "criterion=(outputs, batch) -> loss; received criterion=None"
                ) from error
        return loss_of(loss, "Trainer.compute_loss")

    def __call__(self, micro_batches: list[Any]) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for batch in micro_batches:
            loss = self._loss(batch)
            share = loss / len(micro_batches)
            torch.autograd.backward(share if self.scaler is None else self.scaler.scale(share))
            total += float(loss.detach())
        if self.average:
            distributed.average_gradients(self.model.parameters())
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        max_norm = self.trainer.args.max_grad_norm
        if max_norm is not None and max_norm > 0:
            clip_gradients(self.model, self.optimizer, max_norm)
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return total / len(micro_batches)
