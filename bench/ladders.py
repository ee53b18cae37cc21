"""Does the reading depend on the ladder? The same task's range test on five ladders.

For each task of ``bench.suggest_bounds`` and each seed, the shipped
``cyclr.torch.range_test`` (SGD, momentum 0.9) runs from the same initial weights and the
same batches on five ladders: the one the reading was validated on (1e-4 -> 10 in 400
rungs), the old default of ``range_test``/``find_lr`` (1e-7 -> 10 in 100), and three
others from 150 to 1000 rungs. ``suggest_bounds`` reads each. The table gives, per task
and ladder, the median bounds over the seeds and the standard error of max_lr's geometric
mean (as a factor: seed-to-seed noise), and per task the spread: the largest median over
the smallest, for base_lr and max_lr (the goal: at most 1.25).

    .venv/bin/python -m bench.ladders            # 3 tasks x 5 ladders x 3 seeds, ~40 s
    .venv/bin/python -m bench.ladders --quick --out /tmp/l.md   # one task, one seed
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

import torch

from bench import common
from bench.suggest_bounds import TASKS, fresh_model, load, range_test

#: (start_lr, end_lr, num_steps): the validated ladder first, then the old default.
LADDERS = (
    (1e-4, 10.0, 400),
    (1e-7, 10.0, 100),
    (1e-5, 1.0, 200),
    (1e-6, 100.0, 1000),
    (1e-4, 3.0, 150),
)
GOAL = 1.25


def read(task, x, y, seed, ladder):
    """The bounds of one range test on ``ladder`` from seed ``seed``'s weights and batches."""
    start, end, n = ladder
    result = range_test(
        fresh_model(task, x, seed), x, y, task, seed, start_lr=start, end_lr=end, num_steps=n
    )
    return result.bounds()


def se_factor(values) -> str:
    """The standard error of the geometric mean of ``values``, as a factor (``x/ 1.10``)."""
    if len(values) < 2:
        return "–"
    logs = [math.log10(v) for v in values]
    return f"x/ {10 ** (statistics.stdev(logs) / math.sqrt(len(logs))):.2f}"


def task_rows(task, seeds) -> tuple[list[str], float]:
    x, y, _, _ = load(task)
    rows, medians = [], []
    for ladder in LADDERS:
        found = [read(task, x, y, seed, ladder) for seed in seeds]
        base = statistics.median(b.base_lr for b in found)
        top = statistics.median(b.max_lr for b in found)
        medians.append((base, top))
        start, end, n = ladder
        rows.append(
            f"| {task.name} | {start:g} -> {end:g}, {n} rungs | {base:.3g} | {top:.3g} | "
            f"{se_factor([b.max_lr for b in found])} |"
        )
        common.log(f"{task.name}, {start:g} -> {end:g} / {n}: {base:.3g} .. {top:.3g}")
    spreads = [max(v) / min(v) for v in zip(*medians, strict=True)]
    rows.append(
        f"| {task.name} | **spread (largest / smallest median)** | "
        f"**{spreads[0]:.2f}** | **{spreads[1]:.2f}** | |"
    )
    return rows, max(spreads)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one task, one seed; writes only to --out")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", help="markdown file (default bench/results/ladders.md)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        raise common.BenchError(f"--seeds must be at least 1; received --seeds={args.seeds}")
    out = common.output_path("ladders", quick=args.quick, out=args.out)
    torch.set_num_threads(1)
    started, t0 = common.start(), time.time()
    tasks, seeds = (TASKS[2:], range(1)) if args.quick else (TASKS, range(args.seeds))
    lines = [
        "| task | ladder | base_lr (median) | max_lr (median) | max_lr s.e. (factor) |",
        "|---|---|---:|---:|---:|",
    ]
    worst = 0.0
    for task in tasks:
        rows, spread = task_rows(task, seeds)
        lines += rows
        worst = max(worst, spread)
    table = "\n".join(lines)
    note = (
        f"SGD momentum 0.9, batch 32, `cyclr.torch.range_test` then `result.bounds()`; "
        f"medians over seeds {list(seeds)}. Goal: a spread of at most {GOAL} on every task "
        f"({'met' if worst <= GOAL else 'not met'}: the largest is {worst:.2f}). "
        f"{time.time() - t0:.0f} s."
    )
    print(table + "\n\n" + note)
    if out is not None:
        header = common.provenance(
            started,
            common.command("ladders", argv),
            seeds=seeds,
            packages=("torch", "sklearn", "mnist1d"),
            threads=1,
        )
        path = common.write_result(out, "The bounds on five ladders", header, table + "\n\n" + note)
        common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MPLCONFIGDIR", "/tmp")
    sys.exit(common.guarded("ladders", main))
