"""Lightning's training and validation steps as the range test's step functions.

:class:`LightningStep` trains one optimizer update the way Lightning's automatic
optimization does (precision, accumulation, clipping, DDP's ``no_sync``);
:class:`LightningValidation` reads a batch's loss (and accuracy) from
``validation_step``; :func:`logging_to` catches ``self.log`` during the test;
:class:`FirstOfCombined` unwraps a ``CombinedLoader``'s batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import GradClipAlgorithmType
from lightning.pytorch.utilities.combined_loader import CombinedLoader
from lightning.pytorch.utilities.signature_utils import is_param_in_hook_signature

from cyclr.torch.engines import loss_of


class FirstOfCombined:
    """A ``CombinedLoader``'s batches without its ``(batch, batch_idx, dataloader_idx)`` tuple."""

    def __init__(self, combined: CombinedLoader) -> None:
        self.combined = combined

    def __iter__(self) -> Iterator[Any]:
        for batch, _, _ in self.combined:
            yield batch


class LightningStep:
    """One optimizer update on a list of micro-batches, as Lightning's automatic optimization."""

    def __init__(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        self.trainer, self.pl_module, self.optimizer = trainer, pl_module, optimizer
        self.scaler: torch.amp.GradScaler | None = getattr(trainer.precision_plugin, "scaler", None)
        self.batch_idx = 0
        # As Lightning's loop: batch_idx goes in when training_step takes it.
        step = pl_module.training_step
        self.takes_batch_idx = is_param_in_hook_signature(step, "batch_idx", min_args=2)

    def __call__(self, micro_batches: list[Any]) -> float:
        trainer, strategy = self.trainer, self.trainer.strategy
        self.optimizer.zero_grad(set_to_none=True)
        no_sync = getattr(strategy.model, "no_sync", None)  # DDP: all-reduce on the last only
        total = 0.0
        for k, batch in enumerate(micro_batches):
            last = k == len(micro_batches) - 1
            with contextlib.nullcontext() if last or no_sync is None else no_sync():
                batch = trainer.precision_plugin.convert_input(batch)
                # The module's hook, or its datamodule's: as Lightning's training loop.
                batch = self.pl_module._on_before_batch_transfer(batch, dataloader_idx=0)
                batch = strategy.batch_to_device(batch, dataloader_idx=0)
                args = (batch, self.batch_idx) if self.takes_batch_idx else (batch,)
                loss = loss_of(strategy.training_step(*args), "training_step")
                self.batch_idx += 1
                share = loss / len(micro_batches)
                torch.autograd.backward(share if self.scaler is None else self.scaler.scale(share))
            total += float(loss.detach())
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        clip = trainer.gradient_clip_val
        if clip is not None and clip > 0:
            algorithm = GradClipAlgorithmType(trainer.gradient_clip_algorithm or "norm")
            trainer.precision_plugin.clip_gradients(self.optimizer, clip, algorithm)
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return total / len(micro_batches)


class LightningValidation:
    """A validation batch's loss by ``validation_step``: logged as ``metric``, or returned."""

    def __init__(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        logged: dict[str, Any],
        metric: str,
        accuracy_metric: str | None = None,
    ) -> None:
        self.trainer, self.pl_module, self.logged, self.metric = trainer, pl_module, logged, metric
        self.accuracy_metric = accuracy_metric
        # As Lightning's loop calls it: batch_idx when the step takes it, and with several
        # validation loaders dataloader_idx too (the test reads the first: 0).
        step = pl_module.validation_step
        self.indexes: tuple[int, ...] = ()
        if is_param_in_hook_signature(step, "dataloader_idx", min_args=3):
            self.indexes = (0, 0)
        elif is_param_in_hook_signature(step, "batch_idx", min_args=2):
            self.indexes = (0,)

    def __call__(self, batch: Any) -> Any:
        trainer, strategy = self.trainer, self.trainer.strategy
        batch = trainer.precision_plugin.convert_input(batch)
        batch = self.pl_module._on_before_batch_transfer(batch, dataloader_idx=0)
        batch = strategy.batch_to_device(batch, dataloader_idx=0)
        self.logged.clear()
        returned = strategy.validation_step(batch, *self.indexes)
        loss = self._loss(returned)
        if self.accuracy_metric is None:
            return loss
        accuracy = self.logged.get(self.accuracy_metric)
        if accuracy is None:
            raise ValueError(
                f"monitor='val_accuracy' reads the accuracy validation_step logs as "
                f"{self.accuracy_metric!r}, but it logged {sorted(self.logged) or 'nothing'}: "
                "pass RangeTestCallback(accuracy_metric=...) the name it logs it under"
            )
        return loss, accuracy

    def _loss(self, returned: Any) -> Any:
        """The loss ``validation_step`` logged as ``metric``, or returned."""
        value = self.logged.get(self.metric)
        if value is None and isinstance(returned, Mapping):
            value = returned.get("loss", returned.get(self.metric))
        elif value is None:
            value = returned
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if value is not None:
            raise ValueError(
                f"validation_step's loss {self.metric!r} must be a one-element tensor or a "
                f"number; received {type(value).__name__}"
                + (f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else "")
            )
        raise ValueError(
            f"validation_step neither logged {self.metric!r} (it logged "
            f"{sorted(self.logged) or 'nothing'}) nor returned a loss: pass "
            "RangeTestCallback(val_metric=...) the name it logs its loss under, or "
            "settings=cyclr.RangeTestSettings(monitor='loss') to read the training loss"
        )


@contextlib.contextmanager
def logging_to(pl_module: pl.LightningModule, logged: dict[str, Any]) -> Iterator[None]:
    """``self.log`` and ``self.log_dict`` write into ``logged`` inside, and nowhere else.

    No loop collects them during the test; the validation passes read the loss there.
    """

    def log(name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        # detached: a training loss kept here must not keep its graph alive
        logged[name] = value.detach() if isinstance(value, torch.Tensor) else value

    def log_dict(values: Mapping[str, Any], *args: Any, **kwargs: Any) -> None:
        for name, value in values.items():
            log(name, value)

    saved = {name: pl_module.__dict__.get(name) for name in ("log", "log_dict")}
    pl_module.__dict__["log"], pl_module.__dict__["log_dict"] = log, log_dict
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del pl_module.__dict__[name]
            else:
                pl_module.__dict__[name] = value
