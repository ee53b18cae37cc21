"""A candidate beyond the curve: check the reading against a third of it by a short run.

``bench.curve_landmarks`` shows that no reading of the range-test curve alone can meet
issue 12's goal on every judging task: tasks whose curves agree train best at rates 10x
apart. Where the reading misses it mostly reads too high (the digits ResNet with Adam, the
fine-tunings). This measures one way to use information the curve lacks, before anything
is built on it: train the reading's pair and the pair a third as high for a quarter of the
budget each (``bench.suggest_bounds``'s quick budget), score both on the validation split
(never on the test split), keep the better, and train it in full.

For each judging task and seed: the study's range test (``cyclr.torch.range_test`` at its
defaults, ``result.bounds()``), the two short runs, then full runs of the reading, of the
reading / 3 and of the study's best grid pair (from ``bench/results/suggest_bounds_judging.md``),
from the same weights and batches; the regrets are paired seed by seed, as in the study.

    .venv/bin/python -m bench.bounds_check                  # 12 tasks x 10 seeds, ~15 min
    .venv/bin/python -m bench.bounds_check --quick --out /tmp/c.md   # 2 tasks, one seed
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import math
import multiprocessing
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
    QUICK_BUDGET,
    fmt_pair,
    judging_range_test,
    judging_scored,
    judging_train,
    regret,
    verdict,
)

QUICK = ("Friedman-1 MLP / SGD", "digits ResNet / Adam")
LOWER = 3.0  # the second candidate: both bounds divided by this
METHODS = ("the reading", f"the reading / {LOWER:g}", "the better by a short run")


def best_pairs(text: str) -> dict[str, tuple[float, float]]:
    """The study's best grid pair of each task (``label -> (base_lr, max_lr)``)."""
    found = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) > 4 and cells[3] == "best grid pair":
            base, high = (float(v) for v in cells[4].split(" .. "))
            found[f"{cells[0]} / {cells[2]}"] = (base, high)
    return found


def measure(job: Judging, seeds: range, best: tuple[float, float]) -> dict[str, list]:
    """Per method, one ``(score, pair)`` per seed; the best pair's under ``'best'``."""
    torch.set_num_threads(1)
    data = job.data()
    on_val = dataclasses.replace(data, x_test=data.x_val, y_test=data.y_val)
    sign = 1.0 if job.metric == "accuracy" else -1.0
    found: dict[str, list] = {name: [] for name in (*METHODS, "best")}
    for seed in seeds:
        model = job.build(seed, data)
        reading = tuple(judging_range_test(job, model, data, seed).bounds())
        lower = (reading[0] / LOWER, reading[1] / LOWER)
        short = [
            judging_train(job, model, on_val, seed, *pair, budget=QUICK_BUDGET)
            for pair in (reading, lower)
        ]
        full = [judging_train(job, model, data, seed, *pair) for pair in (reading, lower, best)]
        better = 0 if sign * short[0] >= sign * short[1] else 1
        found[METHODS[0]].append((full[0], reading))
        found[METHODS[1]].append((full[1], lower))
        found[METHODS[2]].append((full[better], (reading, lower)[better]))
        found["best"].append((full[2], best))
        common.log(f"{job.label} seed {seed}: kept {'the reading' if better == 0 else '/ 3'}")
    return found


def rows_of(job: Judging, found: dict[str, list]) -> list[tuple[str, ...]]:
    best = [score for score, _ in found["best"]]
    best_mean = statistics.fmean(best)
    unit = "pts" if job.metric == "accuracy" else "%"
    goal = GOAL_POINTS if job.metric == "accuracy" else GOAL_PERCENT
    rows = []
    for name in METHODS:
        scores = [score for score, _ in found[name]]
        value, se = regret(job, scores, best, best_mean)
        pairs = [pair for _, pair in found[name]]
        median = (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs))
        lowered = sum(p[1] < r[1] for p, (_, r) in zip(pairs, found[METHODS[0]], strict=True))
        kept = f"{lowered}/{len(pairs)}" if name == METHODS[2] else "—"
        error = "—" if math.isnan(se) else f"{se:.2f}"  # one seed: no error to give
        rows.append(
            (
                job.name,
                job.role,
                job.optimizer_name,
                name,
                fmt_pair(median),
                f"{value:+.2f} ± {error} {unit}",
                verdict(value, se, goal),
                kept,
            )
        )
    return rows


HEADERS = (
    "task",
    "set",
    "optimizer",
    "bounds from",
    "bounds (median over seeds)",
    "regret vs the best grid pair (± s.e.)",
    "goal",
    "kept the lower",
)


def note(seconds: float) -> str:
    """What the table's rows and columns mean."""
    study = JUDGING_RESULTS.relative_to(common.ROOT)
    return (
        "The reading: `result.bounds()` of the study's range test (`cyclr.torch.range_test` "
        "at its defaults, the validation loss read). The short runs: a quarter of the "
        "task's updates, the same number of cycles, scored on the validation split; the "
        "better one is trained in full and scored on the test split like the others. "
        f"Regret against the study's best grid pair (`{study}`), "
        "trained here on the same seeds, in accuracy points or % of its loss, ± its "
        f"standard error seed by seed; goal: {GOAL_POINTS} points or {GOAL_PERCENT:g}% "
        "('met' when regret + 2 s.e. is within it, 'missed' when regret - 2 s.e. is past "
        f"it). A prototype, not a cyclr feature. {seconds:.0f} s."
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--workers", type=int, default=2, help="processes (one task each)")
    p.add_argument("--quick", action="store_true", help=f"{' and '.join(QUICK)}, one seed")
    p.add_argument("--out", help="markdown file (default bench/results/bounds_check.md)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        raise common.BenchError(f"--seeds must be at least 1; received --seeds={args.seeds}")
    if args.workers < 1:
        raise common.BenchError(f"--workers must be at least 1; received --workers={args.workers}")
    out = common.output_path("bounds_check", quick=args.quick, out=args.out)
    started, t0 = common.start(), time.time()
    best = best_pairs(JUDGING_RESULTS.read_text())
    jobs = [job for job in judging_scored(best) if not args.quick or job.label in QUICK]
    seeds = range(1 if args.quick else args.seeds)
    n = len(jobs)
    if args.workers > 1:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=context) as pool:
            results = list(pool.map(measure, jobs, [seeds] * n, [best[j.label] for j in jobs]))
    else:
        results = [measure(job, seeds, best[job.label]) for job in jobs]
    rows = [row for job, found in zip(jobs, results, strict=True) for row in rows_of(job, found)]
    body = f"{common.markdown_table(HEADERS, rows)}\n\n{note(time.time() - t0)}"
    print(body)
    if out is not None:
        header = common.provenance(
            started,
            common.command("bounds_check", argv),
            seeds=seeds,
            packages=("torch", "sklearn", "mnist1d"),
            threads=1,
        )
        title = "Checking the reading against a third of it by a short run"
        path = common.write_result(out, title, header, body)
        common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded("bounds_check", main))
