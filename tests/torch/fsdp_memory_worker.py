"""What the range test's snapshot costs each rank under FSDP2, in each storage.

Run as ``torchrun --standalone --nproc_per_node=K fsdp_memory_worker.py OUT SIZE [SIZE ...]``
(SIZE: parameters of the model, e.g. 4e6). For each size: a float32 MLP of that many
parameters, ``fully_shard``-ed over the K ranks, after a few AdamW steps (so gradients and
both moment buffers exist); then for each storage (``memory``, ``cpu`` = ``cpu_offload``,
``files`` = ``checkpoint_dir``): the bytes the snapshot holds, the rank's resident memory
(RSS) it adds while held and at its peak while being taken (sampled every 0.2 ms), and the
seconds to take and to restore it. Rank 0 writes OUT/memory.json (the largest over ranks)
and prints a table. test_torch_fsdp.py runs it small; docs/scale.md quotes larger runs.
"""

import json
import os
import sys
import threading
import time


def rss():
    import psutil

    return psutil.Process().memory_info().rss


def trim():
    """Hand freed heap memory back to the system, so that what is allocated next shows in RSS."""
    import contextlib
    import ctypes

    # Not glibc: nothing to trim, and RSS deltas may then understate what is allocated.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Peak:
    """The largest RSS seen while the block runs."""

    def __enter__(self):
        self.peak, self.running = rss(), True
        self.thread = threading.Thread(target=self.poll, daemon=True)
        self.thread.start()
        return self

    def poll(self):
        while self.running:
            self.peak = max(self.peak, rss())
            time.sleep(0.0002)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss())


def mlp(n_params):
    """Four square Linear layers with about ``n_params`` parameters in all."""
    import torch

    width = max(8, int((n_params / 4) ** 0.5))
    layers = [torch.nn.Linear(width, width) for _ in range(4)]
    return torch.nn.Sequential(*layers), width


def measure(n_params, out):
    import torch
    import torch.distributed as dist
    from torch.distributed.fsdp import fully_shard

    from cyclr.torch._snapshot import Snapshot

    torch.manual_seed(0)
    model, width = mlp(n_params)
    for layer in model:
        fully_shard(layer)
    fully_shard(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(8, width)
    for _ in range(2):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
    total = sum(p.numel() for p in model.parameters())
    local = sum(p.to_local().numel() for p in model.parameters())
    rows = []
    folder = os.path.join(out, "checkpoints")
    os.makedirs(folder, exist_ok=True)
    for storage in ("memory", "cpu", "files"):
        dist.barrier()
        trim()
        start = rss()
        snap = Snapshot(
            model, opt, [], folder if storage == "files" else None, cpu_offload=storage == "cpu"
        )
        with Peak() as peak:
            t0 = time.perf_counter()
            snap.__enter__()
            taken = time.perf_counter() - t0
        held = rss() - start
        with Peak() as restore_peak:
            t0 = time.perf_counter()
            snap.__exit__(None, None, None)
            restored = time.perf_counter() - t0
        nbytes = snap.nbytes
        del snap
        rows.append(
            {
                "params": total,
                "local_params": local,
                "ranks": dist.get_world_size(),
                "storage": storage,
                "snapshot_mb": nbytes / 2**20,
                "held_rss_mb": held / 2**20,
                "peak_rss_mb": (peak.peak - start) / 2**20,
                "restore_peak_rss_mb": (restore_peak.peak - start) / 2**20,
                "take_s": taken,
                "restore_s": restored,
            }
        )
    return rows


def main(out, sizes):
    import torch.distributed as dist

    dist.init_process_group("gloo")
    rows = [row for size in sizes for row in measure(int(float(size)), out)]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, rows)
    if dist.get_rank() == 0:
        worst = [
            {
                k: max(r[i][k] for r in gathered) if k.endswith(("_mb", "_s")) else v
                for k, v in row.items()
            }
            for i, row in enumerate(gathered[0])
        ]
        with open(os.path.join(out, "memory.json"), "w") as handle:
            json.dump(worst, handle)
        print(
            "| params N | ranks K | storage | snapshot MB/rank | RSS held MB | RSS peak "
            "taking MB | RSS peak restoring MB | take s | restore s |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in worst:
            print(
                f"| {r['params']:.3g} | {r['ranks']} | {r['storage']} | {r['snapshot_mb']:.2f} | "
                f"{r['held_rss_mb']:.2f} | {r['peak_rss_mb']:.2f} | "
                f"{r['restore_peak_rss_mb']:.2f} | {r['take_s']:.4f} | "
                f"{r['restore_s']:.4f} |"
            )
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    from worker_exit import leave  # the script's folder is on sys.path

    main(sys.argv[1], sys.argv[2:])
    leave()
