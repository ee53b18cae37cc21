"""The seed's workflow in PyTorch: range test -> bounds -> step size -> CLR training -> accuracy.

    python examples/torch_mnist.py                       # sklearn digits, offline
    python examples/torch_mnist.py --dataset mnist1d     # MNIST-1D, generated offline
    python examples/torch_mnist.py --dataset mnist       # MNIST, downloaded once and cached
    python examples/torch_mnist.py --steps 200 --range-steps 40   # a quick look

1. A learning-rate range test (Smith 2017) on the untrained model: one batch
   per rung on an exponential ladder; the model and optimizer come back untouched.
2. Its suggested bounds ``(base_lr, max_lr)``: where the loss starts to fall
   fast and where the fall stops.
3. A half cycle of ``--epochs-per-half-cycle`` epochs (the seed uses 4;
   Smith recommends 2-10), shortened when the budget would not hold one cycle.
4. Training with ``cyclr.torch.CyclicLR`` and SGD with momentum (or Adam),
   then the accuracy on the held-out test set.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import urllib.request

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import cyclr
from cyclr.app import datasets
from cyclr.app.torch_models import build
from cyclr.torch import CyclicLR, range_test

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
DEFAULT_MODEL = {"digits": "seed_cnn", "mnist": "seed_cnn", "mnist1d": "cnn1d"}


def load_mnist(cache_dir: str):
    """MNIST from Keras's mirror, cached in ``cache_dir``; a clear error when offline."""
    path = os.path.join(cache_dir, "mnist.npz")
    if not os.path.exists(path):
        os.makedirs(cache_dir, exist_ok=True)
        try:
            urllib.request.urlretrieve(MNIST_URL, path + ".part")
        except OSError as error:
            raise SystemExit(
                f"error: could not download MNIST ({error}); run offline with "
                "--dataset digits or --dataset mnist1d"
            ) from None
        os.replace(path + ".part", path)
    with np.load(path) as f:
        scale = lambda a: a.astype(np.float32) / 255.0  # noqa: E731
        return (
            scale(f["x_train"]),
            f["y_train"].astype(np.int64),
            scale(f["x_test"]),
            f["y_test"].astype(np.int64),
        )


def loader(x, y, batch_size, shuffle, seed=0):
    data = TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))
    return DataLoader(
        data, batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed)
    )


@torch.no_grad()
def accuracy(model, data, device) -> float:
    model.eval()
    correct = total = 0
    for x, y in data:
        correct += int((model(x.to(device)).argmax(dim=1) == y.to(device)).sum())
        total += len(y)
    model.train()
    return correct / total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DEFAULT_MODEL), default="digits")
    parser.add_argument(
        "--model",
        choices=["seed_cnn", "cnn1d", "mlp"],
        help="default: seed_cnn for images, cnn1d for mnist1d",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=8, help="training epochs")
    parser.add_argument("--steps", type=int, help="training steps instead of --epochs")
    parser.add_argument("--epochs-per-half-cycle", type=float, default=4.0)
    parser.add_argument("--range-steps", type=int, default=100, help="rungs of the range test")
    parser.add_argument("--start-lr", type=float, default=1e-5)
    parser.add_argument("--end-lr", type=float, default=10.0)
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum, Adam beta_1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="folder for range_test.json and range_test.png")
    parser.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/cyclr"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    for name in ("batch_size", "epochs", "range_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.steps is not None and args.steps < 2:
        parser.error("--steps must be >= 2")

    torch.manual_seed(args.seed)
    if args.dataset == "mnist":
        x, y, xt, yt = load_mnist(args.cache_dir)
    else:
        x, y, xt, yt = datasets.load(args.dataset)
    device = torch.device(args.device)
    model = build(args.model or DEFAULT_MODEL[args.dataset], x.shape[1:]).to(device)
    train_data = loader(x, y, args.batch_size, shuffle=True, seed=args.seed)
    test_data = loader(xt, yt, 1000, shuffle=False)
    criterion = torch.nn.CrossEntropyLoss()
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.start_lr, momentum=args.momentum)
    else:
        optimizer = torch.optim.Adam(
            model.parameters(), lr=args.start_lr, betas=(args.momentum, 0.999)
        )
    print(
        f"{args.dataset}: {len(x)} train / {len(xt)} test, inputs {x.shape[1:]}, "
        f"model {type(model).__name__}, device {device}"
    )

    # 1-2. The range test, and the bounds it suggests.
    result = range_test(
        model,
        optimizer,
        criterion,
        train_data,
        settings=cyclr.RangeTestSettings(args.start_lr, args.end_lr, args.range_steps),
    )
    print(result.summary())
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        result.to_json(os.path.join(args.out, "range_test.json"))
        try:
            result.plot(os.path.join(args.out, "range_test.png"))
        except ImportError:
            print("matplotlib is not installed: no plot")
    base_lr, max_lr = result.bounds()

    # 3. The step size: a few epochs per half cycle, at least one whole cycle in the budget.
    per_epoch = len(train_data)
    total = args.steps if args.steps is not None else args.epochs * per_epoch
    step_size = cyclr.step_size_for(len(x), args.batch_size, args.epochs_per_half_cycle)
    if 2 * step_size > total:
        step_size = max(1, total // 2)
        print(f"the budget of {total} steps is short: step_size shortened to {step_size}")
    schedule = cyclr.CyclicSchedule(base_lr, max_lr, step_size)
    for finding in cyclr.check(schedule, total, steps_per_epoch=per_epoch):
        print(f"note: {finding}")
    print(
        f"training {total} steps: base_lr={base_lr:.3g}, max_lr={max_lr:.3g}, "
        f"step_size={step_size} ({step_size / per_epoch:.2g} epochs)"
    )

    # 4. Cyclical training.
    scheduler = CyclicLR(optimizer, schedule)
    model.train()
    step = 0
    for epoch in range(math.ceil(total / per_epoch)):
        running = 0.0
        for inputs, targets in train_data:
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(inputs.to(device)), targets.to(device))
            loss.backward()
            optimizer.step()
            scheduler.step()
            running += float(loss.detach())
            step += 1
            if step == total:
                break
        batches = (step - 1) % per_epoch + 1
        print(
            f"epoch {epoch + 1}: step {step}, loss {running / batches:.4f}, "
            f"lr now {scheduler.get_last_lr()[0]:.3g}"
        )
    print(f"test accuracy: {accuracy(model, test_data, device):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
