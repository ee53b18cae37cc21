"""The range test's validation passes, and the BatchNorm recalibration before each.

A pass runs in eval mode and pools every rank's loss (and accuracy), weighting
batches by their size; the running averages of the BatchNorm layers that train in
batch-statistics mode are first recalibrated on the validation batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from cyclr.torch import distributed

#: ``val_loss(batch) -> (loss, accuracy or None, batch size)``, one validation batch
ValLoss = Callable[[Any], tuple[torch.Tensor | float, float | None, int]]


@torch.no_grad()
def validate(
    model: torch.nn.Module, val_loss: ValLoss, loader: Any, val_accuracy: bool
) -> tuple[float, float | None]:
    """Loss (and accuracy) over the whole loader, weighted by batch size, all ranks pooled.

    In eval mode, with the running averages of every BatchNorm layer that trains in
    batch-statistics mode recalibrated on the loader first (see ``range_test``).
    """
    modes = [m.training for m in model.modules()]
    training_norms = [m for m in model.modules() if _recalibrated(m)]
    model.eval()
    loss_sum = correct = count = 0.0
    try:
        with _recalibration(training_norms, lambda: _recalibrate(val_loss, loader)):
            loss_sum, correct, count = _evaluate(val_loss, loader)
    finally:
        for m, mode in zip(model.modules(), modes, strict=False):
            m.training = mode
    loss_sum, correct, count = distributed.sum_across_ranks(loss_sum, correct, count)
    if count == 0:
        raise ValueError("val_loader yielded no batches")
    return loss_sum / count, (correct / count if val_accuracy else None)


def _recalibrate(val_loss: ValLoss, loader: Any) -> int:
    """Forward passes over ``loader`` (the norms in train mode); the batches used."""
    used = 0
    for batch in loader:
        try:
            val_loss(batch)
        except ValueError as error:  # a batch of one: no variance to measure
            if "more than 1 value per channel" not in str(error):
                raise
        else:
            used += 1
    return used


def _evaluate(val_loss: ValLoss, loader: Any) -> tuple[float, float, float]:
    loss_sum = correct = count = 0.0
    for batch in loader:
        loss, accuracy, n = val_loss(batch)
        loss_sum += float(loss) * n
        count += n
        if accuracy is not None:
            correct += accuracy * n
    return loss_sum, correct, count


def _recalibrated(module: torch.nn.Module) -> bool:
    """A BatchNorm layer whose running averages move in training: recalibrated to validate."""
    return (
        isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
        and module.training
        and module.track_running_stats
        and module.running_mean is not None
    )


@contextlib.contextmanager
def _recalibration(norms: list[Any], forward: Callable[[], int]) -> Iterator[None]:
    """Replace ``norms``' running averages by their means over ``forward``'s batches.

    The averages of a range test lag the weights by about ``1 / momentum`` updates, and
    most where the rate climbs fastest, which is where the bounds are read: the
    validation loss in eval mode would rise too early. ``forward`` runs the validation
    batches with the norms in train mode and ``momentum=None`` (an equal-weight mean
    over the batches, as ``torch.optim.swa_utils.update_bn``); afterwards every buffer
    and momentum is put back, so training goes on with its own averages.
    """
    if not norms:
        yield
        return
    names = ("running_mean", "running_var", "num_batches_tracked")
    saved = [(m.momentum, [getattr(m, name).clone() for name in names]) for m in norms]

    def put_back() -> None:
        for m, (momentum, buffers) in zip(norms, saved, strict=True):
            m.momentum = momentum
            for name, buffer in zip(names, buffers, strict=True):
                getattr(m, name).copy_(buffer)

    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        used = forward()
        for m in norms:
            m.eval()
        if not used:  # every batch held one example: keep the running averages
            put_back()
        yield
    finally:
        put_back()
