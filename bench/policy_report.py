"""What the per-policy study measured, and its tables (``bench.policy_study``).

Regret is suggest_bounds' (``bench.suggest_bounds.regret``): the policy's best grid
rate's mean score minus the reading's, in accuracy points, or the reading's loss above
the best's in % of it, with its standard error seed by seed (same weights, same
batches); the goal (0.5 points, 1%) is 'met' when regret + 2 s.e. is within it,
'missed' when regret - 2 s.e. is past it, else 'unclear'.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from bench import common
from bench.judging import Judging
from bench.policy_tasks import TRIANGULAR_RATIO
from bench.suggest_bounds import GOAL_PERCENT, GOAL_POINTS, regret, verdict

NOISE = "best grid rate x 0.99 (noise)"
SCORES = {"accuracy": "test accuracy %", "loss": "test loss"}


@dataclass(frozen=True)
class Method:
    """A candidate's score and peak rate per seed (None where the reading raised)."""

    name: str
    scores: tuple[float | None, ...]
    peaks: tuple[float | None, ...]
    errors: tuple[str, ...] = ()
    peer: bool = False


@dataclass(frozen=True)
class Cell:
    """One task x policy x budget: the grid (scores per seed by rate), its best, edge
    note, and the candidates."""

    policy: str
    optimizer: str
    multiple: int
    updates: int
    grid: dict[float, tuple[float, ...]]
    best: float
    edge: str
    methods: tuple[Method, ...]

    @property
    def best_mean(self) -> float:
        """The mean score over the seeds at the best grid rate."""
        return statistics.fmean(self.grid[self.best])


@dataclass(frozen=True)
class TaskResult:
    """Every cell of one task; ``counts``: runs trained, reused, range tests run, reused."""

    job: Judging
    cells: tuple[Cell, ...]
    counts: tuple[int, int, int, int]
    seconds: float


def best_rate(job: Judging, grid: dict[float, tuple[float, ...]]) -> float:
    """The grid rate of the best mean score (highest accuracy, lowest loss)."""
    sign = 1.0 if job.metric == "accuracy" else -1.0
    return max(grid, key=lambda rate: sign * statistics.fmean(grid[rate]))


def _score_text(job: Judging, values: list[float]) -> str:
    digits = 2 if job.metric == "accuracy" else 4
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} ± {std:.{digits}f}"


def cell_rows(job: Judging, cell: Cell) -> list[tuple[str, ...]]:
    """The best grid rate's row, then one per candidate, with regret and verdict."""
    unit = "pts" if job.metric == "accuracy" else "%"
    goal = GOAL_POINTS if job.metric == "accuracy" else GOAL_PERCENT
    best = list(cell.grid[cell.best])
    head = (job.name, job.role, cell.policy, cell.optimizer, f"{cell.updates:,}")
    rows = [(*head, "best grid rate", f"{cell.best:.3g}", _score_text(job, best), "0", "—", "—")]
    for method in cell.methods:
        kept = [s for s in method.scores if s is not None]
        raised = f"{len(method.scores) - len(kept)}/{len(method.scores)}"
        name = f"{method.name} (peer)" if method.peer else method.name
        if not kept:
            rows.append((*head, name, "—", "—", "—", raised, "—"))
            continue
        peaks = [p for p in method.peaks if p is not None]
        found = regret(job, list(method.scores), best, cell.best_mean)
        assert found is not None  # some seed gave a rate
        value, se = found
        error = "—" if math.isnan(se) else f"{se:.2f}"  # one seed: no error to give
        cells = (f"{value:+.2f} ± {error} {unit}", raised, verdict(value, se, goal))
        rows.append(
            (*head, name, f"{statistics.median(peaks):.3g}", _score_text(job, kept), *cells)
        )
    return rows


def main_table(results: list[TaskResult]) -> str:
    header = (
        "task",
        "set",
        "policy",
        "optimizer",
        "updates",
        "method",
        "peak lr (median over seeds)",
        "score (mean ± std)",
        "regret vs the policy's best grid rate (± s.e.)",
        "raised",
        "goal",
    )
    rows = [row for r in results for cell in r.cells for row in cell_rows(r.job, cell)]
    align = ("---",) * 6 + ("---:",) * 5
    return common.markdown_table(header, rows, align)


