"""Cyclical learning rate and momentum in TensorBoard, from a plain PyTorch loop.

    python examples/torch_tensorboard.py --logdir runs/clr
    tensorboard --logdir runs/clr

A tiny regression model with two parameter groups (the head at a tenth of the
rate, through the group's ``lr_scale`` key) trains with SGD, driven by
``cyclr.torch.CyclicLR``. Every step writes, with
``torch.utils.tensorboard.SummaryWriter``:

- ``lr/<group>``: the learning rate the step's update used, from
  ``scheduler.get_last_lr()``;
- ``momentum/<group>``: its momentum (``scheduler.get_last_momentum()``: SGD's
  ``momentum``, or Adam's ``beta_1``);
- ``loss``: the batch's training loss.

Read before ``optimizer.step()``, the values are those the update uses; the
scheduler steps after it. Needs the ``tensorboard`` package.
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.tensorboard import SummaryWriter

import cyclr
from cyclr.torch import CyclicLR


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs/clr", help="the TensorBoard run folder")
    parser.add_argument("--steps", type=int, default=200, help="optimizer updates to run")
    parser.add_argument("--base-lr", type=float, default=0.01)
    parser.add_argument("--max-lr", type=float, default=0.1)
    parser.add_argument("--step-size", type=int, default=25, help="half a cycle, in updates")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    x = torch.randn(1024, 16)
    y = x @ torch.randn(16, 1) + 0.1 * torch.randn(1024, 1)
    body, head = torch.nn.Linear(16, 32), torch.nn.Linear(32, 1)
    model = torch.nn.Sequential(body, torch.nn.ReLU(), head)
    optimizer = torch.optim.SGD(
        [
            {"params": body.parameters()},
            {"params": head.parameters(), "lr_scale": 0.1},
        ],
        lr=args.base_lr,
        momentum=0.9,
    )
    schedule = cyclr.CyclicSchedule(
        args.base_lr,
        args.max_lr,
        step_size=args.step_size,
        base_momentum=0.85,
        max_momentum=0.95,
    )
    scheduler = CyclicLR(optimizer, schedule)
    names = ["body", "head"]

    with SummaryWriter(args.logdir) as writer:
        for step in range(args.steps):
            batch = torch.randint(0, x.shape[0], (32,))
            loss = torch.nn.functional.mse_loss(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            # the values this update uses, per parameter group
            for name, lr, momentum in zip(
                names, scheduler.get_last_lr(), scheduler.get_last_momentum(), strict=True
            ):
                writer.add_scalar(f"lr/{name}", float(lr), step)
                writer.add_scalar(f"momentum/{name}", momentum, step)
            writer.add_scalar("loss", loss.item(), step)
            optimizer.step()
            scheduler.step()
    print(f"wrote {args.steps} steps of lr, momentum and loss to {args.logdir}")


if __name__ == "__main__":
    main()
