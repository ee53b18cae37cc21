"""Per-step overhead of cyclr's schedulers, as a ratio against a constant learning rate.

On a tiny model (an MLP 40-64-10 on MNIST-1D-sized random data, batch 32),
where a scheduler's cost shows most, in the same process as its baseline:

- PyTorch: no scheduler (constant lr) vs ``cyclr.torch.CyclicLR`` vs
  ``torch.optim.lr_scheduler.CyclicLR``, each also with cyclical momentum, and
  the floor: an object that only writes a precomputed lr (what any scheduler
  stepped from Python costs here); a plain loop over pre-built tensors, one thread.
- Keras, on each backend (each in its own subprocess; bench/overhead_keras.py):
  ``model.fit`` with a constant float lr vs ``cyclr.keras.CyclicalLearningRate``
  (in the graph, also with cyclical momentum through ``cyclr.keras.SGD``) vs the
  callback ``cyclr.keras.CyclicLR`` vs a bckenstler-style callback written there.

Method (bench/overhead_measure.py): the variants run interleaved (rounds of A B
C ..., the order rotated each round) after a warm-up round that compiles or
traces everything; each round times a fixed number of training steps per variant
(Keras: from the epoch's start to its end, so fit's own set-up is left out). The
table gives the median time per step, the median over rounds of the ratio to the
constant lr of the same round, and its quartiles. Goal (issue 7): at most 1.02x
for the in-graph schedule and for the PyTorch scheduler.

From the repository root:

    .venv/bin/python -m bench.overhead            # ~3 min on 2 cores
    .venv/bin/python -m bench.overhead --quick --out /tmp/overhead.md  # ~40 s smoke run

Prints a markdown table and writes it under the provenance header (bench/common.py)
to bench/results/overhead.md (a ``--quick`` run: only to ``--out``). Timings taken
while other work runs are not trustworthy: a warning is printed when the load
average is high.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from bench import common
from bench.overhead_measure import (
    BASE_LR,
    BASE_MOMENTUM,
    BATCH,
    CONSTANT_LR,
    HIDDEN,
    MAX_LR,
    MAX_MOMENTUM,
    MOMENTUM,
    N_CLASSES,
    N_FEATURES,
    STEP_SIZE,
    alone_us,
    interleaved,
    random_data,
)

TITLE = "Per-step overhead against a constant learning rate (issue 7, part 3)"
PARTS = ("torch", "keras-tensorflow", "keras-jax", "keras-torch")
RESULT_TAG = "RESULT "
GOAL = 1.02
LOAD_WARNING = 1.5

# (steps per round and variant, rounds) for each part: short rounds, many of them, so
# that a burst of other work spoils a few rounds rather than shifting every one.
SIZES = {
    "full": {"torch": (25, 600), "keras": (50, 40)},
    "quick": {"torch": (25, 60), "keras": (50, 5)},
}


# -------------------------------------------------------------------- PyTorch


def _torch_variant(batches: list, scheduler):
    """``(one_round, alone)`` for one PyTorch variant: a fresh model, its optimizer and
    ``scheduler(optimizer)`` (None: a constant lr); ``alone`` steps a spare scheduler."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(N_FEATURES, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, N_CLASSES)
    )
    opt = torch.optim.SGD(model.parameters(), lr=CONSTANT_LR, momentum=MOMENTUM)
    sched = scheduler(opt) if scheduler else None
    loss_fn = torch.nn.functional.cross_entropy

    def one_round() -> float:
        start = time.perf_counter()
        for xb, yb in batches:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xb), yb).backward()
            opt.step()
            if sched is not None:
                sched.step()
        return (time.perf_counter() - start) / len(batches)

    alone = None
    if scheduler:  # a second optimizer on the same weights, so training is untouched
        spare = scheduler(torch.optim.SGD(model.parameters(), lr=CONSTANT_LR, momentum=MOMENTUM))
        alone = spare.step
    return one_round, alone


def _torch_schedulers() -> dict:
    """The PyTorch variants by name: a function ``optimizer -> scheduler`` (None: constant)."""
    import numpy as np
    import torch

    import cyclr
    import cyclr.torch

    plain = cyclr.CyclicSchedule(BASE_LR, MAX_LR, STEP_SIZE)
    with_momentum = cyclr.CyclicSchedule(
        BASE_LR, MAX_LR, STEP_SIZE, base_momentum=BASE_MOMENTUM, max_momentum=MAX_MOMENTUM
    )

    def torch_clr(cycle_momentum):
        return lambda opt: torch.optim.lr_scheduler.CyclicLR(
            opt,
            BASE_LR,
            MAX_LR,
            step_size_up=STEP_SIZE,
            cycle_momentum=cycle_momentum,
            base_momentum=BASE_MOMENTUM,
            max_momentum=MAX_MOMENTUM,
        )

    class Floor:
        """The least a Python scheduler can do: write a precomputed float (no math, no
        checks); what any scheduler stepped from Python pays in this loop."""

        def __init__(self, opt):
            self.groups, self.n = opt.param_groups, -1
            self.rates = plain(np.arange(100_000)).tolist()

        def step(self):
            self.n += 1
            self.groups[0]["lr"] = self.rates[self.n % 100_000]

    return {
        "constant lr (no scheduler)": None,
        "floor: a Python object writing a precomputed lr": Floor,
        "`cyclr.torch.CyclicLR`": lambda opt: cyclr.torch.CyclicLR(opt, plain),
        "`torch.optim.lr_scheduler.CyclicLR`": torch_clr(False),
        "`cyclr.torch.CyclicLR` + momentum": lambda opt: cyclr.torch.CyclicLR(opt, with_momentum),
        "`torch...CyclicLR` + momentum": torch_clr(True),
    }


