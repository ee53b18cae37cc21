"""Does the reading depend on the ladder? The same task's range test on six ladders.

For each task of ``bench.suggest_bounds`` and each seed, the shipped
``cyclr.torch.range_test`` (SGD, momentum 0.9) runs from the same initial weights and the
same batches on six ladders: its default (1e-5 -> 10 in 450 rungs, the one the reading
was validated on by training), the old default of ``range_test``/``find_lr`` (1e-7 -> 10
in 100), the old validated SGD ladder (1e-4 -> 10 in 400) and three others from 150 to
1000 rungs, all in issue 12's range (100-1000 rungs, from 1e-7..1e-4 to 1..100).
``result.bounds()`` reads each.

The table gives, per task and ladder, the median bounds over the seeds and each bound's
ratio to the default ladder's, seed by seed (paired: same weights, same batches), as a
geometric mean with its standard error (a factor). The goal: every ratio within 1.25.
The last column reads the same curves without the delay correction
(``BoundsSettings(delay=0)``): the loss answers a rate a few updates late, so a ladder
with fewer rungs per decade meets the blow-up at a higher rate, which the delay undoes.

    .venv/bin/python -m bench.ladders            # 3 tasks x 6 ladders x 5 seeds, ~2 min
    .venv/bin/python -m bench.ladders --quick --out /tmp/l.md   # one task, two seeds
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
from cyclr.rangetest import BoundsSettings
from cyclr.rangetest.settings import DEFAULT_END_LR, DEFAULT_NUM_STEPS, DEFAULT_START_LR

#: (start_lr, end_lr, num_steps): the default first (the reference), then the others.
LADDERS = (
    (DEFAULT_START_LR, DEFAULT_END_LR, DEFAULT_NUM_STEPS),
    (1e-7, 10.0, 100),
    (1e-4, 10.0, 400),
    (1e-5, 1.0, 200),
    (1e-6, 100.0, 1000),
    (1e-4, 3.0, 150),
)
GOAL = 1.25
NO_DELAY = BoundsSettings(delay=0)


def read(task, x, y, seed, ladder):
    """The bounds of one range test on ``ladder``: the default reading, and without delay."""
    start, end, n = ladder
    result = range_test(
        fresh_model(task, x, seed), x, y, task, seed, start_lr=start, end_lr=end, num_steps=n
    )
    return result.bounds(), result.bounds(settings=NO_DELAY)


def ratio(values, reference) -> tuple[float, float]:
    """Geometric mean of ``values[i] / reference[i]`` and its standard error, as factors."""
    logs = [math.log10(v / r) for v, r in zip(values, reference, strict=True)]
    se = statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else math.nan
    return 10 ** statistics.mean(logs), 10**se


def fmt(pair) -> str:
    mean, se = pair
    return f"{mean:.2f}" if math.isnan(se) else f"{mean:.2f} x/ {se:.2f}"


def off(pair) -> float:
    """How far a ratio is from 1, as a factor >= 1."""
    return max(pair[0], 1.0 / pair[0])


def task_rows(task, seeds) -> tuple[list[str], float, float]:
    x, y, _, _ = load(task)
    found = {ladder: [read(task, x, y, seed, ladder) for seed in seeds] for ladder in LADDERS}
    ref = found[LADDERS[0]]
    rows, worst, worst_raw = [], 1.0, 1.0
    for ladder, pairs in found.items():
        start, end, n = ladder
        bases = [b.base_lr for b, _ in pairs]
        highs = [b.max_lr for b, _ in pairs]
        if ladder == LADDERS[0]:
            cells = "1 | 1 | 1"
        else:
            rb = ratio(bases, [b.base_lr for b, _ in ref])
            rm = ratio(highs, [b.max_lr for b, _ in ref])
            raw = ratio([r.max_lr for _, r in pairs], [r.max_lr for _, r in ref])
            worst = max(worst, off(rb), off(rm))
            worst_raw = max(worst_raw, off(raw))
            cells = f"{fmt(rb)} | {fmt(rm)} | {fmt(raw)}"
        rows.append(
            f"| {task.name} | {start:g} -> {end:g}, {n} rungs | {statistics.median(bases):.3g} | "
            f"{statistics.median(highs):.3g} | {cells} |"
        )
        common.log(f"{task.name}, {start:g} -> {end:g} / {n}: {rows[-1]}")
    return rows, worst, worst_raw


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one task, two seeds; only to --out")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--out", help="markdown file (default bench/results/ladders.md)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        raise common.BenchError(f"--seeds must be at least 1; received --seeds={args.seeds}")
    out = common.output_path("ladders", quick=args.quick, out=args.out)
    torch.set_num_threads(1)
    started, t0 = common.start(), time.time()
    tasks, seeds = (TASKS[2:], range(2)) if args.quick else (TASKS, range(args.seeds))
    lines = [
        "| task | ladder | base_lr (median) | max_lr (median) | base_lr / default's | "
        "max_lr / default's | max_lr / default's, no delay |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    worst = worst_raw = 1.0
    for task in tasks:
        rows, w, w_raw = task_rows(task, seeds)
        lines += rows
        worst, worst_raw = max(worst, w), max(worst_raw, w_raw)
    table = "\n".join(lines)
    note = (
        f"SGD momentum 0.9, batch 32, `cyclr.torch.range_test` then `result.bounds()`; "
        f"seeds {list(seeds)}, each ladder's bounds divided by the default ladder's of the same "
        f"seed (geometric mean x/ its standard error). Goal: every ratio within {GOAL} "
        f"({'met' if worst <= GOAL else 'not met'}: the farthest is {worst:.2f}; "
        f"without the delay correction {worst_raw:.2f}). {time.time() - t0:.0f} s."
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
        path = common.write_result(out, "The bounds on six ladders", header, table + "\n\n" + note)
        common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MPLCONFIGDIR", "/tmp")
    sys.exit(common.guarded("ladders", main))
