"""A finished comparison: its runs, the tables of Smith's Table 1, and the files it writes.

:func:`cyclr.app.compare.compare` returns a :class:`Comparison`: one :class:`Run` per
policy and seed (its rates, final accuracy, iterations and seconds to the target
accuracy, and its per-epoch curve). :func:`policy_table` lays those runs out one row per
policy (:meth:`Comparison.rows`) with the columns a caller asks for; ``cyclr compare`` prints
:meth:`Comparison.markdown` and :func:`write_outputs` saves ``compare.csv``/``.md``/``.png``
and ``report.html``, while ``bench/time_to_accuracy.py`` adds its own columns to the same
rows. A policy tuned over a grid of rates has one run per rate and seed; its row is the
rate with the best mean final accuracy, and :func:`grid_table` shows every rate. A policy of
:data:`cyclr.app.policies.READINGS` also trains at the Adam range test's reading: its row
``'<policy>@reading'`` (:attr:`Run.label`) follows the grid's, and its rate stands among
the grid's rates in :func:`grid_table`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cyclr.app.files import write_csv, write_json, write_text
from cyclr.app.policies import READINGS, Plan, needs_range_test
from cyclr.app.report import write_report
from cyclr.plotting import new_figure, save_figure

if TYPE_CHECKING:
    from cyclr.app.compare import CompareSettings
    from cyclr.app.workflow import Rates

CSV_COLUMNS = (
    "policy",
    "seed",
    "optimizer",
    "base_lr",
    "max_lr",
    "final_accuracy",
    "iterations_to_target",
    "seconds",
    "seconds_to_target",
    "steps",
    "grid_lr",
    "rate_from",
)
#: Where a run's rate came from (:attr:`Run.rate_from`).
RATE_SOURCES = ("grid", "reading", "default")


@dataclass(frozen=True)
class Run:
    """One policy trained with one seed: its plan, outcome and per-epoch curve.

    ``iterations_to_target`` and ``seconds_to_target`` (wall time from the start of
    training, evaluation included) are those of the first epoch end whose test accuracy
    reached the target; None when no epoch did. ``rate_from``: where its rate came from
    (:data:`RATE_SOURCES`): ``'grid'`` (``grid_lr``, the grid's rate it trained at; None
    otherwise), ``'reading'`` (a range test's) or ``'default'`` (the policy's own).
    """

    policy: str
    seed: int
    plan: Plan
    final_accuracy: float
    iterations_to_target: int | None
    seconds: float
    seconds_to_target: float | None
    steps: int
    curve: tuple[dict, ...]
    rate_from: str
    grid_lr: float | None = None

    @property
    def label(self) -> str:
        """The run's row in the tables: its policy, or ``'<policy>@reading'``.

        The second for a policy of :data:`~cyclr.app.policies.READINGS` at the Adam range
        test's reading (at a grid's rate it is the policy alone).
        """
        at_reading = self.rate_from == "reading" and self.policy in READINGS
        return f"{self.policy}@reading" if at_reading else self.policy

    @property
    def optimizer(self) -> str:
        return self.plan.optimizer

    @property
    def lr_range(self) -> tuple[float, float]:
        return self.plan.lr_range

    def csv_row(self) -> dict:
        """The run as a row of ``compare.csv`` (a target not reached is an empty cell)."""
        base_lr, max_lr = self.lr_range
        return {
            "policy": self.policy,
            "seed": self.seed,
            "optimizer": self.optimizer,
            "base_lr": base_lr,
            "max_lr": max_lr,
            "final_accuracy": self.final_accuracy,
            "iterations_to_target": self.iterations_to_target,
            "seconds": self.seconds,
            "seconds_to_target": self.seconds_to_target,
            "steps": self.steps,
            "grid_lr": self.grid_lr,
            "rate_from": self.rate_from,
        }

    def iterations_to(self, accuracy: float) -> int | None:
        """Iterations to the first epoch end whose test accuracy reached ``accuracy``."""
        for epoch in self.curve:
            if epoch["test_accuracy"] >= accuracy:
                return int(epoch["step"])
        return None


@dataclass(frozen=True)
class Comparison:
    """Every run of a comparison, and what they were measured against."""

    settings: CompareSettings
    data_name: str
    epochs: int
    steps_per_epoch: int
    step_size: int
    target: float
    readings: Mapping[str, Rates]
    runs: tuple[Run, ...]

    @property
    def budget(self) -> int:
        """Training iterations per run."""
        return self.epochs * self.steps_per_epoch

    def rows(self) -> list[list[Run]]:
        """The tables' rows, in the settings' order.

        Each policy's :meth:`runs_of`; after a gridded policy of
        :data:`~cyclr.app.policies.READINGS`, its runs at the reading (:meth:`reading_of`).
        """
        rows = []
        for policy in self.settings.policies:
            rows.append(self.runs_of(policy))
            reading = self.reading_of(policy)
            if reading and self.grid_of(policy):
                rows.append(reading)
        return rows

    def runs_of(self, policy: str) -> list[Run]:
        """The policy's row: its runs, or a gridded policy's at its best rate.

        The best rate has the best mean final accuracy; a policy with no grid trains at its
        reading or its default rate.
        """
        grid = self.grid_of(policy)
        if not grid:
            return [r for r in self.runs if r.policy == policy]
        return max(grid.values(), key=lambda runs: float(np.mean([r.final_accuracy for r in runs])))

    def grid_of(self, policy: str) -> dict[float, list[Run]]:
        """The policy's runs at a grid's rates, by rate; empty when no grid tunes it."""
        grid: dict[float, list[Run]] = {}
        for r in self.runs:
            if r.policy == policy and r.grid_lr is not None:
                grid.setdefault(r.grid_lr, []).append(r)
        return grid

    def reading_of(self, policy: str) -> list[Run]:
        """A policy's runs at the Adam range test's reading, row ``'<policy>@reading'``.

        Empty for a policy not of :data:`~cyclr.app.policies.READINGS`.
        """
        return [r for r in self.runs if r.label == f"{policy}@reading"]

    def range_test_steps(self, optimizer: str) -> int:
        """The rungs (training steps) the range test of ``optimizer`` ran; 0 without one."""
        reading = self.readings.get(optimizer)
        if reading is None or reading.range_test is None:
            return 0
        return len(reading.range_test.lrs)

    def tuning_steps(self, policy: str) -> int:
        """Training steps spent choosing the policy's rate, in training-step equivalents.

        The row of :meth:`runs_of`: a gridded policy's, every grid point's full runs but
        the one kept (one seed's worth each; the best is known only when all have run); a
        range-tested policy's, its range test's rungs; a policy at its default rate, 0.
        """
        grid = self.grid_of(policy)
        if grid:
            return (len(grid) - 1) * self.budget
        source = needs_range_test(policy)
        return 0 if source is None else self.range_test_steps(source)

    def markdown(self) -> str:
        """The target line and :data:`TABLE_COLUMNS`' table: what ``cyclr compare`` prints."""
        s = self.settings
        return "\n".join(
            [
                f"Target: test accuracy {self.target:.4f}"
                + (" (the fixed policy's mean final accuracy)" if s.target is None else "")
                + f"; {self.epochs} epochs of {self.steps_per_epoch} steps; {s.seeds} seed(s); "
                f"{self.data_name}, {s.model}, {s.framework}",
                "",
                policy_table(self, TABLE_COLUMNS),
            ]
            + (["", grid_table(self)] if self.settings.grid else [])
        )


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Column:
    """A column of :func:`policy_table`: ``cell(runs)`` formats one policy's runs."""

    header: str
    cell: Callable[[Sequence[Run]], str]
    align: str = "---"  # '---:' right-aligns numbers


def policy_table(comparison: Comparison, columns: Sequence[Column]) -> str:
    """One markdown row per row of :meth:`Comparison.rows`, with ``columns``."""
    lines = [
        "| " + " | ".join(c.header for c in columns) + " |",
        "|" + "|".join(c.align for c in columns) + "|",
    ]
    for runs in comparison.rows():
        lines.append("| " + " | ".join(c.cell(runs) for c in columns) + " |")
    return "\n".join(lines)


def grid_table(comparison: Comparison) -> str:
    """Every grid point of every gridded policy: its rate, final accuracy and time to target.

    The rate a policy's row kept (the best mean final accuracy) is marked ``kept``. A
    policy's runs at the reading (``'<policy>@reading'``) stand among its grid's rates,
    at the reading's peak rate.
    """
    lines = [
        "| policy | lr | final accuracy | iterations to target | |",
        "|---|---:|---:|---:|---|",
    ]
    for policy in comparison.settings.policies:
        grid = comparison.grid_of(policy)
        if not grid:
            continue
        best = comparison.runs_of(policy)
        points = [(lr, runs, "kept" if runs == best else "") for lr, runs in grid.items()]
        reading = comparison.reading_of(policy)
        if reading:
            points.append((reading[0].lr_range[1], reading, ""))
        for lr, runs, mark in sorted(points, key=lambda point: point[0]):
            final = mean_std([r.final_accuracy for r in runs])
            lines.append(
                f"| {runs[0].label} | {lr:.3g} | {final} | {iterations_cell(runs)} | {mark} |"
            )
    return "\n".join(lines)


def reached(runs: Sequence[Run]) -> list[Run]:
    """The runs that reached the target."""
    return [r for r in runs if r.iterations_to_target is not None]


def mean_iterations(runs: Sequence[Run]) -> float | None:
    """Mean iterations to target over the runs that reached it; None if none did."""
    hits = reached(runs)
    return float(np.mean([r.iterations_to_target for r in hits])) if hits else None


def iterations_cell(runs: Sequence[Run]) -> str:
    """Mean iterations over the seeds that reached the target, and how many did."""
    its = mean_iterations(runs)
    if its is None:
        return "not reached"
    hits = len(reached(runs))
    return f"{its:,.0f}" + (f" ({hits}/{len(runs)} seeds)" if hits < len(runs) else "")


def mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.4f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.4f}"


