"""The range test's training: one optimizer update per rung, and its loss.

:class:`Trainer` sets a rung's rates, trains its batches (accumulated, under
autocast, scaled by a ``GradScaler``, clipped) or calls the user's ``step_fn``, and
computes the validation batches' losses; :class:`Skips` counts the updates a
``GradScaler`` skips in a row.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch

from cyclr.torch._batches import batch_size, forward, own_loss, scalar, step_fn_loss, to_device
from cyclr.torch._clipping import clip_gradients
from cyclr.torch._validation import validate
from cyclr.torch.param_groups import group_ratios, set_value

#: the loss scale at which an update a GradScaler still skips ends the test: at a scale of
#: 1 or less the float16 gradients overflow unscaled, so the rate itself is too high
MIN_LOSS_SCALE = 1.0


class Trainer:
    """One optimizer update per rung, on ``accumulation_steps`` batches; validation passes.

    ``criterion`` is ``None`` on the model's-own-loss path (``step_fn`` included:
    validation then reads the model's own loss too).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Any,
        *,
        criterion: Callable[..., Any] | None,
        batch_fn: Callable[[Any], tuple[Any, Any]],
        step_fn: Callable[[Any], Any] | None,
        val_step_fn: Callable[[Any], Any] | None,
        device: torch.device,
        accumulation_steps: int,
        amp_dtype: torch.dtype | None,
        grad_scaler: torch.amp.GradScaler | None,
        max_grad_norm: float | None,
        val_accuracy: bool,
    ) -> None:
        self.model, self.optimizer, self.criterion = model, optimizer, criterion
        self.batch_fn, self.step_fn, self.device = batch_fn, step_fn, device
        self.val_step_fn = val_step_fn
        self.accumulation_steps, self.amp_dtype = accumulation_steps, amp_dtype
        self.grad_scaler, self.max_grad_norm = grad_scaler, max_grad_norm
        self.val_accuracy = val_accuracy
        # The groups keep their ratios: a rung's lr is that of the group with ratio 1.
        self.ratios = group_ratios(optimizer.param_groups)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def loss(self, batch: Any) -> tuple[torch.Tensor, Any, Any, int]:
        """The batch's loss, the model's outputs, the targets and the batch size."""
        if self.criterion is None:
            batch = to_device(batch, self.device)
            if isinstance(batch, list):  # a default-collated tuple
                batch = tuple(batch)
            with self._autocast():
                outputs = forward(self.model, batch)
                loss = own_loss(outputs)
            return scalar(loss, "the model"), outputs, None, batch_size(batch)
        inputs, targets = self.batch_fn(batch)
        inputs, targets = to_device(inputs, self.device), to_device(targets, self.device)
        with self._autocast():
            outputs = forward(self.model, inputs)
            loss = self.criterion(outputs, targets)
        return scalar(loss, "criterion"), outputs, targets, batch_size(targets)

    def val_loss(self, batch: Any) -> tuple[torch.Tensor | float, float | None, int]:
        """A validation batch's loss, its accuracy (with ``val_accuracy``), its size.

        From ``val_step_fn`` when given (a loss, or ``(loss, accuracy)`` with
        ``val_accuracy``), else from the criterion's ``(outputs, targets)``.
        """
        if self.val_step_fn is None:
            loss, outputs, targets, n = self.loss(batch)
            if not self.val_accuracy:
                return loss, None, n
            return loss, float((outputs.argmax(dim=-1) == targets).float().mean()), n
        returned = self.val_step_fn(batch)
        if not self.val_accuracy:
            return step_fn_loss(returned, "val_step_fn"), None, batch_size(batch)
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            raise ValueError(
                "with val_accuracy, val_step_fn must return (loss, accuracy) for the batch; "
                f"received a {type(returned).__name__}"
            )
        accuracy = step_fn_loss(returned[1], "val_step_fn's accuracy")
        return step_fn_loss(returned[0], "val_step_fn's loss"), accuracy, batch_size(batch)

    def set_lr(self, lr: float) -> None:
        """Every group's lr: the rung's ``lr`` times the group's ratio."""
        for group, ratio in zip(self.optimizer.param_groups, self.ratios, strict=True):
            set_value(group, "lr", lr * ratio)

    def train_rung(self, batches: Iterator[Any], lr: float) -> tuple[float, float | None]:
        """Train one update at ``lr``.

        Returns:
          The mean loss of its batches (before the update), and, when the
          ``GradScaler`` skipped the update (non-finite gradients), the loss scale
          it was skipped at; else ``None``.
        """
        self.set_lr(lr)
        if self.step_fn is not None:
            return step_fn_loss(self.step_fn(next(batches))), None
        scaler = self.grad_scaler
        self.optimizer.zero_grad(set_to_none=True)
        no_sync = getattr(self.model, "no_sync", None)  # DDP: all-reduce on the last only
        total = 0.0
        for k in range(self.accumulation_steps):
            last = k == self.accumulation_steps - 1
            with contextlib.nullcontext() if last or no_sync is None else no_sync():
                loss = self.loss(next(batches))[0]
                share = loss / self.accumulation_steps
                (share if scaler is None else scaler.scale(share)).backward()
            total += float(loss.detach())
        if self.max_grad_norm is not None:
            if scaler is not None:
                scaler.unscale_(self.optimizer)  # clip the true gradients
            clip_gradients(self.model, self.optimizer, self.max_grad_norm)
        mean = total / self.accumulation_steps
        if scaler is None:
            self.optimizer.step()
            return mean, None
        scale = scaler.get_scale()
        scaler.step(self.optimizer)  # skipped when the gradients are not finite ...
        scaler.update()  # ... and then the scale backs off (backoff_factor < 1)
        return mean, (scale if scaler.get_scale() < scale else None)

    def validate(self, loader: Any) -> tuple[float, float | None]:
        """Loss (and accuracy) over ``loader``: see :func:`cyclr.torch._validation.validate`."""
        return validate(self.model, self.val_loss, loader, self.val_accuracy)


class Skips:
    """Updates a ``GradScaler`` skipped in a row at one rung: retried while it backs off.

    A skipped update changes nothing but the scale, so the rung trains again on the next
    batch at the lower scale, however large the scale started (``init_scale=2**127``).
    An update still skipped at a scale of :data:`MIN_LOSS_SCALE` or less overflows
    float16 unscaled: the rate is too high, and the test stops there.
    """

    def __init__(self) -> None:
        self.count = 0
        self.scale = math.inf

    def retry(self, scale: float) -> bool:
        """Count one skip at loss scale ``scale``; whether to train the rung again."""
        self.count += 1
        self.scale = scale
        return scale > MIN_LOSS_SCALE

    def give_up(self, lr: float, rung: int) -> float:
        """Warn that the test stops at this rung; the loss to record there (``inf``)."""
        warnings.warn(
            f"range_test: the grad_scaler skipped {self.count} updates in a row at "
            f"lr={lr:.4g} (rung {rung}), the last at loss scale {self.scale:g}: the float16 "
            "gradients overflow unscaled at this rate; the test stops here, recording "
            "loss=inf (stop_reason='non_finite_loss')",
            RuntimeWarning,
            stacklevel=4,  # give_up, _climb, range_test: the caller of range_test
        )
        return math.inf

    def reset(self) -> None:
        """A rung was recorded: the next one starts with no skips."""
        self.count, self.scale = 0, math.inf
