"""What a range-test curve shows: the reading's landmarks against the best grid pair.

The judging study (``bench.suggest_bounds --judging``) scores the ``(base_lr, max_lr)``
reading by training. Where it misses, the question is whether any reading of the curve
could do better: if two tasks give curves whose landmarks agree while their best
``max_lr`` differ, no reading of the curve alone tells them apart.

For each judging task and seed, the study's range test (``cyclr.torch.range_test`` at its
defaults, one validation batch every 2 rungs, the validation loss read) and the points
of the log-lr axis its ``max_lr`` reading is made of (``cyclr.rangetest.bounds``, the
reading's own code): where the fall is all but done (within ``base_fraction`` of the
bottom), the bottom, the end of the floor after it, and where the loss has climbed a
third of its fall back. Each as a rate, median over seeds, next to the reading's
``max_lr`` and the best grid ``max_lr`` of the committed study.

    .venv/bin/python -m bench.curve_landmarks                 # 12 tasks x 10 seeds, ~25 min
    .venv/bin/python -m bench.curve_landmarks --quick --out /tmp/l.md   # 2 tasks, one seed
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time

import torch

from bench import common
from bench.judging import Judging
from bench.suggest_bounds import (
    GOAL_PERCENT,
    GOAL_POINTS,
    JUDGING_RESULTS,
    judging_range_test,
    judging_scored,
)
from cyclr.rangetest.bounds import _reading_landmarks

QUICK = ("Friedman-1 MLP / SGD", "digits ResNet / Adam")
POINTS = ("done", "bottom", "floor_end", "climb")


def grid_max_lrs(text: str) -> dict[str, tuple[float, list[float]]]:
    """From the study's grid tables: ``label -> (best max_lr, max_lrs within the goal)``.

    A ``max_lr`` is within the goal when its better ``base_lr`` scores (mean over seeds)
    within ``GOAL_POINTS`` accuracy points, or ``GOAL_PERCENT`` % of the loss, of the best.
    """
    found = {}
    pattern = r"\*\*(.+?)\*\* \(mean test (accuracy %|loss)\):\n\n((?:\|.*\n?)+)"
    for m in re.finditer(pattern, text):
        rows = [
            [float(v) for v in line.strip().strip("|").split("|")]
            for line in m.group(3).strip().splitlines()[2:]
        ]
        rates = [row[0] for row in rows]
        if m.group(2).startswith("accuracy"):
            score = [max(row[1:]) for row in rows]
            best = max(score)
            near = [r for r, v in zip(rates, score, strict=True) if best - v <= GOAL_POINTS]
        else:
            score = [min(row[1:]) for row in rows]
            best = min(score)
            near = [
                r
                for r, v in zip(rates, score, strict=True)
                if 100.0 * (v - best) / best <= GOAL_PERCENT
            ]
        found[m.group(1)] = (rates[score.index(best)], near)
    return found


def landmarks(job: Judging, seed: int) -> dict[str, float | None]:
    """The reading's ``max_lr`` and its landmarks (rates) on one seed's default curve."""
    data = job.data()
    result = judging_range_test(job, job.build(seed, data), data, seed)
    lrs, values, mode = result.curve()
    # read as result.bounds() reads it: the same settings, the same code
    at = _reading_landmarks(lrs, values, mode, result.bounds_settings())
    found: dict[str, float | None] = {"reading": result.bounds().max_lr}
    for name in POINTS:
        point = getattr(at, name)
        found[name] = None if point is None else 10.0**point
    return found


def task_row(job: Judging, seeds: range, grid: dict[str, tuple[float, list[float]]]) -> tuple:
    """One task's row: the best grid max_lr, the medians of the reading and its landmarks."""
    found: dict[str, list[float]] = {}
    for seed in seeds:
        for name, rate in landmarks(job, seed).items():
            if rate is not None:
                found.setdefault(name, []).append(rate)
    median = {name: statistics.median(rates) for name, rates in found.items()}
    cells = [f"{median[name]:.2g}" if name in median else "none" for name in ("reading", *POINTS)]
    best, near = grid[job.label]
    return (
        job.name,
        job.role,
        job.optimizer_name,
        f"{best:.2g}",
        ", ".join(f"{rate:.2g}" for rate in near),
        *cells,
        f"{median['reading'] / best:.2g}",
    )


HEADERS = (
    "task",
    "set",
    "optimizer",
    "best grid max_lr",
    "within the goal",
    "reading max_lr",
    "fall done",
    "bottom",
    "floor end",
    "climb 1/3",
    "reading / best",
)


def note(seconds: float) -> str:
    """What the table's columns mean."""
    study = JUDGING_RESULTS.relative_to(common.ROOT)
    return (
        "Rates are medians over seeds; the best grid max_lr is the study's "
        f"(`{study}`, 10 seeds; its grid steps half a decade, base_lr "
        f"= max_lr / 3 or / 10); 'within the goal': the grid's max_lr whose better base_lr "
        f"scores within {GOAL_POINTS} points or {GOAL_PERCENT:g}% of the loss of the best "
        "(means over seeds). 'fall done': the first rate within base_fraction of the "
        "fall of the bottom; 'floor end': the last rate after the bottom still within it; "
        "'climb 1/3': the first rate where the loss has climbed back a third of its fall "
        "(the reading: max_lr = the mean, on the log axis, of 0.1 decade before the bottom "
        f"and a third of the climb's rate, kept within the floor). {seconds:.0f} s."
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--quick", action="store_true", help=f"{' and '.join(QUICK)}, one seed")
    p.add_argument("--out", help="markdown file (default bench/results/curve_landmarks.md)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        raise common.BenchError(f"--seeds must be at least 1; received --seeds={args.seeds}")
    out = common.output_path("curve_landmarks", quick=args.quick, out=args.out)
    torch.set_num_threads(1)
    started, t0 = common.start(), time.time()
    grid = grid_max_lrs(JUDGING_RESULTS.read_text())
    jobs = [job for job in judging_scored(grid) if not args.quick or job.label in QUICK]
    seeds = range(1 if args.quick else args.seeds)
    rows = []
    for job in jobs:
        rows.append(task_row(job, seeds, grid))
        common.log(f"{job.label}: {time.time() - t0:.0f} s")
    body = f"{common.markdown_table(HEADERS, rows)}\n\n{note(time.time() - t0)}"
    print(body)
    if out is not None:
        header = common.provenance(
            started,
            common.command("curve_landmarks", argv),
            seeds=seeds,
            packages=("torch", "sklearn", "mnist1d"),
            threads=1,
        )
        path = common.write_result(out, "The range-test curve's landmarks", header, body)
        common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded("curve_landmarks", main))
