"""The judging study of ``bench.suggest_bounds --judging``: its tables and its run.

Holds the table rows and notes of one judging task, its grid table, one worker's unit
(:func:`judge`), the whole study over processes (:func:`run_judging`), the choice of
scored tasks (:func:`judging_scored`) and the ``--judging`` entry point.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import multiprocessing
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from bench import common
from bench.suggest_bounds_judging import (
    DEFAULT_READING,
    GOAL_PERCENT,
    GOAL_POINTS,
    JUDGING_RESULTS,
    JUDGING_VAL_EVERY,
    QUICK_BUDGET,
    QUICK_JUDGING_GRID,
    TRAINING_READING,
    VAL_ACCURACY_READING,
    Bounds,
    Scores,
    measure_judging,
    regret,
    verdict,
)
from bench.suggest_bounds_tasks import GRID_RATIO, fmt_pair
from cyclr.rangetest.settings import DEFAULT_END_LR, DEFAULT_NUM_STEPS, DEFAULT_START_LR

if TYPE_CHECKING:
    from bench.judging import Judging


def judging_rows(
    job: Judging, scores: Scores, bounds: Bounds, errors: dict[str, list[str]], best: str
) -> tuple[list[tuple[str, ...]], list[str]]:
    """Table rows for one task and optimizer, and the notes under the table."""
    unit = "pts" if job.metric == "accuracy" else "%"
    goal = GOAL_POINTS if job.metric == "accuracy" else GOAL_PERCENT
    best_mean = statistics.fmean(scores[best])
    digits = 2 if job.metric == "accuracy" else 4
    rows = []
    for name, values in scores.items():
        if name.startswith("grid") and name != best:
            continue
        label = "best grid pair" if name == best else name
        kept = [v for v in values if v is not None]
        raised = f"{len(values) - len(kept)}/{len(values)}"
        if not kept:
            rows.append((job.name, job.role, job.optimizer_name, label, "—", "—", "—", raised, "—"))
            continue
        pairs = np.array([p for p in bounds[name] if p is not None])
        median = (float(np.median(pairs[:, 0])), float(np.median(pairs[:, 1])))
        std = statistics.stdev(kept) if len(kept) > 1 else 0.0
        score = f"{statistics.fmean(kept):.{digits}f} ± {std:.{digits}f}"
        if name == best:
            cells = ("0", "—")
        else:
            value, se = regret(job, values, scores[best], best_mean)
            error = "—" if math.isnan(se) else f"{se:.2f}"  # one seed: no error to give
            cells = (f"{value:+.2f} ± {error} {unit}", verdict(value, se, goal))
        rows.append(
            (
                job.name,
                job.role,
                job.optimizer_name,
                label,
                fmt_pair(median),
                score,
                cells[0],
                raised,
                cells[1],
            )
        )
    notes = judging_notes(job, scores, errors, best_mean)
    return rows, notes


def judging_notes(
    job: Judging, scores: Scores, errors: dict[str, list[str]], best_mean: float
) -> list[str]:
    """The notes under the table for one task and optimizer: readings that raised, and
    what reading a validation curve instead of the training loss changes."""
    notes = []
    for name, messages in errors.items():
        for message in sorted(set(messages)):
            notes.append(f"- {job.label}, {name} raised ({messages.count(message)}x): {message}")
    for curve, name in (("val_loss", DEFAULT_READING), ("val_accuracy", VAL_ACCURACY_READING)):
        if name not in scores:
            continue
        values = scores[name]
        paired = [
            (v, t)
            for v, t in zip(values, scores[TRAINING_READING], strict=True)
            if v is not None and t is not None
        ]
        if len(paired) > 1:
            sign = 1.0 if job.metric == "accuracy" else -100.0 / best_mean
            gaps = [sign * (v - t) for v, t in paired]
            se = statistics.stdev(gaps) / math.sqrt(len(gaps))
            notes.append(
                f"- {job.label}: reading {curve} instead of the training loss changes the "
                f"score by {statistics.fmean(gaps):+.2f} ± {se:.2f} "
                f"{'pts' if job.metric == 'accuracy' else '% of the best loss'} (+: better)"
                f" over {len(gaps)} seeds"
            )
    return notes


def grid_table(job: Judging, scores: Scores, grid: list[tuple[float, float]]) -> str:
    """The grid's mean scores: one row per ``max_lr``, one column per ratio."""
    ratios = sorted({r for _, r in grid})
    lines = [
        f"**{job.label}** (mean {'test accuracy %' if job.metric == 'accuracy' else 'test loss'}):",
        "",
        "| max_lr | " + " | ".join(f"base = max / {r:g}" for r in ratios) + " |",
        "|---:|" + "---:|" * len(ratios),
    ]
    for mx in sorted({m for m, _ in grid}):
        cells = []
        for r in ratios:
            values = scores.get(f"grid {mx / r:.2g} .. {mx:.2g}")
            cells.append("" if values is None else f"{statistics.fmean(values):.4g}")
        lines.append(f"| {mx:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def judge(
    job: Judging, seeds: range, quick: bool = False, threads: int = 1
) -> tuple[list[tuple[str, ...]], list[str], str]:
    """One task and optimizer: its table rows, notes and grid table (a worker's unit)."""
    torch.set_num_threads(threads)
    t0 = time.time()
    quick_grid = [(job.grid_max[i], GRID_RATIO[0]) for i in QUICK_JUDGING_GRID]
    grid = quick_grid if quick else job.grid
    scores, bounds, errors, best = measure_judging(
        job, seeds, grid, budget=QUICK_BUDGET if quick else 1
    )
    rows, notes = judging_rows(job, scores, bounds, errors, best)
    notes.append(f"- {job.label}: {time.time() - t0:.0f} s")
    return rows, notes, grid_table(job, scores, grid)


