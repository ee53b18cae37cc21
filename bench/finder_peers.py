"""The range test against its peers: seconds to a suggestion, how well it trains (issue 7, part 2).

On digits (the seed's CNN) and MNIST-1D (the 1-D CNN), batch 32, for each seed
every finder starts from that seed's initial weights and gives a suggestion:

- cyclr: ``cyclr.torch.range_test`` through the app's ``TorchRunner`` (SGD,
  momentum 0.9, 1e-4 -> 10 in 400 rungs, :data:`CYCLR_LADDER`: `cyclr find`'s SGD default
  when the published table was measured; it now runs the library's 1e-5 -> 10 in 450, and
  the table keeps this ladder until it is rerun), read by ``suggest_bounds``: a pair
  ``(base_lr, max_lr)``.
- torch-lr-finder 0.2.2, run live as its README sets it up (the "fastai" form:
  optimizer at 1e-7, ``range_test(loader, end_lr=100, num_iter=100)``), and
  again on cyclr's ladder (1e-4 -> 10, 400 iterations) to separate the
  settings from the reading; its suggestion is what ``plot(suggest_lr=True)``
  returns: the steepest gradient of its smoothed loss, 10 points trimmed at
  the start and 5 at the end.
- a Wittmann-style sweep, as the seed sets it up: a Keras callback raises the
  lr exponentially from 1e-4 to 1 over 10 epochs, records ``logs['loss']`` (in
  Keras 3 batch hooks, the running mean over the epoch), stops when that loss
  passes 4x its best, and picks the steepest descent of the recorded curve
  (5-batch differences, 10 batches trimmed at the start, 5 at the end). Written
  here; it runs on Keras's torch backend (same threads as the rest).

A single rate becomes ``max_lr`` with ``base_lr = max_lr / 4``. Each pair then
trains the same way, in PyTorch with the app's ``TorchRunner``: SGD momentum
0.9, triangular CLR, half cycle 2 epochs, 8 epochs (two whole cycles), from the
same seed's weights and batch order. "seconds" is the wall time from the start
of the finder to its suggestion (model building and imports excluded).

From the repository root:

    .venv/bin/python -m bench.finder_peers            # 70 s on 1 thread (load ~1)
    .venv/bin/python -m bench.finder_peers --quick --out /tmp/fp.md  # ~15 s smoke run

(70 s measured for the full run with a load average of ~1 on 2 cores, 131 s at ~4.)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
from dataclasses import dataclass

# The Keras peer runs on the torch backend: one framework, one thread pool for every finder.
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLCONFIGDIR", "/tmp")

import numpy as np

from bench import common

BATCH_SIZE = 32
HALF_CYCLE_EPOCHS = 2
EPOCHS = 8  # two whole cycles: training ends at base_lr
SINGLE_RATE_RATIO = 4.0  # base_lr = max_lr / 4 for a finder that gives one rate
#: cyclr's ladder here, ``(start_lr, end_lr, num_steps)``: the one the published table
#: (bench/results/finder_peers.md) was measured on, `cyclr find`'s SGD default then.
CYCLR_LADDER = (1e-4, 10.0, 400)


@dataclass(frozen=True)
class Task:
    name: str
    dataset: str
    model: str


TASKS = (
    Task("digits / seed CNN", "digits", "seed_cnn"),
    Task("MNIST-1D / 1-D CNN", "mnist1d", "cnn1d"),
)


# ----------------------------------------------------------------------------- the finders
def cyclr_finder(runner):
    """cyclr's range test as `cyclr find` runs it, on :data:`CYCLR_LADDER`; its bounds."""
    from cyclr import RangeTestSettings

    settings = RangeTestSettings(*CYCLR_LADDER, monitor="loss")  # no validation split here
    bounds = runner.range_test("sgd", settings).bounds()
    return bounds.base_lr, bounds.max_lr


