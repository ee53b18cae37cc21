"""``cyclr.lightning.RangeTestCallback``: the range test through ``training_step`` at fit start."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.combined_loader import CombinedLoader
from lightning.pytorch.utilities.model_helpers import is_overridden

import cyclr.torch
from cyclr._base import Schedule, check_choice, check_count, serialize
from cyclr.lightning._adapters import (
    FirstOfCombined,
    LightningStep,
    LightningValidation,
    logging_to,
)
from cyclr.rangetest import BoundsSuggestion, RangeTestResult
from cyclr.rangetest.policies import POLICIES
from cyclr.rangetest.settings import RangeTestSettings, checked_settings
from cyclr.torch.engines import MicroBatches, scaler_restored

#: ``on_bounds(trainer, pl_module, bounds)``
BoundsHook = Callable[["pl.Trainer", "pl.LightningModule", BoundsSuggestion], None]


class RangeTestCallback(pl.Callback):
    """Run cyclr's range test when ``fit`` starts and give the bounds to ``configure_optimizers``.

    At ``on_fit_start`` (after Lightning has called ``configure_optimizers``
    once) the callback trains one optimizer update per rung of a learning-rate
    ladder on the first optimizer, through the module's own ``training_step``:
    the Trainer's train dataloader, batch-transfer hooks, precision (autocast
    and the fp16 ``GradScaler``), ``accumulate_grad_batches`` (that many batches
    per rung) and gradient clipping, on every rank under DDP (each rung's loss
    is averaged across ranks, so all read the same curve). ``self.log`` calls
    during the test are dropped; the backward and optimizer-step hooks are not
    called. Afterwards the module's weights and buffers, the optimizer's state
    and learning rates, the scaler, train/eval modes and the random generators
    are exactly what they were (also when the test raised).

    When the module has a ``validation_step`` and the Trainer validation batches,
    the bounds are read off the validation loss, as everywhere in cyclr (on the
    fine-tunings the training loss reads the pre-training rate: docs/bounds-reading.md,
    *The curve to read*): the first ``val_batches`` batches of the
    validation loader are kept and measured after every ``settings.val_every``-th rung
    through ``validation_step``, in eval mode without gradients, with BatchNorm's
    running averages recalibrated on them (see :func:`cyclr.torch.range_test`).
    The loss is what ``validation_step`` logs as ``val_metric``
    (``self.log('val_loss', loss)``), or else what it returns.

    Then it writes the suggested bounds into ``pl_module.hparams['base_lr']``
    and ``['max_lr']``, calls ``on_bounds(trainer, pl_module, bounds)`` if
    given, and has Lightning call ``configure_optimizers`` again
    (``reconfigure=True``), so the optimizer and scheduler training uses are
    built from the bounds. ``configure_optimizers`` must therefore also work
    before the test, e.g. with defaults in ``__init__``::

        class Model(pl.LightningModule):
            def __init__(self, base_lr=1e-3, max_lr=1e-2):
                super().__init__()
                self.save_hyperparameters()

            def configure_optimizers(self):
                opt = torch.optim.SGD(self.parameters(), lr=self.hparams.base_lr, momentum=0.9)
                schedule = cyclr.CyclicSchedule(self.hparams.base_lr, self.hparams.max_lr,
                                                step_size=200)
                return {"optimizer": opt,
                        "lr_scheduler": cyclr.lightning.scheduler_config(schedule, opt)}

        settings = cyclr.RangeTestSettings(start_lr=1e-5, end_lr=1.0)
        trainer = pl.Trainer(callbacks=[cyclr.lightning.RangeTestCallback(settings)])

    With ``policy='cosine'`` (or another of :data:`cyclr.rangetest.policies.POLICIES`) it
    hands over that policy's schedule for the run the Trainer plans instead of the bounds:
    ``result.schedule(policy, trainer.estimated_stepping_batches, steps_per_epoch=...)``
    (docs/semantics.md, *Readings per schedule*), its peak the factor of the family of the
    optimizer the test ran with (SGD's or Adam's, recorded in ``result.optimizer``) and,
    with Adam, of the module's BatchNorm (``result.batchnorm``), as
    ``callback.schedule`` and, as plain data, ``pl_module.hparams['schedule']``
    (``cyclr.serialize``'s dict)::

        class Model(pl.LightningModule):
            def __init__(self, lr=1e-3, schedule=None):
                super().__init__()
                self.save_hyperparameters()

            def configure_optimizers(self):
                opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)
                if self.hparams.schedule is None:  # before the test: its optimizer
                    return opt
                schedule = cyclr.deserialize(self.hparams.schedule)
                return {"optimizer": opt,
                        "lr_scheduler": cyclr.lightning.scheduler_config(schedule, opt)}

        trainer = pl.Trainer(max_epochs=10,
                             callbacks=[cyclr.lightning.RangeTestCallback(policy="cosine")])

    The test runs once per callback: the result is saved in Lightning's
    checkpoints, so ``trainer.fit(..., ckpt_path=...)`` restores it instead of
    testing again and the cycle goes on where it stopped; a later ``fit`` with
    the same callback reuses it too (set ``callback.result = None`` to test again).

    Args: Ladder, smoothing, stop and reading: settings
      settings: a :class:`~cyclr.RangeTestSettings` (its defaults when ``None``: the
        ladder 1e-5 -> 10 in 450 rungs `result.bounds()` was validated on), each rung
        one optimizer update. Its ``val_every`` spaces the validation passes (the
        judging study measured one batch every 2 rungs, the default); its
        ``monitor`` names the curve read: ``'val_loss'``, ``'val_accuracy'`` (what
        ``validation_step`` logs as ``accuracy_metric``) or ``'loss'`` (the
        training loss; no validation batches are kept); ``None``: ``'val_loss'``
        when there are validation batches (see above), else ``'loss'``, with a line
        saying so. ``fine_tuning=True``: the module starts from trained weights and
        all of it trains, and the bounds are read a factor 2 lower
        (``BoundsSettings(fine_tuning=True)``, measured on four fine-tunings:
        docs/results.md, *Fine-tuning: the reading a factor 2 lower*).
        ``start_lr=None`` starts at the optimizer's own lr.

    Args: Validation
      val_batches: the validation batches measured each time (the loader's first).
      val_metric: the name ``validation_step`` logs its loss under.
      accuracy_metric: the name it logs its accuracy under (a batch's mean), read
        with ``monitor='val_accuracy'``.

    Args: Where the snapshot lives
      checkpoint_dir: keep the starting state in a temporary file in this folder
        instead of in memory.

    Args: Output
      progress: a tqdm progress bar on rank 0; ``None`` shows one in a terminal.
      json_path: write the result here as JSON (rank 0).
      verbose: print ``result.summary()`` on rank 0.

    Args: Handing over the bounds
      policy: ``None`` (the default): hand over the bounds,
        ``hparams['base_lr']`` and ``['max_lr']``. One of
        :data:`~cyclr.rangetest.policies.POLICIES`: hand over that policy's schedule
        for the Trainer's planned updates (``trainer.estimated_stepping_batches``,
        at least 2; the optimizer steps of one pass over the train dataloader are
        its ``steps_per_epoch``), ``hparams['schedule']``, as above.
      on_bounds: ``on_bounds(trainer, pl_module, bounds)``, called on every rank
        after the bounds (or the schedule) are in ``hparams`` and before
        ``configure_optimizers`` runs again.
      reconfigure: have Lightning call ``configure_optimizers`` again after the
        test (``False``: the optimizer and scheduler stay those built before;
        ``on_bounds`` may adjust them).

    Raises:
      ValueError: naming the parameter and the value received; at fit start, a
        ``training_step`` that returns no loss, or a curve with no bounds to read.

    Attributes:
      result: the :class:`~cyclr.RangeTestResult` once the test has run (or was
        restored from a checkpoint), else ``None``.
      bounds: its :class:`~cyclr.rangetest.BoundsSuggestion`, unpacking as
        ``(base_lr, max_lr)``.
      schedule: with a ``policy``, the policy's :class:`cyclr.Schedule` for the run,
        once the test has run; else ``None``.
    """

    def __init__(
        self,
        settings: RangeTestSettings | None = None,
        *,
        val_batches: int = 1,
        val_metric: str = "val_loss",
        accuracy_metric: str = "val_accuracy",
        checkpoint_dir: str | os.PathLike[str] | None = None,
        progress: bool | None = None,
        json_path: str | os.PathLike[str] | None = None,
        verbose: bool = True,
        policy: str | None = None,
        on_bounds: BoundsHook | None = None,
        reconfigure: bool = True,
    ) -> None:
        super().__init__()
        self.settings = checked_settings(settings)  # checked now, not when fit starts
        self.val_batches = check_count("val_batches", val_batches)
        self.val_metric = _metric_name("val_metric", val_metric, "loss")
        self.accuracy_metric = _metric_name("accuracy_metric", accuracy_metric, "accuracy")
        self.checkpoint_dir, self.progress, self.json_path = checkpoint_dir, progress, json_path
        self.verbose = bool(verbose)
        if on_bounds is not None and not callable(on_bounds):
            raise ValueError(
                f"on_bounds must be callable or None; received on_bounds={on_bounds!r}"
            )
        self.on_bounds = on_bounds
        self.policy = None if policy is None else check_choice("policy", policy, POLICIES)
        self.reconfigure = bool(reconfigure)
        self.result: RangeTestResult | None = None
        self.bounds: BoundsSuggestion | None = None
        self.schedule: Schedule | None = None

    # -- Lightning hooks ---------------------------------------------------------------------

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Run the test (unless a checkpoint brought its result), then hand over the bounds."""
        if self.result is None:
            self.result = self._run(trainer, pl_module)
            if self.verbose:
                rank_zero_info(self.result.summary())
        try:
            self.bounds = self.result.bounds()
        except ValueError as error:
            raise ValueError(
                f"the range test gave no bounds to train with ({error}); its result is on "
                f"callback.result:\n{self.result.summary()}"
            ) from None
        if self.policy is None:
            pl_module.hparams["base_lr"] = self.bounds.base_lr
            pl_module.hparams["max_lr"] = self.bounds.max_lr
        else:
            self.schedule = self._policy_schedule(trainer, self.result, self.policy)
            # plain data: checkpoints keep hparams, and load weights-only
            pl_module.hparams["schedule"] = serialize(self.schedule)
        if self.on_bounds is not None:
            self.on_bounds(trainer, pl_module, self.bounds)
        if self.reconfigure:
            # Lightning's own way to (re)build them: configure_optimizers, then the schedulers'
            # configs. A checkpoint being resumed loads their states after this hook.
            trainer.strategy.setup_optimizers(trainer)

    def state_dict(self) -> dict[str, Any]:
        """``{'result': JSON text or None}``: plain data, for weights-only checkpoint loads."""
        return {"result": None if self.result is None else self.result.to_json()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take the result of a checkpoint, so a resumed fit does not test again."""
        text = state_dict.get("result")
        self.result = None if text is None else RangeTestResult.from_json(text)

    @staticmethod
    def _policy_schedule(trainer: pl.Trainer, result: RangeTestResult, policy: str) -> Schedule:
        """``result.schedule(policy, ...)`` for the optimizer steps the Trainer plans."""
        total = trainer.estimated_stepping_batches  # sets the train dataloader up if need be
        if not (math.isfinite(total) and total >= 2):
            raise ValueError(
                f"policy={policy!r} needs the optimizer steps the Trainer plans, at least 2 "
                "(max_epochs, or max_steps with an endless loader); received "
                f"trainer.estimated_stepping_batches={total!r}"
            )
        batches = trainer.num_training_batches
        per_epoch = (
            math.ceil(batches / trainer.accumulate_grad_batches)
            if math.isfinite(batches) and batches > 0
            else None
        )
        return result.schedule(policy, int(total), steps_per_epoch=per_epoch)

    # -- the test ----------------------------------------------------------------------------

    def _run(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> RangeTestResult:
        if not pl_module.automatic_optimization:
            raise ValueError(
                "RangeTestCallback drives the optimizer itself and needs automatic optimization; "
                f"received a {type(pl_module).__name__} with automatic_optimization=False"
            )
        if not trainer.optimizers:
            raise ValueError(
                "RangeTestCallback needs the optimizer configure_optimizers returns; "
                f"received {type(pl_module).__name__}.configure_optimizers() with none"
            )
        optimizer = trainer.optimizers[0]
        trainer.fit_loop.setup_data()  # what fit would do next; it keeps the loader
        loader = trainer.train_dataloader
        if loader is None:
            raise ValueError(
                "RangeTestCallback needs training batches; received no train dataloader "
                "(limit_train_batches=0, or no training_step)"
            )
        if isinstance(loader, (Mapping, list, tuple)):
            loader = FirstOfCombined(CombinedLoader(loader, "max_size_cycle"))
        step = LightningStep(trainer, pl_module, optimizer)
        monitor = self.settings.monitor
        val_batches = [] if monitor == "loss" else self._val_batches(trainer, pl_module)
        if not val_batches:
            if monitor is not None and monitor != "loss":
                raise ValueError(
                    f"monitor={monitor!r} needs a validation_step and validation "
                    f"batches; received a {type(pl_module).__name__} and a Trainer with none"
                )
            if monitor is None and self.verbose:
                rank_zero_info(
                    "RangeTestCallback: no validation_step or validation batches; the bounds "
                    "read the training loss"
                )
        logged: dict[str, Any] = {}
        accuracy = self.accuracy_metric if monitor == "val_accuracy" else None
        validate = (
            LightningValidation(trainer, pl_module, logged, self.val_metric, accuracy)
            if val_batches
            else None
        )
        with logging_to(pl_module, logged), scaler_restored(step.scaler, optimizer):
            return cyclr.torch.range_test(
                pl_module,
                optimizer,
                None,
                MicroBatches(loader, trainer.accumulate_grad_batches),
                settings=self.settings,
                val_loader=val_batches or None,
                val_step_fn=validate,
                val_accuracy=accuracy is not None,
                step_fn=step,
                checkpoint_dir=self.checkpoint_dir,
                progress=self.progress,
                json_path=self.json_path,
            )

    def _val_batches(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> list[Any]:
        """The first ``val_batches`` batches of the (first) validation loader, kept."""
        if not is_overridden("validation_step", pl_module):
            return []
        trainer.fit_loop.epoch_loop.val_loop.setup_data()  # what fit does before validating
        loaders = trainer.val_dataloaders
        if loaders is None:
            return []
        if isinstance(loaders, Mapping):
            loaders = list(loaders.values())
        if isinstance(loaders, (list, tuple)):
            if not loaders:
                return []
            loaders = loaders[0]
        batches = []
        with torch.random.fork_rng(devices=[]):  # a shuffling loader draws from torch's CPU rng
            for batch in loaders:
                batches.append(batch)
                if len(batches) == self.val_batches:
                    break
        return batches


def _metric_name(name: str, value: Any, what: str) -> str:
    """``value``, checked as the name ``validation_step`` logs its ``what`` under."""
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"{name} must be the name validation_step logs its {what} under; "
            f"received {name}={value!r}"
        )
    return value
