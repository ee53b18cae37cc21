"""The fitting tasks of ``bench.suggest_bounds``: the tasks, their range test and training.

Holds the three fitting tasks (digits CNN, MNIST-1D CNN and MLP), the seeded batch order
every bench shares (:class:`SeededBatches`), the range test and triangular training of a
task, the readings' bounds, the measurement over seeds and grid, its table rows, and the
recording of the tests' fixture curves.
"""

from __future__ import annotations

import copy
import itertools
import math
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

import cyclr
import cyclr.torch
from bench import common
from cyclr.app import datasets, torch_models
from cyclr.rangetest import minimum, steepest, valley

MOMENTUM = 0.9
HALF_CYCLE_EPOCHS = 2
HALF_CYCLES = 4  # 8 epochs, two whole cycles
GRID_MAX = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
GRID_RATIO = (3.0, 10.0)  # base_lr = max_lr / ratio
QUICK_GRID = ((0.01, 3.0), (0.1, 3.0), (1.0, 3.0))
SINGLE_READINGS = {"steepest": steepest, "valley": valley, "minimum": minimum}
NOISE_ROW = "best grid pair x 0.99 (noise)"


@dataclass(frozen=True)
class Task:
    name: str
    dataset: str
    model: str
    batch_size: int


TASKS = (
    Task("digits / seed CNN", "digits", "seed_cnn", 32),
    Task("MNIST-1D / 1-D CNN", "mnist1d", "cnn1d", 32),
    Task("MNIST-1D / MLP", "mnist1d", "mlp", 32),
)


class SeededBatches:
    """``(inputs, targets)`` batches, one epoch per pass, in an order fixed by ``seed``.

    Every pass draws the next permutation from one generator, so the range test
    (which restarts its loader when the ladder outlasts an epoch) and the training
    that follows see the same batches in the same order for the same seed.
    """

    def __init__(self, x, y, batch_size: int, seed: int):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.generator = torch.Generator().manual_seed(10_000 + seed)

    def __iter__(self):
        for idx in torch.randperm(len(self.x), generator=self.generator).split(self.batch_size):
            yield self.x[idx], self.y[idx]

    def forever(self):
        """Epoch after epoch, without end (for training)."""
        return itertools.chain.from_iterable(itertools.repeat(self))


def fresh_model(task, x, seed):
    torch.manual_seed(seed)
    return torch_models.build(task.model, x.shape[1:])


def range_test(model, x, y, task, seed, *, val=None, **ladder):
    """``cyclr.torch.range_test`` on ``model`` (left as it was), read on the training loss.

    Its ladder is the shipped default unless ``ladder`` gives ``start_lr``, ``end_lr``
    or ``num_steps`` (of ``cyclr.RangeTestSettings``). ``val``, an ``(inputs, targets)``
    pair, adds the validation loss and accuracy of every rung (for the tests' fixtures);
    the readings still read the training loss.
    """
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=MOMENTUM)
    return cyclr.torch.range_test(
        model,
        opt,
        nn.CrossEntropyLoss(),
        SeededBatches(x, y, task.batch_size, seed),
        settings=cyclr.RangeTestSettings(**ladder, val_every=1, monitor="loss"),
        val_loader=None if val is None else [val],
        val_accuracy=val is not None,
        progress=False,
    )


