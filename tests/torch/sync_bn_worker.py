"""The rank side of test_torch_cuda.py's SyncBatchNorm test, and its one-process reference.

Run as ``torchrun --nproc_per_node=2 sync_bn_worker.py OUT`` on a machine with one GPU:
both ranks share it (gloo carries CUDA tensors; NCCL refuses two ranks on one device).
Each rank writes OUT/rank{r}.json: its range test's losses and whether it was restored.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_torch_ddp import GLOBAL_BATCH, datasets  # the data of the CPU DDP test

from cyclr import RangeTestSettings

# Up to where the loss has fallen and begun to climb, short of divergence: float64 keeps
# the two runs within ~1e-12 of each other there (sums in another order).
RANGE_TEST = RangeTestSettings(1e-3, 3.0, 40, val_every=4)


def model():
    import torch

    torch.manual_seed(0)
    layers = [
        torch.nn.Flatten(),
        torch.nn.Linear(64, 32),
        torch.nn.BatchNorm1d(32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 10),
    ]
    return torch.nn.Sequential(*layers).double().cuda()


def run(net, train_loader, val_loader):
    import torch

    from cyclr.torch import range_test

    opt = torch.optim.SGD(net.parameters(), lr=0.0, momentum=0.9)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = range_test(
        net,
        opt,
        torch.nn.functional.cross_entropy,
        train_loader,
        val_loader=val_loader,
        settings=RANGE_TEST,
    )
    after = net.state_dict()
    restored = all(torch.equal(v, after[k]) for k, v in before.items())
    return result, restored


def reference():
    """One process, plain BatchNorm, whole batches: ``(losses, val_losses)``."""
    from torch.utils.data import DataLoader

    train_set, val_set = datasets()
    result, restored = run(
        model(),
        DataLoader(train_set, batch_size=GLOBAL_BATCH),
        DataLoader(val_set, batch_size=GLOBAL_BATCH),
    )
    assert restored
    return result.losses.tolist(), result.val_losses.tolist()


def main(out):
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader
    from torch.utils.data.distributed import DistributedSampler

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.cuda.set_device(0)
    train_set, val_set = datasets()

    def loader(dataset):
        # Unshuffled shards: global batch k is samples [32k, 32k + 32) split over the ranks.
        sampler = DistributedSampler(dataset, shuffle=False)
        return DataLoader(dataset, batch_size=GLOBAL_BATCH // world, sampler=sampler)

    net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model())
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in net.modules())
    result, restored = run(
        DistributedDataParallel(net, device_ids=[0]), loader(train_set), loader(val_set)
    )
    mine = {
        "losses": result.losses.tolist(),
        "val_losses": result.val_losses.tolist(),
        "restored": restored,
    }
    with open(os.path.join(out, f"rank{rank}.json"), "w") as handle:
        json.dump(mine, handle)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    from worker_exit import leave

    main(sys.argv[1])
    leave()
