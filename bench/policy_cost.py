"""Cost to a good model: one range test and one run at cyclr's reading, against grids.

Issue 26's item 4, from the per-policy study (``bench.policy_study``) on the tasks of
``bench.time_to_accuracy`` it holds (MNIST-1D's 1-D CNN, digits' seed CNN, the char
transformer) and one new judging task (digits ViT), at each budget the study ran. Per
task, budget and policy:

- **cyclr**: the seed's range test (``cyclr.torch.range_test`` at its defaults) and one
  run at the shipped reading (``bench.policy_readings.SHIPPED``: the rates
  ``result.schedule(policy, ...)`` runs at). Its cost is the rungs the test ran before it
  stopped plus the run's updates, in training steps (the test's validation passes, a
  forward pass every 2 rungs where the task has a validation split, are not counted).
- **the policy's grid**: each rate of the policy's grid, widened until its best is not at
  an edge, trained once: the grid's runs times the updates.
- **the best grid-tuned policy overall**: the policy and rate of the best mean score of
  every policy's grid; its cost is its own grid's (the least a grid user pays to find it),
  and every policy's grids together are shown beside it.

Regret is ``bench.suggest_bounds``' (accuracy points, or % of the loss), paired seed by
seed with its standard error. The goal (issue 26): the recommended policy at cyclr's
reading within 0.3 points (1% of a loss) of the best grid-tuned policy overall, at no more
than a fifth of its cost. Read from the cache; what is missing (the shipped reading's runs
after a factor changed) is trained and cached, unless ``--no-train``.

    .venv/bin/python -m bench.policy_cost                   # writes bench/results/policy_cost.md
    .venv/bin/python -m bench.policy_cost --no-train --out /tmp/c.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from bench import common
from bench.policy_cache import DEFAULT_CACHE, Missing
from bench.policy_readings import SHIPPED
from bench.policy_report import Cell, TaskResult
from bench.suggest_bounds import regret, verdict

STEM = "policy_cost"
#: The study's tasks that are time-to-accuracy tasks, and the new judging task.
COST_TASKS = (
    "MNIST-1D / 1-D CNN / SGD",
    "digits / seed CNN / SGD",
    "char transformer / AdamW",
    "digits ViT / AdamW",
)
#: The goal against the best grid-tuned policy overall: points of accuracy, % of a loss.
GOAL_POINTS, GOAL_PERCENT = 0.3, 1.0
#: cyclr's cost over the best policy's grid's, at most.
GOAL_COST = 0.2


@dataclass(frozen=True)
class Overall:
    """The best grid-tuned policy of one task and budget: its cell, rate and grid cost."""

    cell: Cell
    rate: float
    cost: int
    every_grid: int


def overall(result: TaskResult, multiple: int) -> Overall:
    """The policy and rate of the best mean grid score over every policy at ``multiple``."""
    cells = [c for c in result.cells if c.multiple == multiple]
    sign = 1.0 if result.job.metric == "accuracy" else -1.0

    def mean_best(c: Cell) -> float:
        return sign * c.best_mean

    best = max(cells, key=mean_best)
    every = sum(len(c.grid) * c.updates for c in cells)
    return Overall(best, best.best, len(best.grid) * best.updates, every)


def cost_rows(result: TaskResult, multiple: int, rungs: list[int]) -> list[tuple[str, ...]]:
    """One row per policy at ``multiple`` times the budget: cyclr's reading against the
    policy's grid and the best policy overall; ``rungs``: each seed's range test's."""
    job, top = result.job, overall(result, multiple)
    unit, goal = ("pts", GOAL_POINTS) if job.metric == "accuracy" else ("%", GOAL_PERCENT)
    rung_mean = statistics.fmean(rungs)
    rows: list[tuple[str, ...]] = []
    for cell in (c for c in result.cells if c.multiple == multiple):
        method = next(m for m in cell.methods if m.name == SHIPPED)
        kept = [s for s in method.scores if s is not None]
        if not kept:
            rows.append((job.label, cell.policy, "—", "no reading", *("—",) * 6))
            continue
        own_best: list[float | None] = list(cell.grid[cell.best])
        own = regret(job, list(method.scores), own_best, cell.best_mean)
        best_scores: list[float | None] = list(top.cell.grid[top.rate])
        against = regret(job, list(method.scores), best_scores, top.cell.best_mean)
        assert own is not None and against is not None  # some seed read a rate
        spent = rung_mean + cell.updates
        peaks = [p for p in method.peaks if p is not None]
        digits = 2 if job.metric == "accuracy" else 4
        rows.append(
            (
                job.label,
                cell.policy,
                f"{statistics.median(peaks):.3g}",
                f"{statistics.fmean(kept):.{digits}f}",
                f"{own[0]:+.2f} ± {own[1]:.2f} {unit}",
                f"{against[0]:+.2f} ± {against[1]:.2f} {unit}",
                verdict(against[0], against[1], goal),
                f"{spent:,.0f}",
                f"{len(cell.grid) * cell.updates:,}",
                f"{spent / top.cost:.2f}",
            )
        )
    return rows


