"""The process side of test_hf_accelerate.py.

Run as ``accelerate launch --multi_gpu --num_processes 2 accelerate_worker.py OUT``. The
Trainer is test_hf_accelerate's; rank 0 gathers every process's numbers into
OUT/ranks.json and the range test writes OUT/result.json (rank 0 only).
"""

import json
import os
import sys


def main(out):
    import torch.distributed as dist

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import test_hf_accelerate as common

    import cyclr.hf

    t = common.trainer(out, processes=2)  # its Accelerator joins the processes (gloo)
    common.one_update(t)
    before = common.state(t)
    result = cyclr.hf.range_test(
        t, json_path=os.path.join(out, "result.json"), settings=common.LADDER
    )
    mine = {
        "rank": dist.get_rank(),
        "world": dist.get_world_size(),
        "result": result.to_dict(),
        "restored": common.same(common.state(t), before),
        "weights": [p.detach().flatten().tolist() for p in t.model.parameters()],
    }
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, mine)
    if dist.get_rank() == 0:
        with open(os.path.join(out, "ranks.json"), "w") as handle:
            json.dump(gathered, handle)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
    from worker_exit import leave  # tests/torch/worker_exit.py says why

    leave()