def budget_table(results: list[TaskResult]) -> str:
    """Does each policy's best rate move with the budget? Best grid rates side by side."""
    rows = []
    for r in results:
        by_policy: dict[str, dict[int, Cell]] = {}
        for cell in r.cells:
            by_policy.setdefault(cell.policy, {})[cell.multiple] = cell
        for policy, cells in by_policy.items():
            if len(cells) < 2:
                continue
            low, high = min(cells), max(cells)
            a, b = cells[low].best, cells[high].best
            rates = [
                f"{cells[m].best:.3g}{' (edge)' if cells[m].edge else ''}" for m in sorted(cells)
            ]
            rows.append((r.job.label, policy, " / ".join(rates), f"{b / a:.3g}"))
    if not rows:
        return ""
    header = ("task", "policy", "best grid rate at 1x / 4x the budget", "4x over 1x")
    return common.markdown_table(header, rows, ("---", "---", "---", "---:"))


def grid_tables(results: list[TaskResult]) -> str:
    """Per task: the grid's mean score at every rate, a row per policy and budget."""
    parts = []
    for r in results:
        rates = sorted({rate for cell in r.cells for rate in cell.grid})
        lines = [
            f"**{r.job.label}** (mean {SCORES[r.job.metric]}; the best of each row in bold):",
            "",
            "| policy | updates | " + " | ".join(f"{x:.3g}" for x in rates) + " |",
            "|---|---:|" + "---:|" * len(rates),
        ]
        for cell in r.cells:
            cells = []
            for rate in rates:
                values = cell.grid.get(rate)
                text = "" if values is None else f"{statistics.fmean(values):.4g}"
                cells.append(f"**{text}**" if rate == cell.best else text)
            lines.append(f"| {cell.policy} | {cell.updates:,} | " + " | ".join(cells) + " |")
        edges = [f"{c.policy} at {c.updates:,} updates: {c.edge}" for c in r.cells if c.edge]
        if edges:
            lines += ["", "Best at the grid's edge after widening: " + "; ".join(edges) + "."]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def summary_table(results: list[TaskResult], role: str = "judging") -> str:
    """Per candidate and policy: how many of ``role``'s task x budget cells met the goal."""
    tally: dict[str, dict[str, list[str]]] = {}
    for r in results:
        if r.job.role != role:
            continue
        for cell in r.cells:
            for row in cell_rows(r.job, cell)[1:]:
                method, verdict_text = row[5], row[-1]
                if verdict_text != "—":
                    tally.setdefault(method, {}).setdefault(cell.policy, []).append(verdict_text)
    if not tally:
        return ""
    policies = list(dict.fromkeys(c.policy for r in results for c in r.cells))

    def text(found: list[str]) -> str:
        if not found:
            return ""
        return " / ".join(str(found.count(v)) for v in ("met", "unclear", "missed"))

    rows = [(m, *(text(by.get(p, [])) for p in policies)) for m, by in tally.items()]
    return common.markdown_table(("method", *policies), rows, ("---",) + ("---:",) * len(policies))


def totals(results: list[TaskResult]) -> tuple[int, int, int, int]:
    """Runs trained and reused, range tests run and reused, over every task."""
    trained, reused, run, read = (sum(r.counts[i] for r in results) for i in range(4))
    return trained, reused, run, read


def render(results: list[TaskResult], seconds: float) -> str:
    """The study's markdown: the regret table, the summary, the budgets, the grids."""
    trained, reused, tests_run, tests_reused = totals(results)
    note = (
        "Per task, policy and budget: the policy's best grid rate (mean score over the "
        "seeds) and every candidate reading, trained at its rate as the policy's peak "
        "(`bench/policy_tasks.py`: the core's schedules through `cyclr.torch.CyclicLR`, the "
        "task's optimizer, `constant` with its schedule-free twin; `triangular` between "
        f"peak / {TRIANGULAR_RATIO:g} and the peak, or between the bounds for `bounds() "
        "pair`). Range tests (`bench/policy_readings.py`): `cyclr.torch.range_test` at its "
        "defaults (with the validation batch every 2 rungs where the task has one), the "
        "peers on their own default ladders. Score: test accuracy %, or test loss. Regret: "
        "the best grid rate's mean minus the reading's, in accuracy points, or the reading's "
        "loss above the best's in % of it; ± its standard error seed by seed. Goal: 0.5 "
        "points or 1%: 'met' when regret + 2 s.e. is within it, 'missed' when regret - 2 "
        "s.e. is past it, else 'unclear'. 'raised': seeds where the reading raised a "
        f"ValueError. {trained} runs and {tests_run} range tests trained, {reused} runs "
        f"and {tests_reused} range tests from the cache; {seconds:.0f} s."
    )
    parts = [main_table(results), note]
    summary = summary_table(results)
    if summary:
        parts += ["## Judging tasks: met / unclear / missed, per reading and policy", summary]
    budgets = budget_table(results)
    if budgets:
        parts += ["## Does the best rate move with the budget?", budgets]
    parts += ["## The grids", grid_tables(results)]
    return "\n\n".join(parts)
