"""What cyclr needs under ``torchrun``: rank checks and averaging a number across ranks.

Every function works, and does nothing collective, when ``torch.distributed``
is not initialized, so single-process code calls them unconditionally.

``CyclicLR`` needs nothing here: its rates are a pure function of the step,
so ranks that take the same number of optimizer steps (as DDP's do) have the
same rates. The range test averages each rung's loss across ranks with
:func:`mean_across_ranks`, so every rank sees the same curve and stops at the
same rung.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """Whether a default process group is initialized (e.g. under ``torchrun``)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank, 0 when not distributed."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes, 1 when not distributed."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Whether this process is rank 0: the one that writes files and shows progress."""
    return rank() == 0


def _reduce_device() -> torch.device:
    # NCCL reduces CUDA tensors only; gloo and the others take CPU tensors.
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def sum_across_ranks(*values: float) -> list[float]:
    """Sum each of ``values`` over all ranks (one float64 all-reduce); unchanged alone.

    >>> sum_across_ranks(1.5, 2.0)
    [1.5, 2.0]
    """
    if not is_distributed():
        return [float(v) for v in values]
    tensor = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_reduce_device())
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def mean_across_ranks(value: float) -> float:
    """The mean of ``value`` over all ranks (NaN if any rank has NaN); ``value`` alone.

    >>> mean_across_ranks(0.25)
    0.25
    """
    return sum_across_ranks(value)[0] / world_size()


def all_equal(obj: Any) -> bool:
    """Whether every rank holds an equal ``obj`` (any picklable value); ``True`` alone."""
    if not is_distributed():
        return True
    gathered = [None] * world_size()
    dist.all_gather_object(gathered, obj)
    return all(other == gathered[0] for other in gathered)


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Replace each gradient of ``params`` by its mean over all ranks; nothing when alone.

    What ``DistributedDataParallel`` does in the backward pass, for a model that is not
    wrapped in it (the Hugging Face ``Trainer`` wraps its model only inside ``train()``):
    one all-reduce per device and dtype. A parameter without a gradient on some rank
    counts as zero there, as an unused parameter does in DDP; it gets the mean wherever
    any rank has a gradient for it, and keeps ``None`` where no rank has one.
    Call it on every rank, with the same parameters in the same order.
    """
    if not is_distributed() or world_size() == 1:
        return
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for p in params:
        if p.requires_grad:
            groups.setdefault((p.device, p.dtype), []).append(p)
    for (device, dtype), chosen in groups.items():
        parts = [p.grad if p.grad is not None else torch.zeros_like(p) for p in chosen]
        # which ranks have a gradient: 0/1 per parameter, summed exactly in any float dtype
        flags = torch.tensor([p.grad is not None for p in chosen], dtype=dtype, device=device)
        flat = torch.cat([part.reshape(-1) for part in parts] + [flags]).to(_reduce_device())
        dist.all_reduce(flat)
        flat = flat.to(device)
        sizes = [part.numel() for part in parts]
        means = flat[: sum(sizes)].div_(world_size()).split(sizes)
        having = flat[sum(sizes) :].tolist()
        for p, mean, count in zip(chosen, means, having, strict=True):
            if p.grad is not None:
                p.grad.copy_(mean.view_as(p))
            elif count > 0:
                p.grad = mean.view_as(p).clone()
