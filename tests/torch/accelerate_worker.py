"""The process side of test_torch_launchers.py's accelerate test.

Run as ``accelerate launch --cpu --num_processes 2 accelerate_worker.py OUT``. The model,
data and schedule are test_torch_ddp's. Rank 0 gathers every process's numbers into
OUT/ranks.json.
"""

import json
import os
import sys


def main(out):
    import torch
    import torch.distributed as dist
    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import test_torch_ddp as common

    from cyclr import CyclicSchedule, RangeTestSettings
    from cyclr.torch import CyclicLR, range_test

    train_set, _ = common.datasets()
    per_process = common.GLOBAL_BATCH // 2

    def train(accelerator, model, opt, loader, sched, steps):
        """``steps`` updates; the lr and momentum of each, read as the optimizer steps."""
        seen = []
        opt.optimizer.register_step_pre_hook(
            lambda o, a, k: seen.append((o.param_groups[0]["lr"], o.param_groups[0]["momentum"]))
        )
        while len(seen) < steps:
            for x, y in loader:
                opt.zero_grad()
                accelerator.backward(torch.nn.functional.cross_entropy(model(x), y))
                opt.step()
                sched.step()
                if len(seen) == steps:
                    break
        return [lr for lr, _ in seen], [m for _, m in seen]

    def prepared(accelerator, schedule):
        model = common.model()
        opt = common.optimizer(model)
        loader = DataLoader(train_set, batch_size=per_process)
        return accelerator.prepare(model, opt, loader, CyclicLR(opt, schedule))

    mine = {}
    # 1. accelerate's defaults: a prepared scheduler is stepped once per process per update.
    accelerator = Accelerator(cpu=True)
    mine["num_processes"] = accelerator.num_processes
    mine["default"] = train(
        accelerator, *prepared(accelerator, common.SCHEDULE), common.SCHEDULE_STEPS
    )[0]

    # 2. step_scheduler_with_optimizer=False: once per update, the cycle counts updates.
    accelerator = Accelerator(cpu=True, step_scheduler_with_optimizer=False)
    model, opt, loader, sched = prepared(accelerator, common.SCHEDULE)
    mine["lrs"], mine["momenta"] = train(
        accelerator, model, opt, loader, sched, common.SCHEDULE_STEPS
    )

    # 3. The range test through the prepared objects (accelerate steps, cyclr sets the lr),
    # then a cycle from its bounds, over the same prepared optimizer.
    model = common.model()
    opt = common.optimizer(model)
    loader = DataLoader(train_set, batch_size=per_process)
    placeholder = CyclicLR(opt, CyclicSchedule(1e-3, 1e-2, step_size=4))
    model, opt, loader, _ = accelerator.prepare(model, opt, loader, placeholder)
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def step_fn(batch):
        x, y = batch
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        accelerator.backward(loss)
        opt.step()
        return loss

    result = range_test(
        model, opt, None, loader, settings=RangeTestSettings(1e-3, 1e3, 40), step_fn=step_fn
    )
    mine["result"] = result.to_dict()
    mine["restored"] = (
        all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
        and opt.state_dict()["state"] == {}
        and opt.param_groups[0]["lr"] == 1e-3
    )
    base_lr, max_lr = result.bounds()
    schedule = CyclicSchedule(base_lr, max_lr, step_size=3)
    sched = accelerator.prepare(CyclicLR(opt.optimizer, schedule))
    mine["bounds"] = [base_lr, max_lr]
    mine["bounds_lrs"] = train(accelerator, model, opt, loader, sched, 12)[0]
    mine["bounds_expected"] = [schedule(i) for i in range(12)]

    gathered = [None] * accelerator.num_processes
    dist.all_gather_object(gathered, mine)
    if accelerator.is_main_process:
        with open(os.path.join(out, "ranks.json"), "w") as handle:
            json.dump(gathered, handle)
    accelerator.wait_for_everyone()
    dist.destroy_process_group()


if __name__ == "__main__":
    from worker_exit import leave  # the script's folder is on sys.path

    main(sys.argv[1])
    leave()
