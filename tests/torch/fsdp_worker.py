"""The rank side of test_torch_fsdp.py: ``torchrun --nproc_per_node=2 fsdp_worker.py KIND OUT``.

KIND is ``fsdp2`` (``fully_shard`` on every Linear, then the root) or ``fsdp1``
(``FullyShardedDataParallel`` on the CPU); the last part shards the Linear layers alone,
under a plain root. The model, data and settings are test_torch_ddp's, so the
single-process reference is that test's. Rank 0 gathers every rank's numbers into
OUT/ranks.json.
"""

import json
import os
import sys


def main(kind, out):
    import torch
    import torch.distributed as dist
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import test_torch_ddp as common

    from cyclr import RangeTestSettings
    from cyclr.torch import CyclicLR, range_test
    from cyclr.torch._snapshot import Snapshot, local_model_state

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    train_set, val_set = common.datasets()

    def loader(dataset):
        sampler = DistributedSampler(dataset, shuffle=False)
        return DataLoader(dataset, batch_size=common.GLOBAL_BATCH // world, sampler=sampler)

    def sharded(use_orig_params=False, dtype=torch.float64):
        net = common.model().to(dtype)
        if kind == "fsdp2":
            from torch.distributed.fsdp import fully_shard

            for layer in net.net:
                if isinstance(layer, torch.nn.Linear):
                    fully_shard(layer)
            return fully_shard(net)
        from torch.distributed.fsdp import FullyShardedDataParallel

        return FullyShardedDataParallel(
            net, device_id=torch.device("cpu"), use_orig_params=use_orig_params
        )

    def full_params(net):
        if kind == "fsdp2":
            return [p.full_tensor().flatten().tolist() for p in net.parameters()]
        from torch.distributed.fsdp import FullyShardedDataParallel

        with FullyShardedDataParallel.summon_full_params(net):
            return [p.detach().flatten().tolist() for p in net.parameters()]

    def local_state(net, opt):
        """This rank's shards: model (local views), gradients, optimizer state (local parts)."""

        def local(t):
            return t.to_local() if hasattr(t, "to_local") else t

        state = {k: v.clone() for k, v in local_model_state(net).items()}
        grads = [None if p.grad is None else local(p.grad).clone() for p in net.parameters()]
        optim = {
            i: {k: local(v).clone() if torch.is_tensor(v) else v for k, v in s.items()}
            for i, s in opt.state_dict()["state"].items()
        }
        return state, grads, optim, [dict(g, params=None) for g in opt.param_groups]

    def same(a, b):
        if torch.is_tensor(a):
            return torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b)
        if isinstance(a, dict):
            return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, (list, tuple)):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
        return a == b

    mine = {"rank": rank}

    # 1. CyclicLR over the sharded optimizer.
    net = sharded()
    opt = common.optimizer(net)
    lrs, momenta = common.train_with_schedule(
        net, opt, CyclicLR(opt, common.SCHEDULE), loader(train_set)
    )
    mine.update(lrs=lrs, momenta=momenta, params=full_params(net))

    # 2. The range test from a fresh model, as the single-process reference runs it.
    net = sharded()
    result = range_test(
        net,
        common.optimizer(net),
        torch.nn.functional.cross_entropy,
        loader(train_set),
        val_loader=loader(val_set),
        val_accuracy=True,
        **common.RANGE_TEST,
    )
    mine["result"] = result.to_dict()
    # ... and clipped: by the norm of the whole gradient, not of this rank's shard (float32:
    # FSDP1's own clip_grad_norm_ refuses float64 gradients).
    net = sharded(dtype=torch.float32)
    clipped = range_test(
        net,
        common.optimizer(net),
        torch.nn.functional.cross_entropy,
        loader(train_set),
        batch_fn=common.as_float32,
        **common.CLIPPED_RANGE_TEST,
    )
    mine["clipped"] = clipped.losses.tolist()

    # 3. Each storage, from a model that has trained (momentum buffers, gradients): restored
    # bit for bit on every shard, the same curve in each, the file is this rank's own.
    net = sharded()
    opt = common.optimizer(net)
    for group in opt.param_groups:
        group["lr"] = 0.05
    train_loader = loader(train_set)
    for _, (x, y) in zip(range(3), train_loader, strict=False):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    net.eval()
    before = local_state(net, opt)
    files_seen = []  # the checkpoint folder during the test with checkpoint_dir
    checkpoint_dir = os.path.join(out, "checkpoints")
    os.makedirs(checkpoint_dir, exist_ok=True)

    def criterion(outputs, targets):
        if not files_seen and storage[0] == "files":
            files_seen.append(sorted(os.listdir(checkpoint_dir)))
        return torch.nn.functional.cross_entropy(outputs, targets)

    storages = {"memory": {}, "cpu": {"cpu_offload": True}, "files": {}}
    storages["files"]["checkpoint_dir"] = checkpoint_dir
    curves, restored, storage = {}, {}, [None]
    for name, options in storages.items():
        storage[0] = name
        r = range_test(
            net, opt, criterion, train_loader, settings=RangeTestSettings(1e-3, 10.0, 25), **options
        )
        curves[name] = r.losses.tolist()
        restored[name] = same(before, local_state(net, opt)) and not net.training
    # An exception mid-test: restored all the same.
    calls = []

    def failing(outputs, targets):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return torch.nn.functional.cross_entropy(outputs, targets)

    try:
        range_test(net, opt, failing, train_loader, settings=RangeTestSettings(1e-3, num_steps=10))
    except RuntimeError:
        restored["exception"] = same(before, local_state(net, opt))
    mine.update(curves=curves, restored=restored, files_seen=files_seen[0])
    mine["files_after"] = sorted(os.listdir(checkpoint_dir))

    # 4. What the snapshot holds on this rank, against the whole state.
    with Snapshot(net, opt, [], None) as snap:
        mine["snapshot_bytes"] = snap.nbytes
    local_bytes = sum(t.nbytes for t in local_model_state(net).values())
    mine["local_model_bytes"] = local_bytes
    mine["full_model_bytes"] = sum(
        p.numel() * p.element_size() for p in common.model().parameters()
    )

    # 5. FSDP1 with use_orig_params=True: the parameters are views into the flat shard,
    # saved once (with it), restored bit for bit.
    if kind == "fsdp1":
        net = sharded(use_orig_params=True)
        opt = common.optimizer(net)
        for _, (x, y) in zip(range(2), train_loader, strict=False):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        before = local_state(net, opt)
        range_test(net, opt, criterion, train_loader, settings=RangeTestSettings(1e-3, 10.0, 15))
        mine["orig_params_restored"] = same(before, local_state(net, opt))
        with Snapshot(net, opt, [], None) as snap:
            # weights once (the flat shard), gradients and momentum of each original parameter
            mine["orig_params_bytes"] = [snap.nbytes, sum(t.nbytes for t in before[0].values())]

    # 6. Sharded Linear layers under a plain root, clipped: by the whole gradient's norm all
    # the same (FSDP1: the two layers shard over two process groups, the default and another).
    net = common.model().float()
    linears = [i for i, layer in enumerate(net.net) if isinstance(layer, torch.nn.Linear)]
    groups = [None, dist.new_group([0, 1])] if kind == "fsdp1" else [None, None]
    for i, group in zip(linears, groups, strict=True):
        if kind == "fsdp2":
            from torch.distributed.fsdp import fully_shard

            fully_shard(net.net[i])
        else:
            from torch.distributed.fsdp import FullyShardedDataParallel

            net.net[i] = FullyShardedDataParallel(
                net.net[i], device_id=torch.device("cpu"), process_group=group
            )
    nested = range_test(
        net,
        common.optimizer(net),
        torch.nn.functional.cross_entropy,
        loader(train_set),
        batch_fn=common.as_float32,
        **common.CLIPPED_RANGE_TEST,
    )
    mine["nested_clipped"] = nested.losses.tolist()

    gathered = [None] * world
    dist.all_gather_object(gathered, mine)
    if rank == 0:
        with open(os.path.join(out, "ranks.json"), "w") as handle:
            json.dump(gathered, handle)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    from worker_exit import leave  # the script's folder is on sys.path

    main(sys.argv[1], sys.argv[2])
    leave()
