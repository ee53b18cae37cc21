"""The app tasks' tables of ``bench.time_to_accuracy``: a task's section and its costs.

Holds the columns and section of one app task (:func:`task_section`), the best
grid-tuned baseline, the "cost to a good model" table and the headline goal's notes.
"""

from __future__ import annotations

import math
import statistics

from bench import common
from bench.time_to_accuracy_tasks import (
    CYCLR_ONE_RUN,
    GOAL_COST,
    GOAL_GAP,
    GOAL_RATIO,
    Task,
)


def bench_columns(comparison):
    """``cyclr compare``'s columns with the seconds to target and the two ratios added."""
    from cyclr.app.comparison import Column, iterations_cell, mean_iterations, reached

    budget = comparison.budget
    fixed_its = mean_iterations(comparison.runs_of("fixed"))

    def ratio(runs, over):
        its = mean_iterations(runs)
        return "–" if its is None or not over else f"{its / over:.2f}"

    def seconds_to(runs):
        hits = reached(runs)
        return f"{statistics.fmean(r.seconds_to_target for r in hits):.1f}" if hits else "–"

    return (
        Column("policy", lambda runs: runs[0].label),
        Column("lr", lambda runs: runs[0].plan.bounds),
        Column("iterations to target", iterations_cell, "---:"),
        Column("× budget", lambda runs: ratio(runs, budget), "---:"),
        Column("× fixed's", lambda runs: ratio(runs, fixed_its), "---:"),
        Column("seconds to target", seconds_to, "---:"),
        Column(
            "final accuracy %", lambda runs: common.mean_std(r.final_accuracy for r in runs), "---:"
        ),
        Column("seconds", lambda runs: f"{statistics.fmean(r.seconds for r in runs):.1f}", "---:"),
    )


def task_section(task: Task, data, comparison) -> str:
    """The task's paragraph, its tables and whether the goals were met."""
    from cyclr.app.comparison import grid_table, policy_table

    c = comparison
    readings = "; ".join(
        f"{'SGD' if optimizer == 'sgd' else 'Adam'} bounds {r.base_lr:.3g} .. {r.max_lr:.3g}"
        + (f", minimum/10 {r.fixed_lr:.3g}" if optimizer == "sgd" else "")
        + f" ({r.seconds:.1f} s)"
        for optimizer, r in sorted(c.readings.items(), reverse=True)
    )
    head = (
        f"**{data.name}**, {task.about}: {len(data.x_train)} train / {len(data.x_test)} "
        f"test, batch {task.batch_size}, {task.epochs} epochs of {c.steps_per_epoch} steps "
        f"= {c.budget:,} iterations, half cycle {task.epochs_per_half_cycle:g} epochs "
        f"({c.step_size} steps), {c.settings.seeds} seeds. Range tests (seed 0): {readings}. "
        f"Target: the fixed policy's mean final test accuracy, {100 * c.target:.2f}%."
    )
    parts = [head, policy_table(c, bench_columns(c)), goals_note(task, comparison)]
    if c.settings.grid:
        parts += [
            f"Grid tuning of the baselines ({task.dataset}; every rate trained for the whole "
            "budget with every seed; target as above):",
            grid_table(c),
        ]
    headline = cost_table(c)
    if headline:
        parts += headline
    return "\n\n".join(parts)


def baseline_cost(comparison) -> tuple[str, float, int] | None:
    """The best grid-tuned baseline: ``(policy, mean final accuracy, total cost in steps)``.

    Its total cost is its whole grid, every point's full run (one seed's worth each): the
    best is known only when all have run. None when no baseline was gridded.
    """
    c = comparison
    gridded = [p for p in c.settings.policies if len(c.grid_of(p)) > 1]
    if not gridded:
        return None
    best = max(gridded, key=lambda p: statistics.fmean(r.final_accuracy for r in c.runs_of(p)))
    final = statistics.fmean(r.final_accuracy for r in c.runs_of(best))
    return best, final, len(c.grid_of(best)) * c.budget


def iterations_to(runs, accuracy: float) -> tuple[float | None, int]:
    """Mean iterations to ``accuracy`` over the runs that reached it, and how many did."""
    hits = [its for r in runs if (its := r.iterations_to(accuracy)) is not None]
    return (statistics.fmean(hits) if hits else None), len(hits)


def cost_to(comparison, policy: str, accuracy: float) -> float | None:
    """Training steps to ``accuracy``: the policy's tuning plus its mean iterations to it.

    None unless every seed reached it.
    """
    runs = comparison.runs_of(policy)
    its, hits = iterations_to(runs, accuracy)
    if its is None or hits < len(runs):
        return None
    return comparison.tuning_steps(policy) + its


