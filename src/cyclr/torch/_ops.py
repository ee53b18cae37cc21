"""The core's :class:`cyclr.ops.Ops` for torch tensors (float64 unless given a float tensor)."""

from __future__ import annotations

from typing import Any

import torch

from cyclr.ops import Ops


def _asfloat(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        return x
    return torch.as_tensor(x, dtype=torch.float64)


TORCH_OPS = Ops(
    name="torch",
    asfloat=_asfloat,
    floor=torch.floor,
    cos=torch.cos,
    exp=torch.exp,
    where=torch.where,
    clip=torch.clamp,
)
