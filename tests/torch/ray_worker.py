"""The driver of test_torch_launchers.py's Ray test: ``python ray_worker.py OUT``.

It starts a local Ray instance with 2 CPUs and runs Ray Train's ``TorchTrainer`` with 2 CPU
workers (gloo). Each worker runs the range test on the DDP model Ray prepared, then trains
a cycle from its bounds; the bounds and what each worker saw come back through Ray's result
and are written to OUT/result.json. The model, data and schedule are test_torch_ddp's.
"""

import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def train_loop_per_worker(config):
    import torch
    import torch.distributed as dist
    from ray import train
    from ray.train.torch import prepare_data_loader, prepare_model
    from torch.utils.data import DataLoader

    sys.path.insert(0, config["here"])
    import test_torch_ddp as common

    from cyclr import CyclicSchedule, RangeTestSettings
    from cyclr.torch import CyclicLR, distributed, range_test

    train_set, _ = common.datasets()
    world = distributed.world_size()
    loader = prepare_data_loader(
        DataLoader(train_set, batch_size=common.GLOBAL_BATCH // world), move_to_device=False
    )
    model = prepare_model(common.model(), move_to_device=False)
    opt = common.optimizer(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = range_test(
        model,
        opt,
        torch.nn.functional.cross_entropy,
        loader,
        settings=RangeTestSettings(1e-3, 1e3, 40),
    )
    restored = all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    base_lr, max_lr = result.bounds()
    schedule = CyclicSchedule(base_lr, max_lr, step_size=3)
    sched = CyclicLR(opt, schedule)
    lrs = []
    while len(lrs) < 12:
        for x, y in loader:
            lrs.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
            sched.step()
            if len(lrs) == 12:
                break
    mine = {
        "rank": distributed.rank(),
        "world": world,
        "restored": restored,
        "losses": result.losses.tolist(),
        "lrs": lrs,
        "expected_lrs": [schedule(i) for i in range(12)],
    }
    gathered = [None] * world
    dist.all_gather_object(gathered, mine)
    metrics = {"base_lr": base_lr, "max_lr": max_lr, "workers": json.dumps(gathered)}
    # Ray Train (v2) keeps, in the Result, the metrics reported with a checkpoint.
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = None
        if distributed.is_main_process():
            with open(os.path.join(folder, "bounds.json"), "w") as handle:
                json.dump([base_lr, max_lr], handle)
            checkpoint = train.Checkpoint.from_directory(folder)
        train.report(metrics, checkpoint=checkpoint)


def main(out):
    import ray
    import ray.train
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 2**20)
    try:
        trainer = TorchTrainer(
            train_loop_per_worker,
            train_loop_config={"here": HERE},
            scaling_config=ScalingConfig(num_workers=2, use_gpu=False),
            torch_config=TorchConfig(backend="gloo"),
            run_config=RunConfig(storage_path=os.path.join(out, "ray"), name="cyclr"),
        )
        result = trainer.fit()
    finally:
        ray.shutdown()
    metrics = result.metrics
    with result.checkpoint.as_directory() as folder, open(os.path.join(folder, "bounds.json")) as f:
        checkpointed = json.load(f)
    with open(os.path.join(out, "result.json"), "w") as handle:
        json.dump(
            {
                "bounds": [metrics["base_lr"], metrics["max_lr"]],
                "checkpointed": checkpointed,
                "workers": json.loads(metrics["workers"]),
                "ray": ray.__version__,
            },
            handle,
        )


if __name__ == "__main__":
    main(sys.argv[1])