def train(model, data, task, seed, base_lr, max_lr):
    """Train a copy of ``model`` with a triangular cycle; return the test accuracy in %."""
    x, y, xt, yt = data
    work = copy.deepcopy(model)
    half = cyclr.step_size_for(len(x), task.batch_size, HALF_CYCLE_EPOCHS)
    schedule = cyclr.CyclicSchedule(base_lr, max_lr, half)
    opt = torch.optim.SGD(work.parameters(), lr=base_lr, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    batches = SeededBatches(x, y, task.batch_size, seed).forever()
    work.train()
    for step, (xb, yb) in enumerate(itertools.islice(batches, HALF_CYCLES * half)):
        for group in opt.param_groups:
            group["lr"] = schedule(step)
        loss = loss_fn(work(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not math.isfinite(loss.item()):
            return 100.0 * (1.0 / 10)  # diverged: chance level, no need to go on
    work.eval()
    with torch.no_grad():
        return 100.0 * (work(xt).argmax(1) == yt).float().mean().item()


def load(task):
    x, y, xt, yt = datasets.load(task.dataset)
    return tuple(torch.from_numpy(a) for a in (x, y, xt, yt))


def methods_for(result):
    """Bounds from each reading of one range test: name -> (base_lr, max_lr)."""
    base, high = cyclr.suggest_bounds(result.lrs, result.losses)
    found = {"suggest_bounds": (base, high)}
    for name, reading in SINGLE_READINGS.items():
        lr, _ = reading(result.lrs, result.losses)
        found[f"{name} / 4"] = (lr / 4.0, lr)
    return found


def fmt_pair(pair):
    return f"{pair[0]:.2g} .. {pair[1]:.2g}"


def measure_task(task, seeds, grid):
    """Train every method on every seed: ``(accuracies, bounds, best grid name)`` by method."""
    data = load(task)
    x, y = data[0], data[1]
    acc, bounds = {}, {}  # method -> list over seeds
    for seed in seeds:
        t0 = time.time()
        model = fresh_model(task, x, seed)
        result = range_test(model, x, y, task, seed)
        methods = methods_for(result)
        for mx, ratio in grid:
            methods[f"grid {mx / ratio:.2g} .. {mx:.2g}"] = (mx / ratio, mx)
        for name, (base, high) in methods.items():
            acc.setdefault(name, []).append(train(model, data, task, seed, base, high))
            bounds.setdefault(name, []).append((base, high))
        common.log(
            f"{task.name} seed {seed}: range test stopped {result.stop_reason} at rung "
            f"{result.lrs.size}; suggest_bounds {fmt_pair(methods['suggest_bounds'])}; "
            f"{time.time() - t0:.0f} s"
        )
    grid_names = [k for k in acc if k.startswith("grid")]
    best = max(grid_names, key=lambda k: statistics.fmean(acc[k]))
    # The bench's resolution: the best pair again with both bounds 1% lower, a change
    # no reading could mean; what it moves is the chaos of training, not the bounds.
    for seed, (base, high) in zip(seeds, bounds[best], strict=True):
        bounds.setdefault(NOISE_ROW, []).append((base * 0.99, high * 0.99))
        acc.setdefault(NOISE_ROW, []).append(
            train(fresh_model(task, x, seed), data, task, seed, base * 0.99, high * 0.99)
        )
    common.log(
        f"{task.name} grid: "
        + "; ".join(
            f"{k[5:]} {statistics.fmean(acc[k]):.1f}"
            for k in sorted(grid_names, key=lambda k: -statistics.fmean(acc[k]))
        )
    )
    return acc, bounds, best


def task_rows(task, acc, bounds, best):
    """One table row per method (the grid's best pair only): bounds, accuracy, regret."""
    rows = []
    best_mean = statistics.fmean(acc[best])
    n = len(acc[best])
    for name in acc:
        if name.startswith("grid") and name != best:
            continue
        pairs = np.array(bounds[name])
        median = (float(np.median(pairs[:, 0])), float(np.median(pairs[:, 1])))
        std = statistics.stdev(acc[name]) if n > 1 else 0.0
        mean = statistics.fmean(acc[name])
        regret = f"{best_mean - mean:+.2f}"
        if name != best:
            # seed by seed against the best pair (same weights, same batches): its standard error
            gaps = [b - a for a, b in zip(acc[name], acc[best], strict=True)]
            se = statistics.stdev(gaps) / math.sqrt(n) if n > 1 else 0.0
            regret += f" ± {se:.2f}"
        label = "best grid pair" if name == best else name
        rows.append((task.name, label, fmt_pair(median), f"{mean:.2f} ± {std:.2f}", regret))
    return rows


def run_bench(tasks, seeds, grid):
    rows = []
    for task in tasks:
        rows += task_rows(task, *measure_task(task, seeds, grid))
    header = (
        "task",
        "method",
        "bounds (median over seeds)",
        "accuracy % (mean ± std)",
        "regret vs best grid pair (± s.e.)",
    )
    return common.markdown_table(header, rows)


def record_fixtures(folder):
    """Record the real range-test curves the tests read (seed 0 of each task, and extras)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for task in TASKS:
        x, y, xt, yt = load(task)
        slug = f"{task.dataset}_{task.model}"
        result = range_test(fresh_model(task, x, 0), x, y, task, 0, val=(xt[:500], yt[:500]))
        result.to_json(folder / f"{slug}.json")
        common.log(f"{slug}: {result.lrs.size} rungs, {result.stop_reason}")
        # a noisier curve: batches of 8, a ladder that stops early (end_lr 3.0)
        noisy = replace(task, batch_size=8)
        result = range_test(fresh_model(noisy, x, 1), x, y, noisy, 1, end_lr=3.0)
        result.to_json(folder / f"{slug}_batch8.json")
        common.log(f"{slug}_batch8: {result.lrs.size} rungs, {result.stop_reason}")
