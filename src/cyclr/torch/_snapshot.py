"""The range test's snapshot: everything it changes, saved first and put back after."""

from __future__ import annotations

import copy
import os
import random
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist

#: where the snapshot keeps the model's and the optimizer's tensors
Storage = Literal["memory", "cpu", "files"]


class Snapshot:
    """Everything the range test changes, saved on entry and put back on exit (any exit).

    The model's and the optimizer's state (in memory, in CPU memory with
    ``cpu_offload``, or in a temporary file inside ``checkpoint_dir``, one per
    rank), the parameters' ``.grad``, each module's train/eval mode, the random
    number generators (torch's global ones, every ``torch.Generator`` a loader
    or its samplers hold, NumPy's and Python's global ones: so the batches,
    augmentations and dropout masks of the training that follows are those it
    would have had without the test), a ``DistributedSampler``'s epoch, and a
    ``GradScaler``'s scale and growth tracker (kept in memory: a few numbers)
    with its record of this optimizer.

    A sharded model (FSDP2's ``fully_shard`` or FSDP1's
    ``FullyShardedDataParallel``) is saved shard by shard: each rank keeps the
    tensors it holds itself (its shards of the parameters, gradients and
    optimizer state, and its buffers), never a gathered full state, and copies
    them back in place. FSDP1 goes through its ``LOCAL_STATE_DICT`` (the flat
    parameter's local shard, no collective); its ``SHARDED_STATE_DICT``, which
    ``torch.distributed.checkpoint``'s ``get_state_dict`` uses, all-gathers
    every parameter on the way in and out.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Any,
        loaders: list[Any],
        checkpoint_dir: str | os.PathLike[str] | None = None,
        grad_scaler: torch.amp.GradScaler | None = None,
        cpu_offload: bool = False,
    ) -> None:
        self.model, self.optimizer, self.checkpoint_dir = model, optimizer, checkpoint_dir
        self.grad_scaler = grad_scaler
        self.storage: Storage = (
            "files" if checkpoint_dir is not None else "cpu" if cpu_offload else "memory"
        )
        self.sharding = sharding(model)
        self.samplers = [getattr(loader, "sampler", None) for loader in loaders]
        self.generators = _generators(loaders)
        self.path: str | None = None
        #: bytes of tensor data the snapshot holds (in memory, or in its file)
        self.nbytes = 0

    def __enter__(self) -> Snapshot:
        if self.sharding is None:
            self._save_whole()
        else:
            self._save_shards()
        self.modes = [m.training for m in self.model.modules()]
        self.rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.epochs = [getattr(s, "epoch", None) for s in self.samplers]
        self.generator_states = [g.get_state() for g in self.generators]
        self.host_rng = (np.random.get_state(), random.getstate())
        if self.grad_scaler is not None:
            self.scaler_state = copy.deepcopy(self.grad_scaler.state_dict())
            self.scaler_stage = _optimizer_record(self.grad_scaler, self.optimizer)
        return self

    def __exit__(self, *exc_info: object) -> Literal[False]:
        try:
            if self.sharding is None:
                self._load_whole()
            else:
                self._load_shards()
            for m, mode in zip(self.model.modules(), self.modes, strict=False):
                m.training = mode
            torch.set_rng_state(self.rng)
            if self.cuda_rng is not None:
                torch.cuda.set_rng_state_all(self.cuda_rng)
            for sampler, epoch in zip(self.samplers, self.epochs, strict=True):
                if sampler is not None and epoch is not None:
                    sampler.epoch = epoch
            for generator, saved in zip(self.generators, self.generator_states, strict=False):
                generator.set_state(saved)
            np.random.set_state(self.host_rng[0])
            random.setstate(self.host_rng[1])
            if self.grad_scaler is not None:
                self.grad_scaler.load_state_dict(self.scaler_state)
                _put_optimizer_record(self.grad_scaler, self.optimizer, self.scaler_stage)
        finally:
            if self.path is not None:
                os.remove(self.path)
        return False  # an exception (KeyboardInterrupt included) goes on up

    # -- a model whole (one process, DDP): its state_dict ---------------------------------------

    def _save_whole(self) -> None:
        params = list(self.model.parameters())
        if self.storage == "files":
            self.path = self._new_file()
            grads = [None if p.grad is None else p.grad.detach() for p in params]
            state = {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "grads": grads,
            }
            torch.save(state, self.path)
            self.nbytes = os.path.getsize(self.path)
            return
        keep = _keeper(self.storage)
        grads = [None if p.grad is None else keep(p.grad) for p in params]
        if self.storage == "memory":
            optimizer_state = copy.deepcopy(self.optimizer.state_dict())
        else:
            optimizer_state = _map_tensors(self.optimizer.state_dict(), keep)
        self.state = {
            "model": {k: keep(v) for k, v in self.model.state_dict().items()},
            "optimizer": optimizer_state,
            "grads": grads,
        }
        self.nbytes = _tensor_bytes(self.state)

    def _load_whole(self) -> None:
        # Our own file, written a moment ago: the optimizer's state_dict may hold
        # values a weights-only load refuses (custom optimizers).
        state = self.state if self.path is None else torch.load(self.path, weights_only=False)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        with torch.no_grad():
            for p, g in zip(self.model.parameters(), state["grads"], strict=False):
                p.grad = None if g is None else g.to(p.device)

    # -- a sharded model (FSDP): every rank its own shards ----------------------------------------

    def _save_shards(self) -> None:
        leaves: list[torch.Tensor] = []
        local = local_model_state(self.model)
        self.model_keys = [(k, t.shape, t.dtype) for k, t in local.items()]
        leaves.extend(t.detach() for t in local.values())
        grads = [None if p.grad is None else p.grad for p in self.model.parameters()]
        self.grads_skeleton = _pack(grads, leaves)
        self.optimizer_skeleton = _pack(self.optimizer.state_dict(), leaves)
        if self.storage == "files":
            self.path = self._new_file()
            torch.save(leaves, self.path)
            self.nbytes = os.path.getsize(self.path)
            self.leaves: list[torch.Tensor] | None = None
        else:
            keep = _keeper(self.storage)
            self.leaves = [keep(t) for t in leaves]
            self.nbytes = _tensor_bytes(self.leaves)

    def _load_shards(self) -> None:
        leaves, copy_leaves = self.leaves, False
        if leaves is None:  # only plain tensors in the file: a weights-only load reads it
            assert self.path is not None
            # Mapped, not read: the weights are copied from the file shard by shard; the
            # optimizer state and gradients are copied out of it (nothing stays mapped).
            leaves = torch.load(self.path, weights_only=True, map_location="cpu", mmap=True)
            copy_leaves = True
        reshard(self.model)
        local = local_model_state(self.model)
        now = [(k, t.shape, t.dtype) for k, t in local.items()]
        if now != self.model_keys:
            raise RuntimeError(
                "the range test cannot restore the model: its sharded state changed layout "
                f"during the test (was {self.model_keys!r}, now {now!r})"
            )
        with torch.no_grad():
            for target, saved in zip(local.values(), leaves, strict=False):
                target.copy_(saved)
        # The test's gradients and optimizer state go before the saved ones come back, so
        # that the two are never held together.
        params = list(self.model.parameters())
        for p in params:
            p.grad = None
        state = getattr(self.optimizer, "state", None)
        if isinstance(state, dict):
            state.clear()
        self.optimizer.load_state_dict(_unpack(self.optimizer_skeleton, leaves, copy_leaves))
        grads = _unpack(self.grads_skeleton, leaves, copy_leaves)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=False):
                p.grad = g

    def _new_file(self) -> str:
        rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        handle, path = tempfile.mkstemp(
            prefix=f"cyclr-range-test-rank{rank}-", suffix=".pt", dir=self.checkpoint_dir
        )
        os.close(handle)
        return path


def sharding(model: torch.nn.Module) -> Literal["fsdp1", "fsdp2"] | None:
    """``'fsdp2'`` (``fully_shard``), ``'fsdp1'`` (``FullyShardedDataParallel``), else ``None``."""
    if not dist.is_available():
        return None
    from torch.distributed.fsdp import FSDPModule, FullyShardedDataParallel

    modules = list(model.modules())
    if any(isinstance(m, FullyShardedDataParallel) for m in modules):
        return "fsdp1"
    if any(isinstance(m, FSDPModule) for m in modules):
        return "fsdp2"
    return None


def reshard(model: torch.nn.Module) -> None:
    """Put FSDP2's sharded parameters back in place (after an interrupted forward)."""
    if sharding(model) == "fsdp2":
        from torch.distributed.fsdp import FSDPModule

        for module in model.modules():
            if isinstance(module, FSDPModule):
                module.reshard()


