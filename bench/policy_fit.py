"""Each policy's peak factor, fitted on the fitting tasks of the per-policy study.

``RangeTestResult.schedule(policy, ...)`` peaks at ``result.bounds().max_lr`` times the
policy's factor (``cyclr.rangetest.policies.PEAK_READINGS``). The factor is fitted here, on
the study's fitting tasks only (``role='fitting'``), from the cache alone: for each task,
policy, budget and seed, the seed's score at ``max_lr * f`` is read off its own grid,
interpolated in ``log10(rate)`` by PCHIP (a rate outside the grid has no score), and each
task's regret (``bench.suggest_bounds.regret``'s: points of accuracy, or % of the loss) is
divided by the task's goal (0.5 points, 1%) so that tasks of both kinds weigh alike. On a
fine-tuning task ``max_lr`` is ``bounds(fine_tuning=True)``'s, the reading its user is told
to take. The fit is also made per :data:`GROUPS` (SGD and its schedule-free twin; Adam,
AdamW and theirs, on models without BatchNorm and with it), each beside the factor cyclr
ships for it. The factor of a policy is the ``f`` on a 0.1-decade ladder (:data:`FACTORS`)
with the least mean regret over the fitting tasks where every seed's ``max_lr * f`` lies
inside the grid. The judging tasks are never read here: cyclr's reading is trained at the
fitted rate there, by ``bench.policy_study``.

Whether a policy's best rate moves with the budget: for each task run at 1x and 4x, the
best grid rate at 4x over the one at 1x, in decades, with its spread over the tasks.

    .venv/bin/python -m bench.policy_fit              # from bench/results/cache/policy_study
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from scipy.interpolate import PchipInterpolator

from bench import common
from bench.policy_report import Cell, TaskResult, best_rate
from bench.suggest_bounds import GOAL_PERCENT, GOAL_POINTS
from cyclr.rangetest.policies import PEAK_READINGS

STEM = "policy_fit"
#: The factors tried: 10**(k / 10) for k in -16..20, 1.6 decades below the reading to two above
#: (schedule-free SGD trains best far above its schedule's peak: its README says 1-10x).
FACTORS = tuple(10.0 ** (k / 10) for k in range(-16, 21))
READING = "bounds() max_lr"
#: A fine-tuning task's reading: its user reads with ``fine_tuning=True`` (docs/semantics.md).
FINE_TUNING_READING = "bounds(fine_tuning=True) max_lr"


def _score_at(grid: dict[float, tuple[float, ...]], seed: int, rate: float) -> float | None:
    """Seed ``seed``'s score at ``rate``, interpolated in log10(rate); None off the grid.

    The interpolant is PCHIP (monotone piecewise cubic): it never overshoots the grid's
    scores, and, unlike a straight line between two rates half a decade apart, it stays
    flat near a peak. Checked against the runs trained at the readings themselves (420
    seeds x cells): straight lines read scores 1.1 points (or %) too low on average,
    PCHIP 0.4 (median 0.14).
    """
    rates = sorted(grid)
    x = math.log10(rate)
    xs = [math.log10(r) for r in rates]
    if not xs[0] <= x <= xs[-1]:
        return None
    return float(PchipInterpolator(xs, [grid[r][seed] for r in rates])(x))


def cell_regret(cell: Cell, metric: str, factor: float, reading: str = READING) -> float | None:
    """The cell's mean regret at ``reading * factor``, in goals; None off the grid."""
    method = next((m for m in cell.methods if m.name == reading), None)
    if method is None or any(p is None for p in method.peaks):
        return None
    best = cell.best_mean
    scores = []
    for seed, peak in enumerate(method.peaks):
        assert peak is not None
        found = _score_at(cell.grid, seed, peak * factor)
        if found is None:
            return None
        scores.append(found)
    mean = statistics.fmean(scores)
    if metric == "accuracy":
        return (best - mean) / GOAL_POINTS
    return 100.0 * (mean - best) / best / GOAL_PERCENT


def reading_of(result: TaskResult) -> str:
    """The reading the factor multiplies on ``result``'s task: :data:`READING`, or
    :data:`FINE_TUNING_READING` on a fine-tuning task."""
    return FINE_TUNING_READING if result.job.fine_tuning else READING


#: The groups the factors are fitted for, and the ``PEAK_READINGS`` key of each: SGD (and
#: its schedule-free twin), Adam without BatchNorm, Adam with it (Adam, AdamW and theirs).
GROUPS = {"SGD": "sgd", "Adam": "adam", "Adam, BatchNorm": "adam_batchnorm"}


def group(optimizer: str, batchnorm: bool) -> str:
    """The :data:`GROUPS` name of a cell: ``'SGD'`` for SGD and its schedule-free twin;
    Adam, AdamW and theirs split by whether the model has BatchNorm layers."""
    if "SGD" in optimizer:
        return "SGD"
    return "Adam, BatchNorm" if batchnorm else "Adam"


