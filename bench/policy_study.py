"""One range test, the right rate for the schedule you run: issue 26's per-policy study.

For every task of ``bench.policy_tasks`` (the judging and fitting tasks of
``bench.suggest_bounds``, each with its optimizer, data split, seeds and batch order),
every policy (``triangular``, ``onecycle``, ``cosine``, ``wsd``, ``linear`` with the
task's optimizer; ``constant`` with its schedule-free twin), every seed and budget (the
task's, and 4x it on :data:`FOUR_X`):

1. the policy's own grid of peak rates, trained once each: the task's grid (seven rates
   over three decades, 1-3-10 steps), widened by a decade on the side where the best
   mean score sits at the edge, up to ``--widen`` decades a side;
2. the candidate readings of the seed's range tests (``bench.policy_readings``: cyclr's
   ``result.bounds()`` max_lr and base_lr, steepest, valley, minimum; fastai's valley
   into one-cycle, Lightning's and torch-lr-finder's suggestions as the peak of cosine),
   each trained at its rate, and the best grid rate again 1% lower (the noise row);
3. the table (``bench.policy_report``): per task, policy and budget, the best grid rate
   and each reading's regret against it with its standard error seed by seed.

Every run and range test is cached (``bench.policy_cache``; default
``bench/results/cache/policy_study/``), so the study runs in parts, in parallel
processes sharing the cache, and resumes after a kill; ``--no-train`` then writes the
whole table from the cache alone. From the repository root:

    .venv/bin/python -m bench.policy_study --estimate          # time one run per task
    .venv/bin/python -m bench.policy_study --only "char transformer" --out /tmp/t.md
    .venv/bin/python -m bench.policy_study --only "Friedman-1" --policies cosine,wsd --seeds 10
    .venv/bin/python -m bench.policy_study --only "digits ResNet" --budget 4 --seeds 5-9
    .venv/bin/python -m bench.policy_study --no-train          # the full table, from the cache
    .venv/bin/python -m bench.policy_study --workers 2         # everything (many hours)
    .venv/bin/python -m bench.policy_study --quick --out /tmp/p.md --cache /tmp/pc  # ~1 min

Cost (``--estimate``: one run of each task at each budget, measured at a load average
of ~7 on 2 cores, about 3x a quiet core): a run takes 0.3 s (Friedman-1 MLP) to 10 s
(gratings ResNet) at the task's budget, 20 s at 4x it (char transformer, gratings
fine-tuning); a seed and budget needs 82 runs (88 on a fine-tuning task), before any
widening; the whole study at 5 seeds, about 12 hours of one process at that load (from
0.04 h for Friedman-1 / SGD to 2.3 h each for the two 4x budgets of the char
transformer and the gratings fine-tuning), range tests not counted.

A run of the whole selection writes ``bench/results/policy_study.md``; a partial one
(``--only``, ``--policies``, ``--budget``) writes only where ``--out`` says (for example
``bench/results/policy_study_transformer.md``), never over the study's own table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench import common
from bench.judging import Judging
from bench.policy_cache import DEFAULT_CACHE, Missing
from bench.policy_readings import readings_for
from bench.policy_report import render, totals
from bench.policy_runs import (
    QUICK_POLICIES,
    QUICK_TASK,
    WIDEN,
    Settings,
    run_all,
)
from bench.policy_tasks import POLICIES, TASKS, budget_of, train_once

STEM = "policy_study"
DEFAULT_SEEDS = 5
#: The packages whose versions the table's header names.
PACKAGES = ("torch", "sklearn", "mnist1d", "schedulefree", "lightning", "torch_lr_finder")


# ----------------------------------------------------------------------------- the command
def estimate(jobs: list[Judging], settings: Settings) -> str:
    """Time one run of each task at each budget (seed 0, cosine, the grid's middle rate,
    not cached) and multiply out: the runs a seed needs, before any widening."""
    rows = []
    for job in jobs:
        data = job.data()
        job.build(0, data)  # a fine-tuning task pre-trains here, once, outside the timing
        for multiple in settings.budgets_of(job):
            budget = budget_of(job, multiple, settings.quick)
            middle = job.grid_max[len(job.grid_max) // 2]
            seconds = train_once(job, data, 0, "cosine", middle, budget).seconds
            runs = sum(len(job.grid_max) + len(readings_for(job, p)) + 1 for p in settings.policies)
            hours = runs * len(settings.seeds) * seconds / 3600
            cells = (f"{multiple}x", f"{budget.updates:,}", f"{seconds:.2f}", str(runs))
            rows.append((job.label, job.role, *cells, f"{hours:.2f}"))
            common.log(" | ".join(rows[-1]))
    header = ("task", "set", "budget", "updates", "s a run", "runs a seed", "hours")
    align = ("---", "---", "---", "---:", "---:", "---:", "---:")
    return common.markdown_table(header, rows, align) + (
        f"\n\n{len(settings.seeds)} seed(s), policies {', '.join(settings.policies)}; "
        "range tests and widened grids not counted."
    )


def seeds_arg(text: str) -> range:
    """``'5'`` -> seeds 0-4; ``'5-9'`` -> seeds 5 to 9."""
    try:
        first, _, last = text.partition("-")
        seeds = range(int(first)) if not last else range(int(first), int(last) + 1)
    except ValueError:
        seeds = range(0)
    if not len(seeds) or seeds.start < 0:
        raise common.BenchError(
            f"--seeds must be a count (5) or a range (5-9) of seeds >= 0; received --seeds={text!r}"
        )
    return seeds


def select(args: argparse.Namespace) -> tuple[list[Judging], tuple[str, ...]]:
    """The tasks and policies the options pick; BenchError for a name that picks nothing."""
    jobs = list(TASKS)
    if args.quick:
        jobs = [job for job in TASKS if job.label == QUICK_TASK]
    if args.only:
        labels = ", ".join(repr(job.label) for job in TASKS)
        for text in args.only:
            if not any(text in job.label for job in TASKS):
                raise common.BenchError(
                    f"--only must be part of a task's label ({labels}); received --only={text!r}"
                )
        jobs = [job for job in TASKS if any(text in job.label for text in args.only)]
    policies = QUICK_POLICIES if args.quick else POLICIES
    if args.policies:
        policies = tuple(p.strip() for p in args.policies.split(","))
        if not policies or any(p not in POLICIES for p in policies):
            raise common.BenchError(
                f"--policies must name some of {', '.join(POLICIES)}; "
                f"received --policies={args.policies!r}"
            )
    return jobs, policies


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    add = p.add_argument
    add("--quick", action="store_true", help=f"{QUICK_TASK}, 2 policies, 3 rates, 1 seed")
    add("--only", metavar="TEXT", action="append", help="tasks whose label holds TEXT (repeat)")
    add("--policies", help=f"comma-separated, of {', '.join(POLICIES)} (default all)")
    add("--seeds", help=f"a count (default {DEFAULT_SEEDS}) or a range, 5-9")
    add("--budget", type=int, choices=(1, 4), action="append", help="times the task's budget")
    add("--widen", type=int, default=WIDEN, help="decades a grid may widen by on each side")
    add("--cache", help="the cache folder (default bench/results/cache/policy_study)")
    add("--no-train", action="store_true", help="read every run from the cache, train none")
    add("--estimate", action="store_true", help="time one run per task and budget; the cost")
    add("--workers", type=int, default=1, help="tasks run in this many processes")
    add("--threads", type=int, default=1, help="compute threads per process")
    add("--out", help=f"markdown file (default bench/results/{STEM}.md for the whole study)")
    return p.parse_args(argv)


def paths(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """The cache folder (None: a temporary one) and the table's file (None: print only).

    A quick run keeps its cache and table out of bench/results/ (by default, its cache
    in a temporary folder); a partial run writes its table only where ``--out`` says,
    never over the study's own.
    """
    if args.quick:
        cache = None if args.cache is None else Path(args.cache)
        if cache is not None and cache.resolve().is_relative_to(common.RESULTS.resolve()):
            raise common.BenchError(
                f"--cache must lie outside bench/results/ for a --quick run (its runs are a "
                f"smoke test, not results); received --cache={args.cache!r}"
            )
        return cache, common.output_path(STEM, quick=True, out=args.out)
    cache = DEFAULT_CACHE if args.cache is None else Path(args.cache)
    if not (args.only or args.policies or args.budget):
        return cache, common.output_path(STEM, quick=False, out=args.out)
    study = (common.RESULTS / f"{STEM}.md").resolve()
    if args.out is not None and Path(args.out).resolve() == study:
        raise common.BenchError(
            f"--out must not be {study.name} for a partial run (it would overwrite the "
            f"study's table); received --out={args.out!r}"
        )
    return cache, None if args.out is None else Path(args.out)


def check(args: argparse.Namespace) -> range:
    """The options' numbers, checked; the seeds."""
    for name in ("workers", "threads"):
        value = getattr(args, name)
        if value < 1:
            raise common.BenchError(f"--{name} must be at least 1; received --{name}={value}")
    if args.widen < 0:
        raise common.BenchError(f"--widen must be >= 0; received --widen={args.widen}")
    if args.quick and args.seeds is None:
        return range(1)
    return seeds_arg(args.seeds or str(DEFAULT_SEEDS))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    seeds = check(args)
    jobs, policies = select(args)
    cache, out = paths(args)
    budgets = tuple(sorted(set(args.budget))) if args.budget else None
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            seeds,
            policies,
            budgets,
            Path(scratch) if cache is None else cache,
            quick=args.quick,
            train=not args.no_train,
            widen=args.widen,
            threads=args.threads,
        )
        if args.estimate:
            print(estimate(jobs, settings))
            return 0
        return study(args, argv, jobs, settings, out)