def local_model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's tensors as this rank holds them: views of its own storage, no copy.

    Plain and DDP models: ``state_dict()``. FSDP2: the same, each ``DTensor``'s
    local shard. FSDP1: its ``LOCAL_STATE_DICT``, the flat parameter's local
    shard (without padding) and the buffers; the original parameters' views
    into that shard (``use_orig_params=True``) are left out, being the same
    numbers. Entries that are not tensors (a module's extra state) are left out.
    """
    if sharding(model) == "fsdp1":
        from torch.distributed.fsdp import FullyShardedDataParallel, StateDictType

        with warnings.catch_warnings():
            # FSDP1's state-dict API and its ShardedTensor say they are deprecated for FSDP2.
            warnings.simplefilter("ignore", FutureWarning)
            with FullyShardedDataParallel.state_dict_type(model, StateDictType.LOCAL_STATE_DICT):
                state = model.state_dict()
    else:
        state = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    flat_storages = set()
    for key, value in state.items():
        shards = getattr(value, "local_shards", None)  # FSDP1's ShardedTensor
        if callable(shards):
            for i, shard in enumerate(shards()):
                out[f"{key}#{i}"] = shard.tensor
                flat_storages.add(shard.tensor.untyped_storage().data_ptr())
    for key, value in state.items():
        if not isinstance(value, torch.Tensor) or callable(getattr(value, "local_shards", None)):
            continue
        tensor = _local(value)
        if tensor.numel() and tensor.untyped_storage().data_ptr() in flat_storages:
            continue
        out[key] = tensor
    return out


def _local(tensor: torch.Tensor) -> torch.Tensor:
    to_local = getattr(tensor, "to_local", None)  # a DTensor's shard on this rank
    return to_local() if callable(to_local) else tensor


@dataclass(frozen=True)
class _Leaf:
    """Where a tensor went in the list of saved tensors, and what it was."""

    index: int
    device: torch.device
    #: a DTensor's mesh, placements, global shape and stride; ``None`` for a plain tensor
    spec: tuple[Any, Any, torch.Size, tuple[int, ...]] | None


def _pack(obj: Any, leaves: list[torch.Tensor]) -> Any:
    """``obj`` with each tensor a ``_Leaf``, its local part appended to ``leaves``."""
    if isinstance(obj, torch.Tensor):
        spec = None
        if callable(getattr(obj, "to_local", None)):
            spec = (obj.device_mesh, obj.placements, obj.shape, obj.stride())  # type: ignore[attr-defined]
        tensor = _local(obj).detach()
        leaves.append(tensor)
        return _Leaf(len(leaves) - 1, tensor.device, spec)
    if isinstance(obj, dict):
        return type(obj)((k, _pack(v, leaves)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_pack(v, leaves) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_pack(v, leaves) for v in obj)
    return copy.deepcopy(obj)


def _unpack(obj: Any, leaves: list[torch.Tensor], copy: bool = False) -> Any:
    """The inverse of ``_pack``: each ``_Leaf`` back to a tensor (a DTensor) on its device.

    ``copy``: always a new tensor, even on the leaf's own device.
    """
    if isinstance(obj, _Leaf):
        tensor = leaves[obj.index].to(obj.device, copy=copy)
        if obj.spec is None:
            return tensor
        from torch.distributed.tensor import DTensor

        mesh, placements, shape, stride = obj.spec
        return DTensor.from_local(
            tensor, mesh, placements, run_check=False, shape=shape, stride=stride
        )
    if isinstance(obj, dict):
        return type(obj)((k, _unpack(v, leaves, copy)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_unpack(v, leaves, copy) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_unpack(v, leaves, copy) for v in obj)
    return obj


def _keeper(storage: Storage) -> Callable[[torch.Tensor], torch.Tensor]:
    """A tensor's copy: beside it (``'memory'``) or in CPU memory (``'cpu'``)."""
    if storage == "cpu":
        return lambda t: t.detach().to("cpu", copy=True)
    return lambda t: t.detach().clone()


def _map_tensors(obj: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """``obj`` with ``fn`` applied to each tensor in it; everything else deep-copied."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return type(obj)((k, _map_tensors(v, fn)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_map_tensors(v, fn) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_map_tensors(v, fn) for v in obj)
    return copy.deepcopy(obj)


def _tensor_bytes(obj: Any) -> int:
    """The bytes of tensor data in ``obj`` (nested dicts, lists and tuples)."""
    if isinstance(obj, torch.Tensor):
        return _local(obj).nbytes
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def _optimizer_record(scaler: torch.amp.GradScaler, optimizer: Any) -> dict[str, Any] | None:
    # Between unscale_() and update() a GradScaler remembers, per optimizer, that
    # it unscaled it; an interrupted rung must not leave that record behind, or
    # the user's next unscale_() refuses. GradScaler has no public accessor for it.
    records = getattr(scaler, "_per_optimizer_states", None)
    if not isinstance(records, dict) or id(optimizer) not in records:
        return None
    return copy.copy(records[id(optimizer)])


def _put_optimizer_record(
    scaler: torch.amp.GradScaler, optimizer: Any, record: dict[str, Any] | None
) -> None:
    records = getattr(scaler, "_per_optimizer_states", None)
    if not isinstance(records, dict):
        return
    if record is None:
        records.pop(id(optimizer), None)
    else:
        records[id(optimizer)] = record


def _generators(loaders: list[Any]) -> list[torch.Generator]:
    """Every distinct ``torch.Generator`` held by the loaders and their samplers."""
    found: list[torch.Generator] = []
    for loader in loaders:
        sampler = getattr(loader, "sampler", None)
        batch_sampler = getattr(loader, "batch_sampler", None)
        for owner in (
            loader,
            sampler,
            batch_sampler,
            getattr(batch_sampler, "sampler", None),
            getattr(sampler, "sampler", None),
        ):
            g = getattr(owner, "generator", None)
            if isinstance(g, torch.Generator) and all(g is not f for f in found):
                found.append(g)
    return found
