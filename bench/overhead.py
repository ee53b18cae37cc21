"""Per-step overhead of cyclr's schedulers, as a ratio against a constant learning rate.

On a tiny model (an MLP 40-64-10 on MNIST-1D-sized random data, batch 32),
where a scheduler's cost shows most, in the same process as its baseline:

- PyTorch: no scheduler (constant lr) vs ``cyclr.torch.CyclicLR`` vs
  ``torch.optim.lr_scheduler.CyclicLR``, each also with cyclical momentum; a
  plain loop over pre-built tensors, one thread.
- Keras, on each backend (each in its own subprocess): ``model.fit`` with a
  constant float lr vs ``cyclr.keras.CyclicalLearningRate`` (in the graph, also
  with cyclical momentum through ``cyclr.keras.SGD``) vs the callback
  ``cyclr.keras.CyclicLR`` vs a bckenstler-style callback written here.

Method: the variants run interleaved (rounds of A B C ..., the order rotated
each round) after a warm-up round that compiles or traces everything; each
round times ``--steps`` training steps per variant (Keras: from the epoch's
start to its end, so fit's own set-up is left out). The table gives the median
time per step, the median over rounds of the ratio to the constant lr of the
same round, and the lowest and highest such ratio. Goal (issue 7): at most
1.02x for the in-graph schedule and for the PyTorch scheduler.

    .venv/bin/python bench/overhead.py            # ~3 min on 2 cores
    .venv/bin/python bench/overhead.py --quick    # ~40 s smoke run

Prints a markdown table and writes it to bench/results/overhead.md with the
command, date, versions and machine load. Timings taken while other work runs
are not trustworthy: a warning is printed when the load average is high.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "overhead.md"
PARTS = ("torch", "keras-tensorflow", "keras-jax", "keras-torch")
RESULT_TAG = "RESULT "
GOAL = 1.02
LOAD_WARNING = 1.5

N_FEATURES, HIDDEN, N_CLASSES, BATCH = 40, 64, 10, 32
BASE_LR, MAX_LR, CONSTANT_LR, STEP_SIZE = 1e-3, 1e-2, 1e-2, 250
MOMENTUM, BASE_MOMENTUM, MAX_MOMENTUM = 0.9, 0.85, 0.95

# (steps per round and variant, rounds) for each part: short rounds, many of them, so
# that a burst of other work spoils a few rounds rather than shifting every one.
SIZES = {
    "full": {"torch": (25, 600), "keras": (50, 40)},
    "quick": {"torch": (25, 60), "keras": (50, 5)},
}


# ---------------------------------------------------------------- measurement

def interleaved(variants: dict, rounds: int, baseline: str) -> list[dict]:
    """Time ``variants`` in rotated rounds.

    ``variants`` maps a name to ``(one_round, alone)``: ``one_round()`` trains
    one round and returns its seconds per step; ``alone`` is for :func:`alone_us`.

    One untimed warm-up call each first. Returns one row per variant: the
    median seconds per step; the median and quartiles over rounds of the ratio
    to ``baseline`` measured in the same round; and the ratio of the fastest
    rounds (other work only ever adds time, so the minima are the least disturbed).
    """
    names = list(variants)
    for name in names:
        variants[name][0]()
    times = {name: [] for name in names}
    # A garbage collection inside one variant's window is noise, and collecting
    # before every window is slow with a framework loaded: freeze what exists and
    # leave the few reference cycles the rounds make to the end.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        for r in range(rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                times[name].append(variants[name][0]())
    finally:
        gc.enable()
        gc.unfreeze()
    rows = []
    best_base = min(times[baseline])
    for name in names:
        ratios = sorted(t / b for t, b in zip(times[name], times[baseline]))
        rows.append({"variant": name, "us": 1e6 * statistics.median(times[name]),
                     "ratio": statistics.median(ratios), "q1": quantile(ratios, 0.25),
                     "q3": quantile(ratios, 0.75), "best": min(times[name]) / best_base})
    return rows


def alone_us(variant) -> float | None:
    """Microseconds per call of the variant's per-step work on its own (fastest of 7 runs).

    Other work only ever adds time, so this is the load-proof part of the overhead.
    """
    alone = variant[1]
    if alone is None:
        return None
    alone()
    number = 1000
    gc.disable()
    try:
        best = min(timeit.repeat(alone, number=number, repeat=7))
    finally:
        gc.enable()
    return 1e6 * best / number


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile of an already sorted list."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (pos - lo) * (sorted_values[hi] - sorted_values[lo])


def random_data(n: int, seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, N_FEATURES)).astype("float32")
    y = rng.integers(0, N_CLASSES, n).astype("int64")
    return x, y


# -------------------------------------------------------------------- PyTorch

def run_torch(steps: int, rounds: int) -> dict:
    import torch

    import cyclr
    import cyclr.torch

    torch.set_num_threads(1)
    x, y = random_data(steps * BATCH)
    batches = list(zip(torch.from_numpy(x).split(BATCH), torch.from_numpy(y).split(BATCH)))
    loss_fn = torch.nn.functional.cross_entropy

    def build(scheduler):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, HIDDEN), torch.nn.ReLU(),
                                    torch.nn.Linear(HIDDEN, N_CLASSES))
        opt = torch.optim.SGD(model.parameters(), lr=CONSTANT_LR, momentum=MOMENTUM)
        sched = scheduler(opt) if scheduler else None

        def one_round() -> float:
            start = time.perf_counter()
            for xb, yb in batches:
                opt.zero_grad(set_to_none=True)
                loss_fn(model(xb), yb).backward()
                opt.step()
                if sched is not None:
                    sched.step()
            return (time.perf_counter() - start) / steps

        alone = None
        if scheduler:  # a second optimizer on the same weights, so training is untouched
            spare = scheduler(torch.optim.SGD(model.parameters(), lr=CONSTANT_LR,
                                              momentum=MOMENTUM))
            alone = spare.step
        return one_round, alone

    plain = cyclr.CyclicSchedule(BASE_LR, MAX_LR, STEP_SIZE)
    with_momentum = cyclr.CyclicSchedule(BASE_LR, MAX_LR, STEP_SIZE,
                                         base_momentum=BASE_MOMENTUM, max_momentum=MAX_MOMENTUM)

    def torch_clr(cycle_momentum):
        return lambda opt: torch.optim.lr_scheduler.CyclicLR(
            opt, BASE_LR, MAX_LR, step_size_up=STEP_SIZE, cycle_momentum=cycle_momentum,
            base_momentum=BASE_MOMENTUM, max_momentum=MAX_MOMENTUM)

    variants = {
        "constant lr (no scheduler)": build(None),
        "`cyclr.torch.CyclicLR`": build(lambda opt: cyclr.torch.CyclicLR(opt, plain)),
        "`torch.optim.lr_scheduler.CyclicLR`": build(torch_clr(False)),
        "`cyclr.torch.CyclicLR` + momentum": build(
            lambda opt: cyclr.torch.CyclicLR(opt, with_momentum)),
        "`torch...CyclicLR` + momentum": build(torch_clr(True)),
    }
    rows = interleaved(variants, rounds, "constant lr (no scheduler)")
    for row in rows:
        row["framework"] = "PyTorch (plain loop)"
        row["alone"] = alone_us(variants[row["variant"]])
        row["alone_note"] = "`scheduler.step()`" if row["alone"] is not None else ""
        row["goal"] = row["variant"] == "`cyclr.torch.CyclicLR`"
    return {"rows": rows, "versions": {"torch": torch.__version__},
            "threads": torch.get_num_threads()}


# ---------------------------------------------------------------------- Keras

def run_keras(backend: str, steps: int, rounds: int) -> dict:
    # KERAS_BACKEND is set by the parent before this process imported anything.
    import keras

    import cyclr.keras

    versions = {"keras": keras.__version__}
    if backend == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        versions["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax
        versions["jax"] = jax.__version__
    elif backend == "torch":
        import torch
        torch.set_num_threads(1)
        versions["torch"] = torch.__version__

    class FormulaCLR(keras.callbacks.Callback):
        """bckenstler-style: a Python counter and formula, assigned before every batch."""

        def __init__(self, base_lr, max_lr, step_size):
            super().__init__()
            self.base_lr, self.max_lr, self.step_size = base_lr, max_lr, step_size
            self.iterations = 0

        def on_train_batch_begin(self, batch, logs=None):
            cycle = math.floor(1 + self.iterations / (2 * self.step_size))
            x = abs(self.iterations / self.step_size - 2 * cycle + 1)
            lr = self.base_lr + (self.max_lr - self.base_lr) * max(0.0, 1.0 - x)
            self.model.optimizer.learning_rate = lr
            self.iterations += 1

    class EpochTimer(keras.callbacks.Callback):
        """Seconds from the epoch's start to its end: fit's set-up is left out.

        Epoch hooks only, so Keras' batch-level dispatch is as without it.
        """

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.start

    x, y = random_data(steps * BATCH)
    y = y.astype("int32")

    def build(learning_rate, callback=None, optimizer=keras.optimizers.SGD):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((N_FEATURES,)),
                                  keras.layers.Dense(HIDDEN, activation="relu"),
                                  keras.layers.Dense(N_CLASSES)])
        lr = learning_rate()
        opt = optimizer(learning_rate=lr, momentum=MOMENTUM)
        model.compile(optimizer=opt,
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        timer = EpochTimer()
        cb = callback() if callback else None
        callbacks = [timer] + ([cb] if cb else [])

        def one_round() -> float:
            model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0,
                      callbacks=callbacks)
            return timer.seconds / steps

        alone = None
        if cb is not None:  # the hooks as fit calls them, with the logs already floats
            def alone():
                cb.on_train_batch_begin(0)
                cb.on_train_batch_end(0, {"loss": 1.0})
        elif backend == "torch" and not isinstance(lr, float):
            # the torch backend runs the step eagerly: the schedule's ops run every step
            if getattr(opt, "momentum_schedule", None) is not None:
                def alone():
                    lr(opt.iterations)
                    lr.momentum(opt.iterations)
            else:
                def alone():
                    lr(opt.iterations)
        return one_round, alone

    def in_graph():
        return cyclr.keras.CyclicalLearningRate(BASE_LR, MAX_LR, STEP_SIZE)

    def in_graph_momentum():
        return cyclr.keras.CyclicalLearningRate(BASE_LR, MAX_LR, STEP_SIZE,
                                                base_momentum=BASE_MOMENTUM,
                                                max_momentum=MAX_MOMENTUM)

    def momentum_sgd(learning_rate, momentum):
        del momentum  # the schedule's momentum replaces the constant one
        return cyclr.keras.SGD(learning_rate=learning_rate, momentum=learning_rate)

    variants = {
        "constant lr (float)": build(lambda: CONSTANT_LR),
        "`CyclicalLearningRate` (in graph)": build(in_graph),
        "`CyclicalLearningRate` + momentum (`cyclr.keras.SGD`)": build(
            in_graph_momentum, optimizer=momentum_sgd),
        "`cyclr.keras.CyclicLR` callback": build(
            lambda: CONSTANT_LR, lambda: cyclr.keras.CyclicLR(BASE_LR, MAX_LR, STEP_SIZE)),
        "bckenstler-style callback (in this bench)": build(
            lambda: CONSTANT_LR, lambda: FormulaCLR(BASE_LR, MAX_LR, STEP_SIZE)),
    }
    rows = interleaved(variants, rounds, "constant lr (float)")
    for row in rows:
        row["framework"] = f"Keras {backend}"
        row["alone"] = alone_us(variants[row["variant"]])
        if "callback" in row["variant"]:
            row["alone_note"] = "batch hooks" + (" (+ fit's state sync)" if backend == "jax"
                                                 else "")
        elif row["variant"].startswith("`Cyclical"):
            row["alone_note"] = ("eager `schedule(iterations)`" + (
                " + `.momentum()`" if "momentum" in row["variant"] else "")
                if row["alone"] is not None else "inside the traced step")
        else:
            row["alone_note"] = ""
        row["goal"] = row["variant"].startswith("`CyclicalLearningRate` (in graph)")
    return {"rows": rows, "versions": versions}


def run_part(part: str, quick: bool) -> dict:
    sizes = SIZES["quick" if quick else "full"]
    if part == "torch":
        steps, rounds = sizes["torch"]
        result = run_torch(steps, rounds)
    else:
        steps, rounds = sizes["keras"]
        result = run_keras(part.split("-", 1)[1], steps, rounds)
    result.update(part=part, steps=steps, rounds=rounds)
    return result


# --------------------------------------------------------------------- parent

def child_env(part: str) -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["OMP_NUM_THREADS"] = "1"
    if part.startswith("keras-"):
        env["KERAS_BACKEND"] = part.split("-", 1)[1]
    if part == "keras-jax":
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                            "intra_op_parallelism_threads=1").strip()
    return env


def run_child(part: str, quick: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part]
    if quick:
        cmd.append("--quick")
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=child_env(part), capture_output=True, text=True,
                          check=False)  # a failure is reported below, with its output
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-20:])
        raise SystemExit(f"bench/overhead.py: the {part} part failed "
                         f"(exit code {proc.returncode}):\n{tail}")
    result = json.loads(lines[-1][len(RESULT_TAG):])
    result["seconds"] = time.perf_counter() - start
    print(f"  {part}: {result['seconds']:.0f} s", file=sys.stderr)
    return result


def table(results: list[dict]) -> str:
    lines = [("| framework | variant | µs / step | ratio vs constant lr | quartiles "
              f"| ratio of fastest rounds | goal <= {GOAL}x | µs alone (what) |"),
             "|---|---|---:|---:|---:|---:|---|---|"]
    for result in results:
        for row in result["rows"]:
            goal = ""
            if row["goal"]:
                goal = "met" if row["ratio"] <= GOAL else "**not met**"
            alone = "" if row["alone"] is None else f"{row['alone']:,.1f} "
            lines.append(f"| {row['framework']} | {row['variant']} | {row['us']:,.1f} "
                         f"| {row['ratio']:.3f}x | {row['q1']:.3f}-{row['q3']:.3f} "
                         f"| {row['best']:.3f}x | {goal} | {alone}{row['alone_note']} |")
    return "\n".join(lines)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (~40 s)")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS),
                        help="run only these parts")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)  # one child process
    args = parser.parse_args(argv)
    if args.part:
        print(RESULT_TAG + json.dumps(run_part(args.part, args.quick)), flush=True)
        return ""

    load_start = os.getloadavg()
    warning = ""
    if load_start[0] > LOAD_WARNING:
        warning = (f"WARNING: 1-minute load average {load_start[0]:.2f} > {LOAD_WARNING} on "
                   f"{os.cpu_count()} cores at the start: other work shares the CPUs, so these "
                   "ratios are noisier than on a quiet machine.")
        print(warning, file=sys.stderr)
    started = datetime.datetime.now().astimezone()
    results = [run_child(part, args.quick) for part in args.only]
    load_end = os.getloadavg()

    versions = {"python": platform.python_version()}
    for result in results:
        versions.update(result["versions"])
    import numpy
    versions["numpy"] = numpy.__version__
    sizes = ", ".join(f"{r['part']}: {r['rounds']} rounds x {r['steps']} steps"
                      for r in results)
    command = "python bench/overhead.py" + (" --quick" if args.quick else "") + (
        "" if args.only == list(PARTS) else " --only " + " ".join(args.only))
    header = "\n".join([
        "Per-step overhead against a constant learning rate (issue 7, part 3)",
        "",
        f"- command: `{command}`",
        (f"- date: {started:%Y-%m-%d %H:%M %Z}; {platform.machine()}, nproc {os.cpu_count()}, "
         "one compute thread per framework"),
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        (f"- load average (1, 5, 15 min): start {', '.join(f'{v:.2f}' for v in load_start)}; "
         f"end {', '.join(f'{v:.2f}' for v in load_end)}"),
        (f"- model: MLP {N_FEATURES}-{HIDDEN}-{N_CLASSES}, SGD momentum {MOMENTUM}, batch {BATCH}, "
         f"random MNIST-1D-sized data; schedule {BASE_LR:g}..{MAX_LR:g}, step_size {STEP_SIZE}"),
        (f"- rounds: {sizes}; variants interleaved, order rotated each round, "
         "after a warm-up round"),
        ("- µs / step: median over rounds; ratio: median over rounds of the variant's time over "
         "the constant lr's time in the same round (the goal is judged on it); quartiles: the "
         "25th and 75th percentiles of those ratios; ratio of fastest rounds: the variant's "
         "fastest round over the constant lr's fastest round; µs alone: the scheduler's own "
         "per-step work called on its own outside training, fastest of 7 x 1000 calls (load "
         "only adds to it; on jax the batch hooks also cost fit a state sync per batch, not "
         "included)"),
    ] + ([f"- {warning}"] if warning else []))
    text = header + "\n\n" + table(results) + "\n"
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text)
    print(text)
    return text


if __name__ == "__main__":
    main()