TABLE_COLUMNS = (
    Column("policy", lambda runs: runs[0].label),
    Column("optimizer", lambda runs: runs[0].optimizer),
    Column("lr", lambda runs: runs[0].plan.bounds),
    Column("iterations to target", iterations_cell, "---:"),
    Column("final accuracy", lambda runs: mean_std([r.final_accuracy for r in runs]), "---:"),
)


# ----------------------------------------------------------------------------- the files
def write_outputs(comparison: Comparison, out, config: Mapping) -> None:
    """``compare.csv``, ``compare.md``, ``compare_config.json`` and ``compare.png`` in ``out``.

    ``config`` is what the run was asked for (the command's options); the epochs and the
    step size it worked out are added to it.
    """
    write_csv(out / "compare.csv", CSV_COLUMNS, (r.csv_row() for r in comparison.runs))
    write_text(out / "compare.md", comparison.markdown() + "\n")
    resolved = dict(config) | {
        "epochs": comparison.epochs,
        "steps_per_epoch": comparison.steps_per_epoch,
        "step_size": comparison.step_size,
        "target": comparison.target,
    }
    write_json(out / "compare_config.json", resolved)
    _plot(comparison, out / "compare.png")
    write_compare_report(comparison, out, resolved)


def write_compare_report(comparison: Comparison, out, config: Mapping) -> None:
    """``report.html``: the table, the accuracy curves and the range tests, one page."""
    s = comparison.settings
    summary: dict[str, Any] = {
        "target": comparison.target,
        "budget": f"{comparison.epochs} epochs of {comparison.steps_per_epoch} steps",
        "seeds": s.seeds,
        "data": comparison.data_name,
        "model": s.model,
        "framework": s.framework,
    }
    for runs in comparison.rows():
        label = runs[0].label
        summary[f"{label}: lr"] = runs[0].plan.bounds
        summary[f"{label}: final accuracy"] = mean_std([r.final_accuracy for r in runs])
        summary[f"{label}: iterations to target"] = iterations_cell(runs)
    figures = [("Test accuracy per policy", out / "compare.png")]
    figures += [(f"Range test ({opt})", out / f"range_test_{opt}.png") for opt in s.range_tested]
    write_report(
        out / "report.html",
        f"cyclr compare on {comparison.data_name}",
        summary,
        dict(config),
        figures,
    )


def _plot(comparison: Comparison, path):
    fig = new_figure(figsize=(8, 4.5))
    ax = fig.subplots()
    for i, runs in enumerate(comparison.rows()):
        curves = [r.curve for r in runs]
        steps = [e["step"] for e in curves[0]]
        acc = np.mean([[e["test_accuracy"] for e in c] for c in curves], axis=0)
        ax.plot(steps, acc, "-o", ms=2.5, color=f"C{i % 10}", label=runs[0].label)
    target = comparison.target
    ax.axhline(target, color="k", lw=0.8, ls="--", label=f"target {target:.3f}")
    ax.set_xlabel("iterations")
    ax.set_ylabel("test accuracy (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    lo = min(min(e["test_accuracy"] for e in r.curve) for r in comparison.runs)
    ax.set_ylim(max(0.0, min(lo, target) - 0.02), 1.0)
    save_figure(fig, path)
