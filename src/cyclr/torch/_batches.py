"""How the range test reads a PyTorch batch: unpacking, placement, and the loss.

A batch is unpacked into ``(inputs, targets)`` (:func:`default_batch`, or the
user's ``batch_fn``), moved to the device, passed to the model; the loss comes from
the criterion, from the model itself (``criterion=None``), or from a ``step_fn``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import torch


def default_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, targets)`` from a batch that is a pair, as a ``TensorDataset`` loader gives."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    kind = type(batch).__name__
    if isinstance(batch, Mapping):
        raise ValueError(
            f"a batch must be an (inputs, targets) pair; received a {kind} with keys "
            f"{sorted(batch)!r}; pass batch_fn=... to unpack it, or criterion=None when "
            "the model computes its own loss from the batch (Hugging Face models)"
        )
    raise ValueError(
        f"a batch must be an (inputs, targets) pair; received a {kind}; "
        "pass batch_fn=... to unpack it"
    )


def to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, Mapping):  # dicts, and Hugging Face's BatchEncoding
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def forward(model: torch.nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, tuple):
        return model(*inputs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(inputs)


def batch_size(obj: Any) -> int:
    """The leading size of the first tensor in ``obj`` (``labels`` first in a mapping), else 1."""
    if isinstance(obj, torch.Tensor):
        return int(obj.shape[0]) if obj.dim() > 0 else 1
    if isinstance(obj, Mapping):
        values = [obj["labels"], *obj.values()] if "labels" in obj else list(obj.values())
    elif isinstance(obj, (tuple, list)):
        values = list(obj)
    else:
        return 1
    for value in values:
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return 1


def own_loss(outputs: Any) -> Any:
    """The loss a model computed itself.

    ``outputs.loss``, ``outputs['loss']``, or the one scalar tensor of a tuple or list
    (``logits, loss = model(x, targets)``, GPT style).
    """
    loss = getattr(outputs, "loss", None)
    if loss is None and isinstance(outputs, Mapping):
        loss = outputs.get("loss")
    if loss is not None:
        return loss
    if isinstance(outputs, (tuple, list)):
        return loss_in_sequence(outputs)
    raise ValueError(
        "criterion=None trains on the loss the model computes itself (outputs.loss, "
        "outputs['loss'], or the one scalar tensor of a tuple), but the model returned a "
        f"{type(outputs).__name__} with no loss; pass a criterion, or put the labels in the "
        "batch (batch['labels'] for Hugging Face models)"
    )


def loss_in_sequence(outputs: tuple[Any, ...] | list[Any]) -> torch.Tensor:
    """The one one-element floating tensor of ``outputs``, refused when there are 0 or 2+."""
    scalars = [
        i
        for i, x in enumerate(outputs)
        if isinstance(x, torch.Tensor) and x.numel() == 1 and x.is_floating_point()
    ]
    if len(scalars) == 1:
        return outputs[scalars[0]]
    shapes = [tuple(x.shape) if isinstance(x, torch.Tensor) else x for x in outputs]
    found = "no one-element tensor" if not scalars else f"several, at {scalars}"
    raise ValueError(
        f"criterion=None reads the loss of a model that returns a {type(outputs).__name__} "
        f"from its one scalar tensor; received {found} among outputs of shapes {shapes} "
        "(with targets in the batch, the model was called as model(inputs, targets)); name "
        "the loss yourself: batch_fn=lambda batch: (tuple(batch), batch) (the model gets the "
        "whole batch) with criterion=lambda outputs, batch: outputs[i]"
    )


def scalar(loss: Any, source: str) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(f"{source} must return a scalar loss tensor; received {shape}")
    return loss.reshape(())


def step_fn_loss(value: Any, name: str = "step_fn") -> float:
    """The loss ``name`` returned, as a float: a one-element tensor or a Python number."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"{name} must return the batch's loss: a tensor with one element or a "
                f"Python float; received a tensor of shape {tuple(value.shape)}"
            )
        return float(value.detach().reshape(()))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    hint = "; return outputs.loss" if getattr(value, "loss", None) is not None else ""
    raise TypeError(
        f"{name} must return the batch's loss: a tensor with one element or a Python "
        f"float; received a {type(value).__name__}{hint}"
    )


def cycle(loader: Any) -> Iterator[Any]:
    """The loader's batches, again and again; a sampler with ``set_epoch`` gets each pass's."""
    sampler = getattr(loader, "sampler", None)
    passes = 0
    while True:
        set_epoch = getattr(sampler, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(passes)
        count = 0
        for batch in loader:
            count += 1
            yield batch
        if count == 0:
            raise ValueError(f"train_loader yielded no batches; received train_loader={loader!r}")
        passes += 1