def render(found: list[tuple[TaskResult, int, list[int]]]) -> str:
    """The cost table, then the best grid-tuned policy of each task and budget."""
    header = (
        "task",
        "policy",
        "cyclr's peak (median)",
        "score at it",
        "regret vs the policy's best grid rate",
        "regret vs the best policy overall",
        "goal (0.3 pts / 1%)",
        "cyclr's steps (test + run)",
        "the policy's grid steps",
        "cyclr / best policy's grid",
    )
    rows = [row for r, multiple, rungs in found for row in cost_rows(r, multiple, rungs)]
    table = common.markdown_table(header, rows, ("---", "---") + ("---:",) * 8)
    best_rows = []
    for r, multiple, rungs in found:
        top = overall(r, multiple)
        best_rows.append(
            (
                r.job.label,
                f"{top.cell.updates:,}",
                f"{top.cell.policy} at {top.rate:.3g}",
                f"{top.cell.best_mean:.4g}",
                f"{len(top.cell.grid)} x {top.cell.updates:,} = {top.cost:,}",
                f"{top.every_grid:,}",
                f"{statistics.fmean(rungs):.0f}",
            )
        )
    best = common.markdown_table(
        (
            "task",
            "updates",
            "best grid-tuned policy",
            "its mean score",
            "its grid's steps",
            "every policy's grids",
            "range test rungs (mean)",
        ),
        best_rows,
        ("---", "---:", "---", "---:", "---:", "---:", "---:"),
    )
    note = (
        "Regret: paired seed by seed, ± its standard error; accuracy points, or the loss "
        "above the best's in % of it. Goal: regret against the best grid-tuned policy "
        "overall + 2 s.e. within 0.3 points (1% of a loss): 'met'; - 2 s.e. past it: "
        "'missed'; else 'unclear'. Steps: training updates; cyclr's are the mean rungs its "
        "range tests ran plus one run's updates."
    )
    return "\n\n".join((table, note, "## The best grid-tuned policy of each task", best))


def load(seeds: range, cache: Path, train: bool) -> list[tuple[TaskResult, int, list[int]]]:
    """Each cost task at each budget whose grids the cache holds, with its range tests'
    rungs; the shipped reading's runs missing from it are trained when ``train``."""
    from bench.policy_runs import Settings, Study
    from bench.policy_tasks import POLICIES, TASKS, budget_of

    found = []
    for job in (j for j in TASKS if j.label in COST_TASKS):
        study = None
        for multiple in (1, 4):
            settings = Settings(seeds, POLICIES, (multiple,), cache, train=False)
            study = Study(job, settings) if study is None else study
            study.settings = settings
            study.cache.train = False  # a grid is the study's to train, never this table's
            try:
                for policy in POLICIES:
                    study.grid(policy, budget_of(job, multiple))
                study.cache.train = train
                cells = tuple(study.cell(policy, multiple) for policy in POLICIES)
            except Missing as missing:
                common.log(f"{job.label} at {multiple}x: not all in the cache ({missing})")
                continue
            rungs = [len(study.tests[s].cyclr.lrs) for s in seeds]
            found.append((TaskResult(job, cells, study.cache.counts(), 0.0), multiple, rungs))
    return found


def main(argv: list[str] | None = None) -> int:
    from bench.policy_study import seeds_arg

    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--cache", default=str(DEFAULT_CACHE))
    p.add_argument("--seeds", default="5", help="a count (5) or a range (5-9)")
    p.add_argument("--no-train", action="store_true", help="read every run from the cache")
    p.add_argument("--out", help=f"markdown file (default bench/results/{STEM}.md)")
    args = p.parse_args(argv)
    started = common.start()
    found = load(seeds_arg(args.seeds), Path(args.cache), not args.no_train)
    if not found:
        raise common.BenchError(f"--cache {args.cache!r} holds none of {', '.join(COST_TASKS)}")
    body = render(found)
    print(body)
    out = Path(args.out) if args.out else common.RESULTS / f"{STEM}.md"
    header = common.provenance(started, common.command(STEM, argv), seeds=seeds_arg(args.seeds))
    common.log(f"wrote {common.write_result(out, 'Cost to a good model', header, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded(STEM, main))
