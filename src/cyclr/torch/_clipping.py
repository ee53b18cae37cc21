"""Gradient clipping to a global norm, FSDP's sharded gradients included."""

from __future__ import annotations

from typing import Any

import torch


def clip_gradients(model: torch.nn.Module, optimizer: Any, max_norm: float) -> None:
    """Scale the gradients of ``optimizer``'s parameters to a global norm of ``max_norm``.

    Under ``FullyShardedDataParallel`` (FSDP1) each rank's parameters are flat shards,
    whose own norm is not the gradient's: the root module's ``clip_grad_norm_`` reduces the
    norm across ranks, and FSDP1 submodules under a plain root are clipped by
    :func:`_clip_fsdp1_submodules` the same way. ``fully_shard`` (FSDP2) gradients are
    DTensors, whose norm ``clip_grad_norm_`` already computes over the whole gradient.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if torch.distributed.is_available():  # a build without it has no FSDP either
        from torch.distributed.fsdp import FullyShardedDataParallel

        if isinstance(model, FullyShardedDataParallel):
            model.clip_grad_norm_(max_norm)
            return
        wrapped = [m for m in model.modules() if isinstance(m, FullyShardedDataParallel)]
        if wrapped:
            _clip_fsdp1_submodules(wrapped, params, max_norm)
            return
    torch.nn.utils.clip_grad_norm_(params, max_norm)


def _clip_fsdp1_submodules(wrapped: list[Any], params: list[Any], max_norm: float) -> None:
    """Clip ``params`` by the whole gradient's norm when FSDP1 wraps submodules, not the root.

    What the root's ``clip_grad_norm_`` does, without a root: the squared norms of the
    sharded gradients (a parameter's innermost FSDP1 module shards it unless it is
    ``NO_SHARD``) are summed over the ranks of its process group, those of the other
    parameters (``NO_SHARD``, or no FSDP1 module: replicated, as FSDP1 takes them) are
    added once, and every gradient is scaled by ``max_norm / (norm + 1e-6)`` when that
    is below 1, as ``torch.nn.utils.clip_grad_norm_`` does (the norm in float64).
    """
    from torch.distributed.fsdp import ShardingStrategy

    owner = {}  # id(parameter) -> its innermost FSDP1 module
    for module in wrapped:  # outer modules first: an inner one overwrites them
        for p in module.parameters():
            owner[id(p)] = module
    sharded = [
        p
        for p in params
        if id(p) in owner and owner[id(p)].sharding_strategy != ShardingStrategy.NO_SHARD
    ]
    if not sharded:  # every gradient whole on every rank
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        return
    device = owner[id(sharded[0])].compute_device

    def squares(chosen: list[Any]) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64, device=device)
        for p in chosen:
            if p.grad is not None:
                total += torch.linalg.vector_norm(p.grad, dtype=torch.float64).to(device) ** 2
        return total

    # One sum per process group, in the parameters' order (the same on every rank)
    by_group: dict[int, tuple[Any, list[Any]]] = {}
    for p in sharded:
        group = owner[id(p)].process_group
        by_group.setdefault(id(group), (group, []))[1].append(p)
    total = torch.zeros((), dtype=torch.float64, device=device)
    for group, chosen in by_group.values():
        part = squares(chosen)
        torch.distributed.all_reduce(part, group=group)
        total += part
    # whole gradients count once: reduced, they would count once per rank
    sharded_ids = {id(p) for p in sharded}
    total += squares([p for p in params if id(p) not in sharded_ids])
    coefficient = torch.clamp(max_norm / (total.sqrt() + 1e-6), max=1.0)
    for p in params:
        if p.grad is not None:
            p.grad.mul_(coefficient.to(p.grad.device, p.grad.dtype))