def fit(
    results: Sequence[TaskResult], only: str | None = None
) -> dict[tuple[str, int], tuple[float, float, int]]:
    """``{(policy, budget): (factor, mean regret in goals there, tasks)}``, fitting tasks;
    ``only``: the cells of that :func:`group` alone."""
    fitted: dict[tuple[str, int], tuple[float, float, int]] = {}
    keys = sorted({(c.policy, c.multiple) for r in results for c in r.cells})
    for policy, multiple in keys:
        cells = [
            (r.job.metric, c, reading_of(r))
            for r in results
            if r.job.role == "fitting"
            for c in r.cells
            if (c.policy, c.multiple) == (policy, multiple)
            and (only is None or group(c.optimizer, r.job.batchnorm) == only)
        ]
        best: tuple[float, float, int] | None = None
        for factor in FACTORS:
            found = [cell_regret(c, metric, factor, name) for metric, c, name in cells]
            if not found or any(v is None for v in found):
                continue
            mean = statistics.fmean(v for v in found if v is not None)
            if best is None or mean < best[1]:
                best = (factor, mean, len(found))
        if best is not None:
            fitted[(policy, multiple)] = best
    return fitted


def budget_moves(results: Sequence[TaskResult]) -> dict[str, list[float]]:
    """Per policy, ``log10(best rate at 4x / best rate at 1x)`` for each task run at both."""
    moves: dict[str, list[float]] = {}
    for r in results:
        by = {(c.policy, c.multiple): c for c in r.cells}
        for (policy, multiple), cell in by.items():
            other = by.get((policy, 1))
            if multiple == 4 and other is not None:
                four, one = best_rate(r.job, cell.grid), best_rate(r.job, other.grid)
                moves.setdefault(policy, []).append(math.log10(four / one))
    return moves


def render(results: Sequence[TaskResult]) -> str:
    """The fitted factors (every optimizer, then each group), and how far each policy's
    best rate moves at 4x the budget."""
    lines = [
        "| policy | optimizers | budget | factor on max_lr | mean regret there (goals) | "
        "at factor 1 | fitting tasks | cyclr's factor (`PEAK_READINGS`) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for only in (None, *GROUPS):
        for (policy, multiple), (factor, regret, n) in sorted(fit(results, only).items()):
            at_one = [
                cell_regret(c, r.job.metric, 1.0, reading_of(r))
                for r in results
                if r.job.role == "fitting"
                for c in r.cells
                if (c.policy, c.multiple) == (policy, multiple)
                and (only is None or group(c.optimizer, r.job.batchnorm) == only)
            ]
            kept = [v for v in at_one if v is not None]
            one = "—" if len(kept) < len(at_one) else f"{statistics.fmean(kept):+.2f}"
            shipped = PEAK_READINGS.get(policy, {}).get(GROUPS.get(only or "", ""))
            ships = "—" if shipped is None else f"{shipped:.3g}"
            lines.append(
                f"| {policy} | {only or 'all'} | {multiple}x | {factor:.3g} | {regret:+.2f} "
                f"| {one} | {n} | {ships} |"
            )
    moves = budget_moves(results)
    if moves:
        lines += ["", "| policy | best rate at 4x over 1x (decades) | tasks |", "|---|---|---|"]
        for policy, values in sorted(moves.items()):
            se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
            lines.append(
                f"| {policy} | {statistics.fmean(values):+.2f} ± {se:.2f} | {len(values)} |"
            )
    return "\n".join(lines)


def cached(seeds: range, cache: Path, budgets: tuple[int, ...]) -> list[TaskResult]:
    """Every fitting task whose runs are all in ``cache`` (the others are named and left)."""
    from bench.policy_cache import Missing
    from bench.policy_runs import Settings, study_task
    from bench.policy_tasks import POLICIES, TASKS

    found = []
    for job in TASKS:
        if job.role != "fitting":
            continue
        for multiple in budgets:
            settings = Settings(seeds, POLICIES, (multiple,), cache, train=False, shipped=False)
            try:
                found.append(study_task(job, settings))
            except Missing as missing:
                common.log(f"{job.label} at {multiple}x: not all in the cache ({missing})")
    return found


def main(argv: list[str] | None = None) -> int:
    from bench.policy_study import seeds_arg

    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--cache", default="bench/results/cache/policy_study")
    p.add_argument("--seeds", default="5", help="a count (5) or a range (5-9)")
    p.add_argument("--budget", type=int, choices=(1, 4), action="append")
    p.add_argument("--out", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    started = common.start()
    budgets = tuple(sorted(set(args.budget or [1, 4])))
    results = cached(seeds_arg(args.seeds), Path(args.cache), budgets)
    merged: dict[str, TaskResult] = {}
    for r in results:  # one TaskResult per task, its budgets' cells together
        kept = merged.get(r.job.label)
        cells = r.cells if kept is None else kept.cells + r.cells
        merged[r.job.label] = TaskResult(r.job, cells, r.counts, r.seconds)
    body = render(list(merged.values()))
    print(body)
    if args.out:
        tasks = ", ".join(merged)
        header = common.provenance(started, common.command(STEM, argv), seeds=seeds_arg(args.seeds))
        text = f"Fitting tasks read: {tasks}.\n\n{body}"
        path = common.write_result(Path(args.out), "Each policy's peak factor", header, text)
        common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded(STEM, main))
