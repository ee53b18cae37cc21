"""The transformer task's tables of ``bench.time_to_accuracy``.

Holds the transformer's section (its paragraph, its policy table and its baselines'
grids), the best grid-tuned baseline, and its "cost to a good model" table and goal.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

from bench import common
from bench.time_to_accuracy_tasks import CYCLR_ONE_RUN, GOAL_COST
from bench.time_to_accuracy_text import (
    GOAL_LOSS_PERCENT,
    READING_ROWS,
    VAL_EVERY,
    TextComparison,
    TextRun,
)

#: The CPU task's model and text (``bench.judging``'s char transformer), for its paragraph.
JUDGING_TEXT = (
    "the char transformer of `bench/judging.py` (2 pre-norm layers, width 48, context 32) on "
    "the first 400,000 characters of Python's standard library"
)


def mean_se(values: Iterable[float], digits: int = 4) -> str:
    """``'1.7290 ± 0.0040'``: the mean and its standard error."""
    values = list(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} ± {se:.{digits}f}"


def text_its_cell(runs: Sequence[TextRun], loss: float) -> str:
    """Mean updates to ``loss`` over the seeds that reached it, and how many did."""
    hits = [its for r in runs if (its := r.iterations_to(loss)) is not None]
    if not hits:
        return "not reached"
    cell = f"{statistics.fmean(hits):,.0f}"
    return cell + (f" ({len(hits)}/{len(runs)} seeds)" if len(hits) < len(runs) else "")


def text_head(c: TextComparison, found: tuple[str, float, int] | None) -> str:
    """The transformer section's paragraph: the task, its range test and its target."""
    task = c.task
    rt = c.range_test
    val_losses = [] if rt.val_losses is None else rt.val_losses.tolist()
    val_passes = sum(not math.isnan(v) for v in val_losses)
    about = JUDGING_TEXT if task.model is None else task.model.about
    precision = (
        ""
        if c.amp is None
        else f" Under {c.amp} autocast: the range test, every training step, the evaluations."
    )
    head = (
        f"**{task.name}**, {about}, "
        f"AdamW (weight decay 0.1 on the matrices, for every policy), judged by the loss on "
        f"the held-out characters (nats per character, lower is better, measured after every "
        f"{task.updates // task.evaluations} updates): batch {task.batch_size}, "
        f"{task.updates:,} updates, half cycle {task.half_cycle} updates, "
        f"{c.seeds} seed{'s' * (c.seeds != 1)}. "
        f"Range test (seed 0, `cyclr.torch.range_test` at its defaults"
        + ("" if task.rungs is None else f" but {task.rungs} rungs")
        + f", the validation batch every {VAL_EVERY} rungs): {rt.lrs.size} rungs "
        f"({rt.stop_reason}), bounds on the validation curve {c.bounds[0]:.3g} .. "
        f"{c.bounds[1]:.3g}, valley on the training loss "
        + ("none" if c.valley is None else f"{c.valley:.3g}")
        + f" ({c.range_seconds:.1f} s, {val_passes} validation passes of 64 windows included)."
        + precision
        + " "
        + (
            "Target: none (no grid-tuned baseline ran)."
            if found is None
            else f"Target: the best grid-tuned baseline's ({found[0]}) mean final held-out "
            f"loss, {found[1]:.4f}."
        )
    )
    if any(p in READING_ROWS for p in c.policies):
        head += (
            " The `@reading` rows are cyclr's readings per schedule (docs/semantics.md, "
            "*Readings per schedule*): one run each with `result.schedule(policy, updates)` of "
            "this range test, at its `peak_lr` (`cosine`, `wsd`, `linear` with AdamW; "
            "`schedulefree@reading` is `constant` with schedule-free AdamW, its warm-up run by "
            "the optimizer); no grid."
        )
    return head


def text_grid_parts(c: TextComparison, found: tuple[str, float, int] | None) -> list[str]:
    """The baselines' grid table under the transformer section, with its caption."""
    grid_rows = []
    for policy in c.policies:
        grid = c.grid_of(policy)
        if len(grid) <= 1:
            continue
        kept = c.runs_of(policy)
        for lr, runs in sorted(grid.items(), key=lambda item: item[0] or 0.0):
            grid_rows.append(
                (
                    policy,
                    f"{lr:.3g}",
                    mean_se(r.final for r in runs),
                    "–" if found is None else text_its_cell(runs, found[1]),
                    "kept" if runs == kept else "",
                )
            )
    return [
        f"Grid tuning of the baselines ({c.task.name}; every rate trained for the whole "
        "budget with every seed; target as above):",
        common.markdown_table(
            ("policy", "lr", "final held-out loss ± s.e.", "iterations to target", ""),
            grid_rows,
            ("---", "---:", "---:", "---:", "---"),
        ),
    ]


def transformer_section(c: TextComparison) -> str:
    """The transformer task's paragraph, its tables and whether the headline goal was met."""
    task = c.task
    found = text_baseline(c)
    head = text_head(c, found)
    rows = []
    for policy in c.policies:
        runs = c.runs_of(policy)
        its: list[int] = []
        seconds: list[float] = []
        if found is not None:
            for r in runs:
                step, at = r.iterations_to(found[1]), r.seconds_to(found[1])
                if step is not None and at is not None:
                    its.append(step)
                    seconds.append(at)
        rows.append(
            (
                policy,
                runs[0].plan.bounds,
                "–" if found is None else text_its_cell(runs, found[1]),
                f"{statistics.fmean(its) / task.updates:.2f}" if its else "–",
                f"{statistics.fmean(seconds):.1f}" if seconds else "–",
                mean_se(r.final for r in runs),
                f"{statistics.fmean(r.seconds for r in runs):.1f}",
            )
        )
    parts = [
        head,
        common.markdown_table(
            (
                "policy",
                "lr",
                "iterations to target",
                "× budget",
                "seconds to target",
                "final held-out loss ± s.e.",
                "seconds",
            ),
            rows,
            ("---", "---", "---:", "---:", "---:", "---:", "---:"),
        ),
    ]
    if c.grid:
        parts += text_grid_parts(c, found)
    if found is not None:
        parts += text_cost_table(c, *found)
    return "\n\n".join(parts)