def cost_table(comparison) -> list[str]:
    """The headline "cost to a good model": its paragraph, table and goal, or nothing."""
    from cyclr.app.policies import needs_range_test

    c = comparison
    found = baseline_cost(c)
    if found is None:
        return []
    best, final, grid_cost = found
    near = final - GOAL_GAP

    def its_cell(runs, accuracy):
        its, hits = iterations_to(runs, accuracy)
        if its is None:
            return "not reached"
        return f"{its:,.0f}" + (f" ({hits}/{len(runs)} seeds)" if hits < len(runs) else "")

    def source(policy):
        if len(c.grid_of(policy)) > 1:
            return f"grid of {len(c.grid_of(policy))}"
        optimizer = needs_range_test(policy)
        return "default rate" if optimizer is None else f"range test ({optimizer})"

    lines = [
        "| policy | rate from | final accuracy % | iterations to best's final "
        f"| iterations to best's - {100 * GOAL_GAP:.1f} pt | tuning steps "
        f"| steps to best's - {100 * GOAL_GAP:.1f} pt, tuning included | × best's total cost |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for policy in c.settings.policies:
        runs = c.runs_of(policy)
        cost = cost_to(c, policy, near)
        lines.append(
            f"| {policy} | {source(policy)} "
            f"| {common.mean_std(r.final_accuracy for r in runs)} "
            f"| {its_cell(runs, final)} | {its_cell(runs, near)} | {c.tuning_steps(policy):,} "
            f"| {'–' if cost is None else f'{cost:,.0f}'} "
            f"| {'–' if cost is None else f'{cost / grid_cost:.2f}'} |"
        )
    head = (
        f"Cost to a good model ({c.data_name}): the best grid-tuned baseline is **{best}** "
        f"(mean final test accuracy {100 * final:.2f}%; its total cost, the whole grid of "
        f"{len(c.grid_of(best))} full runs, is {grid_cost:,} training steps). Tuning steps: the "
        "range test's rungs for a range-tested policy, the other grid points' full runs for a "
        "gridded one (one seed's worth each). Steps to a target: tuning plus the mean "
        "iterations to it, when every seed reached it (evaluated after every epoch)."
    )
    edges = [
        f"{p} ({c.runs_of(p)[0].grid_lr:.3g})"
        for p in c.settings.policies
        if len(c.grid_of(p)) > 1
        and c.runs_of(p)[0].grid_lr in (min(c.grid_of(p)), max(c.grid_of(p)))
    ]
    if edges:
        head += (
            " At the edge of its grid, so a wider grid might do better: " + ", ".join(edges) + "."
        )
    return [head, "\n".join(lines), headline_goal(c, best, final, grid_cost)]


def headline_goal(comparison, best: str, final: float, grid_cost: int) -> str:
    """Whether a cyclr one-run policy came within the gap of ``best`` at the cost share."""
    c = comparison
    met, missed = [], []
    for policy in (p for p in c.settings.policies if p in CYCLR_ONE_RUN):
        accuracy = statistics.fmean(r.final_accuracy for r in c.runs_of(policy))
        cost = cost_to(c, policy, final - GOAL_GAP)
        ok = accuracy >= final - GOAL_GAP and cost is not None and cost <= GOAL_COST * grid_cost
        (met if ok else missed).append(policy)
    return (
        f"Goal: a cyclr one-run policy within {100 * GOAL_GAP:.1f} points of {best}'s final "
        f"accuracy at ≤ {GOAL_COST}× its total cost: "
        + (f"met by {', '.join(met)}" if met else "met by no cyclr one-run policy")
        + (f"; not met by {', '.join(missed)}" if missed else "")
        + "."
    )


def goals_note(task: Task, comparison) -> str:
    """Whether the issue's goals were met on this task, in words."""
    from cyclr.app.comparison import mean_iterations, reached

    c = comparison
    fixed_its = mean_iterations(c.runs_of("fixed"))
    to_budget, to_fixed = {}, {}  # policy -> ratio, for policies every seed of which reached
    for policy in c.settings.policies:
        runs = c.runs_of(policy)
        if len(reached(runs)) == len(runs):
            to_budget[policy] = mean_iterations(runs) / c.budget
            if fixed_its:
                to_fixed[policy] = mean_iterations(runs) / fixed_its
    notes = []
    cyclical = [p for p in c.settings.policies if p in CYCLR_ONE_RUN]
    for label, ratios in (("budget", to_budget), ("own iterations to that accuracy", to_fixed)):
        met = [p for p in cyclical if ratios.get(p, math.inf) <= GOAL_RATIO]
        missed = [p for p in cyclical if p not in met]
        notes.append(
            f"Goal ≤ {GOAL_RATIO}× the fixed baseline's {label}: "
            + (f"met by {', '.join(met)}" if met else "met by no cyclical policy")
            + (f"; not met by {', '.join(missed)}" if missed else "")
            + "."
        )
    if task.goal_accuracy is not None:
        best = max(
            c.settings.policies,
            key=lambda p: statistics.fmean(r.final_accuracy for r in c.runs_of(p)),
        )
        accuracy = statistics.fmean(r.final_accuracy for r in c.runs_of(best))
        verb = "met" if accuracy >= task.goal_accuracy else "NOT met"
        notes.append(
            f"Goal ≥ {100 * task.goal_accuracy:.0f}% within the budget: {verb} "
            f"(best mean: {best}, {100 * accuracy:.2f}%)."
        )
    return " ".join(notes)