def torch_lr_finder(runner, start_lr, end_lr, num_iter):
    """torch-lr-finder's range test and its suggestion (``plot(suggest_lr=True)``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from torch_lr_finder import LRFinder

    model = runner.model
    optimizer = torch.optim.SGD(model.parameters(), lr=start_lr, momentum=0.9)
    fig, ax = plt.subplots()
    # its progress bar and messages would bury the bench's own lines
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder = LRFinder(model, optimizer, runner.criterion)
        finder.range_test(runner.train_loader(seed_offset=10_000), end_lr=end_lr, num_iter=num_iter)
        _, lr = finder.plot(ax=ax, suggest_lr=True)
        finder.reset()
    plt.close(fig)
    return float(lr)


def epoch_mean_sweep(
    data,
    model_name,
    seed,
    min_lr=1e-4,
    max_lr=1.0,
    epochs=10,
    stop_factor=4.0,
    window=5,
    skip_start=10,
    skip_end=5,
):
    """The Wittmann-style sweep in Keras: the steepest-descent lr of the epoch-mean loss."""
    import keras

    from cyclr.app.keras_models import build

    class Sweep(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.total = epochs * self.params["steps"]
            self.lrs, self.losses, self.best = [], [], np.inf

        def on_train_batch_begin(self, batch, logs=None):
            lr = min_lr * (max_lr / min_lr) ** (len(self.lrs) / (self.total - 1))
            self.model.optimizer.learning_rate.assign(lr)
            self.lrs.append(lr)

        def on_train_batch_end(self, batch, logs=None):
            loss = float(logs["loss"])  # the running mean of this epoch so far
            self.losses.append(loss)
            self.best = min(self.best, loss)
            if not np.isfinite(loss) or loss > stop_factor * self.best:
                self.model.stop_training = True

    keras.utils.set_random_seed(seed)
    model = build(model_name, data.input_shape, data.num_classes)
    start = time.perf_counter()
    model.compile(
        optimizer=keras.optimizers.SGD(min_lr, momentum=0.9), loss="sparse_categorical_crossentropy"
    )
    sweep = Sweep()
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        shuffle=True,
        callbacks=[sweep],
        verbose=0,
    )
    lrs, losses = np.array(sweep.lrs[: len(sweep.losses)]), np.array(sweep.losses)
    slope = np.full(losses.shape, np.inf)
    slope[window:] = (losses[window:] - losses[:-window]) / window
    slope[:skip_start], slope[len(slope) - skip_end :] = np.inf, np.inf
    slope[~np.isfinite(losses)] = np.inf
    pick = int(np.argmin(slope))
    # The epoch mean restarts at every epoch: a pick just after a restart reads that jump.
    at_restart = pick % sweep.params["steps"] < window
    return float(lrs[pick]), at_restart, time.perf_counter() - start


# ----------------------------------------------------------------------------- the bench
def train_clr(data, task, seed, base_lr, max_lr, epochs) -> float:
    """Test accuracy after triangular CLR training between ``base_lr`` and ``max_lr``."""
    from cyclr.app.policies import make_plan
    from cyclr.app.session import MetricsLog
    from cyclr.app.torch_runner import TorchRunner
    from cyclr.app.workflow import half_cycle, train_plan

    runner = TorchRunner(data, task.model, BATCH_SIZE, seed)
    plan = make_plan(
        "triangular",
        total_steps=epochs * runner.steps_per_epoch,
        step_size=half_cycle(data, BATCH_SIZE, HALF_CYCLE_EPOCHS),
        base_lr=base_lr,
        max_lr=max_lr,
    )
    return train_plan(runner, plan, epochs, MetricsLog())["test_accuracy"]


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def suggestions_for(data, task, seed, quick) -> dict:
    """finder name -> ((base_lr, max_lr), seconds, what it suggested, in words)."""
    from cyclr.app.torch_runner import TorchRunner

    found = {}
    runner = TorchRunner(data, task.model, BATCH_SIZE, seed)
    (base, high), secs = timed(cyclr_finder, runner)
    found["cyclr range test (bounds)"] = (base, high), secs, f"{base:.2g} .. {high:.2g}"
    settings = {
        "torch-lr-finder (README: 1e-7 → 100, 100 it.)": (1e-7, 100.0, 100),
        "torch-lr-finder (cyclr's ladder: 1e-4 → 10, 400 it.)": CYCLR_LADDER,
    }
    for name, (start, end, n) in settings.items():
        runner.new_model()
        lr, secs = timed(torch_lr_finder, runner, start, end, n)
        found[name] = (lr / SINGLE_RATE_RATIO, lr), secs, f"{lr:.2g}"
    epochs = 2 if quick else 10
    lr, at_restart, secs = epoch_mean_sweep(data, task.model, seed, epochs=epochs)
    found[f"Wittmann-style Keras sweep ({epochs} epochs, epoch-mean loss)"] = (
        (lr / SINGLE_RATE_RATIO, lr),
        secs,
        f"{lr:.2g}" + ("*" if at_restart else ""),
    )
    return found


def run_bench(tasks, seeds, epochs, quick) -> str:
    from cyclr.app.data import load_data

    rows = []
    for task in tasks:
        data = load_data(task.dataset, validation_split=0.0)
        results = {}  # finder -> list of (seconds, suggestion text, accuracy)
        for seed in seeds:
            for name, ((base, high), secs, text) in suggestions_for(
                data, task, seed, quick
            ).items():
                accuracy = train_clr(data, task, seed, base, high, epochs)
                results.setdefault(name, []).append((secs, text, accuracy))
                common.log(
                    f"{task.name} seed {seed} {name}: {text} in {secs:.1f} s -> "
                    f"{100 * accuracy:.2f}%"
                )
        for name, got in results.items():
            rows.append(
                (
                    task.name,
                    name,
                    f"{statistics.fmean(g[0] for g in got):.1f}",
                    "; ".join(g[1] for g in got),
                    common.mean_std(g[2] for g in got),
                )
            )
    header = (
        "task",
        "finder",
        "seconds to a suggestion (mean)",
        "suggested lr(s), per seed",
        "accuracy % of CLR from it (mean ± std)",
    )
    return common.markdown_table(header, rows, ("---", "---", "---:", "---", "---:"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="digits only, 1 seed, a 2-epoch sweep, 2 training epochs; writes only to --out",
    )
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--out", help="markdown file (default bench/results/finder_peers.md)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        raise common.BenchError(f"--seeds must be at least 1; received --seeds={args.seeds}")
    out = common.output_path("finder_peers", quick=args.quick, out=args.out)
    import torch

    torch.set_num_threads(args.threads)
    started, t0 = common.start(), time.perf_counter()
    tasks, seeds, epochs = TASKS, range(args.seeds), EPOCHS
    if args.quick:
        tasks, seeds, epochs = TASKS[:1], range(1), 2
    table = run_bench(tasks, seeds, epochs, args.quick)
    import keras

    notes = (
        f"Batch {BATCH_SIZE}; CLR training: SGD momentum 0.9, triangular, half cycle "
        f"{HALF_CYCLE_EPOCHS} epochs, {epochs} epochs, PyTorch for every finder; a single "
        f"suggested rate is max_lr, base_lr = max_lr / {SINGLE_RATE_RATIO:g}. Keras on the "
        f"{keras.backend.backend()} backend. *: the sweep's pick lies within 5 batches after "
        f"an epoch start, where the epoch-mean loss restarts (docs/semantics.md, *The "
        f"learning-rate range test*). "
        f"Total {time.perf_counter() - t0:.0f} s."
    )
    print(table + "\n\n" + notes)
    if out is not None:
        header = common.provenance(
            started,
            common.command("finder_peers", argv),
            seeds=seeds,
            packages=("torch", "keras", "torch_lr_finder", "sklearn", "mnist1d"),
            threads=args.threads,
        )
        path = common.write_result(
            out, "Range test against its peers", header, table + "\n\n" + notes
        )
        common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded("finder_peers", main))