def study(
    args: argparse.Namespace,
    argv: list[str] | None,
    jobs: list[Judging],
    settings: Settings,
    out: Path | None,
) -> int:
    """Run (or read) the selection, print its table and write it to ``out``."""
    started, t0 = common.start(), time.time()
    try:
        results = run_all(jobs, settings, args.workers)
    except Missing as missing:
        raise common.BenchError(
            f"--no-train: the cache {str(settings.cache)!r} lacks a {missing}; run without "
            "--no-train to train what is missing"
        ) from None
    trained, reused, tests_run, tests_reused = totals(results)
    common.log(
        f"{STEM}: trained {trained} runs and {tests_run} range tests; "
        f"{reused} runs and {tests_reused} range tests from the cache"
    )
    body = render(results, time.time() - t0)
    print(body)
    if out is not None:
        header = common.provenance(
            started,
            common.command(STEM, argv),
            seeds=settings.seeds,
            packages=(
                "torch",
                "sklearn",
                "mnist1d",
                "schedulefree",
                "lightning",
                "torch_lr_finder",
            ),
            threads=settings.threads,
        )
        path = common.write_result(out, "The range test read for each schedule", header, body)
        common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MPLCONFIGDIR", "/tmp")
    sys.exit(common.guarded(STEM, main))
