"""The rank side of test_torch_ddp.py; run as ``torchrun --nproc_per_node=2 ddp_worker.py OUT``.

Both parts use the helpers of test_torch_ddp (the same model, data and settings the
single-process reference uses). Rank 0 gathers every rank's numbers and writes them to
OUT/ranks.json; the range test is asked to write OUT/result-rank{r}.json on every rank,
which only rank 0 may do.
"""

import json
import os
import sys


def main(out):
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import test_torch_ddp as common

    from cyclr.torch import CyclicLR, distributed, range_test

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    train_set, val_set = common.datasets()

    def loader(dataset):
        # Unshuffled shards: global batch k is samples [32k, 32k + 32) split over the ranks.
        sampler = DistributedSampler(dataset, shuffle=False)
        return DataLoader(dataset, batch_size=common.GLOBAL_BATCH // world, sampler=sampler)

    # 1. CyclicLR under DDP.
    model = DistributedDataParallel(common.model())
    opt = common.optimizer(model)
    lrs, momenta = common.train_with_schedule(
        model, opt, CyclicLR(opt, common.SCHEDULE), loader(train_set)
    )
    params = [p.detach().flatten().tolist() for p in model.parameters()]

    # 2. The range test under DDP, left exactly as found.
    model = DistributedDataParallel(common.model())
    opt = common.optimizer(model)
    train_loader, val_loader = loader(train_set), loader(val_set)
    train_loader.sampler.set_epoch(5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        train_loader,
        val_loader=val_loader,
        val_accuracy=True,
        json_path=os.path.join(out, f"result-rank{rank}.json"),
        **common.RANGE_TEST,
    )
    restored = (
        all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
        and train_loader.sampler.epoch == 5
        and opt.state_dict()["state"] == {}
    )

    mine = {
        "rank": rank,
        "lrs": lrs,
        "momenta": momenta,
        "params": params,
        "result": result.to_dict(),
        "restored": restored,
        "is_main": distributed.is_main_process(),
    }
    # 3. Gradients averaged by hand (for a model DDP does not wrap): per dtype, a gradient
    # missing on one rank counts as zero there, one missing on every rank stays missing.
    a, b, c = (torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)) for _ in range(3))
    d = torch.nn.Parameter(torch.zeros(1))
    a.grad = torch.tensor([1.0, 2.0], dtype=torch.float64) * (rank + 1)
    if rank == 0:
        b.grad = torch.tensor([4.0, 6.0], dtype=torch.float64)
    d.grad = torch.tensor([float(rank)])
    distributed.average_gradients([a, b, c, d])
    mine["averaged"] = [
        None if p.grad is None else [p.grad.dtype == p.dtype, p.grad.tolist()] for p in (a, b, c, d)
    ]

    gathered = [None] * world
    dist.all_gather_object(gathered, mine)
    if rank == 0:
        with open(os.path.join(out, "ranks.json"), "w") as handle:
            json.dump(gathered, handle)
    # Both ranks leave together: a rank that tears gloo down while its peer is still busy
    # can take the peer down with it (seen once, rank 1 aborted, on a loaded machine).
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    from worker_exit import leave  # the script's folder is on sys.path

    main(sys.argv[1])
    leave()