def run_judging(
    jobs: Sequence[Judging], seeds: range, quick: bool = False, workers: int = 1, threads: int = 1
) -> tuple[str, str, str]:
    """The judging study: its table, the notes and every task's grid, as markdown.

    ``workers`` > 1 runs the tasks in that many processes (each with ``threads``
    compute threads); the tables come out in the order of ``jobs`` either way.
    """
    if workers > 1:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            n = len(jobs)
            parts = list(pool.map(judge, jobs, [seeds] * n, [quick] * n, [threads] * n))
    else:
        parts = [judge(job, seeds, quick, threads) for job in jobs]
    rows = [row for part in parts for row in part[0]]
    notes = [note for part in parts for note in part[1]]
    grids = [part[2] for part in parts]
    header = (
        "task",
        "set",
        "optimizer",
        "method",
        "bounds (median over seeds)",
        "score (mean ± std)",
        "regret vs best grid pair (± s.e.)",
        "raised",
        "goal",
    )
    table = common.markdown_table(header, rows)
    return table, "\n".join(notes), "\n\n".join(grids)


def judging_scored(labels: Iterable[str]) -> list[Judging]:
    """The judging tasks among ``labels`` (those the study's table has scored), in order;
    the tasks it has not scored yet are named in the log."""
    from bench.judging import JUDGING

    scored = set(labels)
    left = [job.label for job in JUDGING if job.label not in scored]
    if left:
        common.log(f"not in {JUDGING_RESULTS.name} yet, left out: {', '.join(left)}")
    return [job for job in JUDGING if job.label in scored]


def judging_note(elapsed: float) -> str:
    """The paragraph under the judging table: the sets, the method, the goal; ``elapsed`` s."""
    return (
        "Set 'judging': tasks the reading was not fitted on (`bench/judging.py`); set "
        "'fitting': judging tasks moved to the fitting set after a change was made on "
        "them (their first, untouched scores: "
        "`bench/results/suggest_bounds_judging_first.md`): the validation curve as the "
        "default (the digits ResNet, both fine-tunings), BatchNorm recalibrated in the "
        "validation passes (the shapes ResNet); a new judging task of each kind was added "
        "(shapes ResNet, GRU fine-tuning, gratings ResNet). A fine-tuning is read with "
        "`fine_tuning=True` too (`BoundsSettings`: both bounds a factor 2 lower), fitted on "
        "the two fitting fine-tunings; the gratings fine-tuning was added as a judging task "
        "before anything was scored on it. The first fitting tasks' table "
        "is `suggest_bounds.md`. "
        "Range test: `cyclr.torch.range_test` at its default ladder "
        f"({DEFAULT_START_LR:g} -> {DEFAULT_END_LR:g}, {DEFAULT_NUM_STEPS} rungs), the task's "
        f"optimizer, validation (one held-out batch) every {JUDGING_VAL_EVERY} rungs; the "
        "readings: `result.bounds()` at its default, which reads the validation loss when "
        "a `val_loader` is given, `result.bounds(monitor=...)` of the other curves, and "
        "`steepest`, `valley`, `minimum` of the training "
        "loss as max_lr with base_lr = max_lr / 4. Training: triangular `CyclicSchedule` "
        "through `cyclr.torch.CyclicLR`, a whole number of cycles, the range test's batches. "
        "Score: test accuracy %, or test loss (cross-entropy in nats per character, MSE of "
        "standardized targets). Regret: best grid pair minus the method, in accuracy points, "
        "or the method's loss above the best pair's in % of it; ± its standard error seed by "
        f"seed. Goal: regret at most {GOAL_POINTS} points or {GOAL_PERCENT:g}%: 'met' when "
        "regret + 2 s.e. is within it, 'missed' when regret - 2 s.e. is past it, else "
        "'unclear' (add seeds). 'raised': seeds where the reading raised a ValueError (no "
        f"bounds; its regret is over the other seeds). {elapsed:.0f} s."
    )


def judging_main(args: argparse.Namespace, argv: Sequence[str] | None, out: Path | None) -> int:
    """``--judging``: the judging study, its table to stdout and to ``out``."""
    from bench.judging import JUDGING

    started, t0 = common.start(), time.time()
    jobs, seeds = JUDGING, range(args.seeds)
    if args.only is not None:
        for text in args.only:
            if not any(text in job.label for job in JUDGING):
                labels = ", ".join(repr(job.label) for job in JUDGING)
                raise common.BenchError(
                    f"--only must be part of a judging task's label ({labels}); "
                    f"received --only={text!r}"
                )
        jobs = tuple(job for job in JUDGING if any(text in job.label for text in args.only))
    if args.quick:
        # one optimizer of each judging task (the moved ones run the same code), one seed,
        # three grid pairs, a quarter of the updates
        first = {}
        for job in JUDGING:
            if job.role == "judging":
                first.setdefault(job.name, job)
        jobs, seeds = tuple(j for j in first.values() if j in jobs), range(1)
    table, notes, grids = run_judging(
        jobs, seeds, quick=args.quick, workers=args.workers, threads=args.threads
    )
    note = judging_note(time.time() - t0)
    body = f"{table}\n\n{note}\n\n{notes}\n\n## The grids\n\n{grids}"
    print(body)
    if out is not None:
        header = common.provenance(
            started,
            common.command("suggest_bounds", argv),
            seeds=seeds,
            packages=("torch", "sklearn", "mnist1d"),
            threads=args.threads,
        )
        path = common.write_result(out, "suggest_bounds on the judging tasks", header, body)
        common.log(f"wrote {path}")
    return 0
