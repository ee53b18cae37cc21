"""What the engine integrations (``cyclr.lightning``, ``cyclr.hf``) share around a range test.

The engines run ``cyclr.torch.range_test`` with a ``step_fn``: they group a loader's
batches into one update's micro-batches, read the loss from whatever their step
returns, and put their own ``GradScaler`` back afterwards (``range_test`` refuses
``grad_scaler=`` next to ``step_fn``: the engine owns it).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from cyclr.torch._snapshot import _optimizer_record, _put_optimizer_record


class MicroBatches:
    """A loader's batches in lists of ``size`` (the last list may be shorter).

    The loader's ``sampler``, ``batch_sampler`` and ``generator`` show through,
    so the range test's snapshot finds the random state that orders the batches.
    """

    def __init__(self, loader: Any, size: int) -> None:
        self.loader, self.size = loader, size
        for name in ("sampler", "batch_sampler", "generator"):
            setattr(self, name, getattr(loader, name, None))

    def __iter__(self) -> Iterator[list[Any]]:
        group: list[Any] = []
        for batch in self.loader:
            group.append(batch)
            if len(group) == self.size:
                yield group
                group = []
        if group:
            yield group


def loss_of(output: Any, where: str) -> torch.Tensor:
    """The scalar loss in a step's output (a tensor, or a mapping with a ``'loss'`` key).

    Args:
      output: what the step returned.
      where: the step's name, for the error (``"training_step"``).

    Returns:
      The loss, a 0-d tensor.

    Raises:
      ValueError: naming ``where`` and what it returned.
    """
    loss = output.get("loss") if isinstance(output, Mapping) else output
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        if isinstance(output, Mapping):
            got = f"a {type(output).__name__} with keys {sorted(map(str, output))!r}"
        elif isinstance(output, torch.Tensor):
            got = f"a tensor of shape {tuple(output.shape)}"
        else:
            got = repr(output) if output is None else f"a {type(output).__name__}"
        raise ValueError(
            f"the range test needs a loss from {where}: a scalar tensor, or a dict with a "
            f"'loss' key; {where} returned {got}"
        )
    return loss.reshape(())


@contextlib.contextmanager
def scaler_restored(scaler: torch.amp.GradScaler | None, optimizer: Any) -> Iterator[None]:
    """A ``GradScaler``'s scale, growth tracker and record of ``optimizer`` put back on exit."""
    if scaler is None:
        yield
        return
    saved = copy.deepcopy(scaler.state_dict())
    record = _optimizer_record(scaler, optimizer)
    try:
        yield
    finally:
        scaler.load_state_dict(saved)
        _put_optimizer_record(scaler, optimizer, record)