def text_baseline(c: TextComparison) -> tuple[str, float, int] | None:
    """The best grid-tuned baseline: ``(policy, mean final loss, total cost in steps)``."""
    gridded = [p for p in c.policies if len(c.grid_of(p)) > 1]
    if not gridded:
        return None
    best = min(gridded, key=lambda p: statistics.fmean(r.final for r in c.runs_of(p)))
    final = statistics.fmean(r.final for r in c.runs_of(best))
    return best, final, len(c.grid_of(best)) * c.task.updates


def text_cost_to(c: TextComparison, policy: str, loss: float) -> float | None:
    """Training steps to ``loss``: tuning plus mean updates to it; None unless every seed did."""
    runs = c.runs_of(policy)
    hits = [its for r in runs if (its := r.iterations_to(loss)) is not None]
    if len(hits) < len(runs):
        return None
    return c.tuning_steps(policy) + statistics.fmean(hits)


def text_cost_head(c: TextComparison, best: str, final: float, grid_cost: int) -> str:
    """The paragraph over the transformer's cost table (and the grid edges it hit)."""
    head = (
        f"Cost to a good model ({c.task.name}): the best grid-tuned baseline is **{best}** "
        f"(mean final held-out loss {final:.4f}; its total cost, the whole grid of "
        f"{len(c.grid_of(best))} full runs, is {grid_cost:,} training steps). Regret: the "
        f"final loss over the best baseline's of the same seed, in % of its mean (mean ± s.e. "
        f"over seeds). Tuning steps: the range test's rungs (its validation passes not counted, "
        f"as no evaluation is), the other grid points' full runs for a gridded policy (one "
        f"seed's worth each). Total steps: tuning plus the run's {c.task.updates:,} updates (a "
        f"gridded policy: its grid's runs x updates). Steps to a target: tuning plus the mean "
        f"updates to it, when every seed reached it (held-out loss measured every "
        f"{c.task.updates // c.task.evaluations} updates)."
    )
    edges = [
        f"{p} ({c.runs_of(p)[0].grid_lr:.3g})"
        for p, rates in c.grid.items()
        if c.runs_of(p)[0].grid_lr in (min(rates), max(rates))
    ]
    if edges:
        head += (
            " At the edge of its grid, so a wider grid might do better: " + ", ".join(edges) + "."
        )
    return head


def rate_source(c: TextComparison, policy: str) -> str:
    """Where a policy's rate came from: its grid, or the range test."""
    grid = len(c.grid_of(policy))
    return f"grid of {grid}" if grid > 1 else "range test (adamw)"


def text_cost_table(c: TextComparison, best: str, final: float, grid_cost: int) -> list[str]:
    """The transformer's "cost to a good model": paragraph, table and goal."""
    near = final * (1 + GOAL_LOSS_PERCENT / 100)
    best_runs = {r.seed: r.final for r in c.runs_of(best)}
    rows: list[tuple[str, ...]] = []
    met: list[str] = []
    missed: list[str] = []
    for policy in c.policies:
        runs = c.runs_of(policy)
        # regret per seed against the best baseline's run of the same seed, in % of its loss
        regrets = [100 * (r.final - best_runs[r.seed]) / final for r in runs]
        cost = text_cost_to(c, policy, near)
        rows.append(
            (
                policy,
                rate_source(c, policy),
                mean_se(r.final for r in runs),
                mean_se(regrets, 2),
                text_its_cell(runs, final),
                text_its_cell(runs, near),
                f"{c.tuning_steps(policy):,}",
                f"{c.tuning_steps(policy) + c.task.updates:,}",
                "–" if cost is None else f"{cost:,.0f}",
                "–" if cost is None else f"{cost / grid_cost:.2f}",
            )
        )
        if policy in CYCLR_ONE_RUN or policy in READING_ROWS:
            mean = statistics.fmean(r.final for r in runs)
            ok = mean <= near and cost is not None and cost <= GOAL_COST * grid_cost
            (met if ok else missed).append(policy)
    pct = f"{GOAL_LOSS_PERCENT:g}%"
    head = text_cost_head(c, best, final, grid_cost)
    table = common.markdown_table(
        (
            "policy",
            "rate from",
            "final held-out loss ± s.e.",
            "regret % of best's loss ± s.e.",
            "iterations to best's final",
            f"iterations to best's + {pct}",
            "tuning steps",
            "total steps",
            f"steps to best's + {pct}, tuning included",
            "× best's total cost",
        ),
        rows,
        ("---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"),
    )
    goal = (
        f"Goal: a cyclr one-run policy within {pct} of {best}'s final loss at ≤ {GOAL_COST}× "
        "its total cost: "
        + (f"met by {', '.join(met)}" if met else "met by no cyclr one-run policy")
        + (f"; not met by {', '.join(missed)}" if missed else "")
        + "."
    )
    return [head, table, goal]