def run_torch(steps: int, rounds: int) -> dict:
    import torch

    torch.set_num_threads(1)
    x, y = random_data(steps * BATCH)
    batches = list(
        zip(torch.from_numpy(x).split(BATCH), torch.from_numpy(y).split(BATCH), strict=True)
    )
    variants = {name: _torch_variant(batches, make) for name, make in _torch_schedulers().items()}
    rows = interleaved(variants, rounds, "constant lr (no scheduler)")
    for row in rows:
        row["framework"] = "PyTorch (plain loop)"
        row["alone"] = alone_us(variants[row["variant"]])
        row["alone_note"] = "`scheduler.step()`" if row["alone"] is not None else ""
        row["goal"] = row["variant"].startswith("`cyclr.torch.CyclicLR`")
    return {
        "rows": rows,
        "versions": {"torch": torch.__version__},
        "threads": torch.get_num_threads(),
    }


def run_part(part: str, quick: bool) -> dict:
    sizes = SIZES["quick" if quick else "full"]
    if part == "torch":
        steps, rounds = sizes["torch"]
        result = run_torch(steps, rounds)
    else:
        steps, rounds = sizes["keras"]
        from bench.overhead_keras import run_keras  # imports keras: children only

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
        env["XLA_FLAGS"] = (
            env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
            "intra_op_parallelism_threads=1"
        ).strip()
    return env


def run_child(part: str, quick: bool) -> dict:
    """Run one part in a fresh process (its own framework and backend); its result."""
    cmd = [sys.executable, "-m", "bench.overhead", "--part", part] + (["--quick"] if quick else [])
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, env=child_env(part), cwd=common.ROOT, capture_output=True, text=True, check=False
    )  # a failure is reported below, with its output
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).splitlines()[-20:])
        raise SystemExit(
            f"bench.overhead: the {part} part failed (exit code {proc.returncode}):\n{tail}"
        )
    result = json.loads(lines[-1][len(RESULT_TAG) :])
    result["seconds"] = time.perf_counter() - start
    common.log(f"  {part}: {result['seconds']:.0f} s")
    return result


def table(results: list[dict]) -> str:
    lines = [
        (
            "| framework | variant | µs / step | ratio vs constant lr | quartiles "
            f"| ratio of fastest rounds | goal <= {GOAL}x | µs alone (what) |"
        ),
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for result in results:
        for row in result["rows"]:
            goal = ""
            if row["goal"]:
                goal = "met" if row["ratio"] <= GOAL else "**not met**"
            alone = "" if row["alone"] is None else f"{row['alone']:,.1f} "
            lines.append(
                f"| {row['framework']} | {row['variant']} | {row['us']:,.1f} "
                f"| {row['ratio']:.3f}x | {row['q1']:.3f}-{row['q3']:.3f} "
                f"| {row['best']:.3f}x | {goal} | {alone}{row['alone_note']} |"
            )
    return "\n".join(lines)


def method_notes(results: list[dict], warning: str) -> str:
    """What was timed and how to read the columns."""
    sizes = ", ".join(f"{r['part']}: {r['rounds']} rounds x {r['steps']} steps" for r in results)
    return "\n".join(
        [
            (
                f"- model: MLP {N_FEATURES}-{HIDDEN}-{N_CLASSES}, SGD momentum {MOMENTUM}, "
                f"batch {BATCH}, random MNIST-1D-sized data; schedule {BASE_LR:g}..{MAX_LR:g}, "
                f"step_size {STEP_SIZE}; one compute thread per framework"
            ),
            (
                f"- rounds: {sizes}; variants interleaved, order rotated each round, "
                "after a warm-up round"
            ),
            (
                "- µs / step: median over rounds; ratio: median over rounds of the variant's time "
                "over the constant lr's time in the same round (the goal is judged on it); "
                "quartiles: the 25th and 75th percentiles of those ratios; ratio of fastest "
                "rounds: the variant's fastest round over the constant lr's fastest round; "
                "µs alone: the scheduler's own per-step work called on its own outside training, "
                "fastest of 7 x 1000 calls (load only adds to it; on jax the batch hooks also "
                "cost fit a state sync per batch, not included)"
            ),
        ]
        + ([f"- {warning}"] if warning else [])
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer, shorter rounds (~40 s); writes only to --out"
    )
    parser.add_argument(
        "--only", nargs="+", choices=PARTS, default=list(PARTS), help="run only these parts"
    )
    parser.add_argument("--out", help="markdown file (default bench/results/overhead.md)")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)  # one child process
    args = parser.parse_args(argv)
    if args.part:
        print(RESULT_TAG + json.dumps(run_part(args.part, args.quick)), flush=True)
        return 0
    out = common.output_path("overhead", quick=args.quick, out=args.out)
    started = common.start()
    warning = ""
    if started.load is not None and started.load[0] > LOAD_WARNING:
        warning = (
            f"WARNING: 1-minute load average {started.load[0]:.2f} > {LOAD_WARNING} on "
            f"{os.cpu_count()} cores at the start: other work shares the CPUs, so these "
            "ratios are noisier than on a quiet machine."
        )
        common.log(warning)
    results = [run_child(part, args.quick) for part in args.only]
    body = method_notes(results, warning) + "\n\n" + table(results)
    print(body)
    if out is not None:
        versions = {k: v for r in results for k, v in r["versions"].items()}
        header = common.provenance(
            started,
            common.command("overhead", argv),
            seeds="0 (random data and initial weights)",
            threads=1,
            versions=versions,
        )
        common.log(f"wrote {common.write_result(out, TITLE, header, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded("overhead", main))
