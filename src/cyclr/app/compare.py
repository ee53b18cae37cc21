"""Train each policy on the same data, model and budget; tabulate as Smith's Table 1.

:func:`compare` runs the range tests the policies need, then every policy for every
seed, and returns a :class:`Comparison`: one :class:`Run` per policy and seed (its
rates, final accuracy, iterations and seconds to the target accuracy, and its
per-epoch curve). :func:`policy_table` lays those runs out one row per policy with
the columns a caller asks for; ``cyclr compare`` prints :meth:`Comparison.markdown`
and :func:`write_outputs` saves ``compare.csv``/``.md``/``.png``, while
``bench/time_to_accuracy.py`` adds its own columns to the same rows. A policy tuned
over a grid of rates (``CompareSettings.grid``) has one run per rate and seed; its row is
the rate with the best mean final accuracy, and :func:`grid_table` shows every rate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cyclr.app.files import write_csv, write_json, write_text
from cyclr.app.monitor import MONITORS, range_test_monitor
from cyclr.app.policies import (
    COMPARED,
    RANGE_TEST_DEFAULTS,
    TORCH_ONLY,
    TUNABLE,
    Plan,
    make_plan,
    needs_range_test,
    range_tested,
)
from cyclr.app.report import write_report
from cyclr.app.runner import Runner
from cyclr.app.session import MetricsLog, make_runner, progress_bar
from cyclr.app.workflow import (
    Rates,
    default_epochs,
    find_bounds,
    half_cycle,
    train_plan,
)
from cyclr.plotting import new_figure, save_figure

#: ``(start_lr, end_lr, num_steps)`` of a range test.
Ladder = tuple[float, float, int]
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
)
FRAMEWORKS = ("torch", "keras")


@dataclass(frozen=True)
class CompareSettings:
    """What to compare: the policies, the model, the budget and the seeds.

    Args:
      framework: ``'torch'`` or ``'keras'``.
      model: a model name of :mod:`cyclr.app.torch_models` / ``keras_models``.
      policies: names of :data:`cyclr.app.policies.COMPARED`, in table order.
      batch_size: the batch size of range tests and training.
      epochs: the budget; None: three whole cycles (:func:`default_epochs`).
      epochs_per_half_cycle: the cyclical policies' half cycle, in epochs.
      seed, seeds: the runs use seeds ``seed, seed + 1, ...``, ``seeds`` of them; the
        range tests use ``seed``.
      target: the test accuracy to time; None: the fixed policy's mean final accuracy.
      range_tests: ``(start_lr, end_lr, num_steps)`` by optimizer (``'sgd'``,
        ``'adam'``); an optimizer left out gets :data:`RANGE_TEST_DEFAULTS`.
      device: PyTorch's device (``'cuda'``); None: CUDA when PyTorch sees a GPU, else
        the CPU (:func:`cyclr.app.torch_runner.resolve_device`).
      loss: ``'crossentropy'`` or None (a saved Keras model's own loss, else
        cross-entropy); compare measures accuracy, so a regression loss is refused.
      grid: rates to try by policy (of :data:`cyclr.app.policies.TUNABLE`, e.g. from
        :func:`cyclr.app.policies.grid_rates`): each rate trains every seed, and the
        policy's row is the rate with the best mean final accuracy. A policy left out
        trains at its default rate.
      amp: PyTorch's mixed precision for training, ``'bf16'`` or ``'fp16'`` (see
        :class:`cyclr.app.torch_runner.TorchRunner`); None: float32.
      monitor: the curve the range tests' rates are read from: ``'loss'`` (the
        training loss) or ``'val_loss'`` (the command line's default: a batch of the
        validation split, see :func:`cyclr.app.monitor.range_test_monitor`, which
        falls back to ``'loss'`` without one).
      fine_tuning: the model starts from trained weights: the range tests' bounds are
        read for fine-tuning (``BoundsSettings(fine_tuning=True)``).

    Raises:
      ValueError: naming the setting and the value received.
    """

    framework: str
    model: str
    policies: tuple[str, ...]
    batch_size: int = 32
    epochs: int | None = None
    epochs_per_half_cycle: float = 4.0
    seed: int = 0
    seeds: int = 3
    target: float | None = None
    range_tests: Mapping[str, Ladder] | tuple[tuple[str, Ladder], ...] = ()
    device: str | None = None
    loss: str | None = None
    grid: Mapping[str, Sequence[float]] | tuple[tuple[str, tuple[float, ...]], ...] = ()
    amp: str | None = None
    monitor: str = "loss"
    fine_tuning: bool = False

    def __post_init__(self):
        # Accept any mapping or pairs; keep a sorted tuple, so the settings stay hashable.
        merged = dict(RANGE_TEST_DEFAULTS) | dict(self.range_tests)
        object.__setattr__(self, "range_tests", tuple(sorted(merged.items())))
        object.__setattr__(self, "policies", tuple(self.policies))
        if self.framework not in FRAMEWORKS:
            raise ValueError(
                f"framework must be one of {', '.join(FRAMEWORKS)}; received "
                f"framework={self.framework!r}"
            )
        if not self.policies or any(p not in COMPARED for p in self.policies):
            raise ValueError(
                f"policies must name some of {', '.join(COMPARED)}; received "
                f"policies={self.policies!r}"
            )
        torch_only = [p for p in self.policies if p in TORCH_ONLY]
        if torch_only and self.framework != "torch":
            raise ValueError(
                f"policies {', '.join(torch_only)} run with framework='torch' only; received "
                f"framework={self.framework!r}"
            )
        grid = {p: tuple(float(r) for r in rates) for p, rates in dict(self.grid).items()}
        object.__setattr__(self, "grid", tuple(sorted(grid.items())))
        for policy, rates in grid.items():
            if policy not in TUNABLE or policy not in self.policies:
                raise ValueError(
                    f"grid tunes policies of {', '.join(TUNABLE)} that policies names; "
                    f"received grid for {policy!r} with policies={self.policies!r}"
                )
            if not rates or not all(0 < r < float("inf") for r in rates):
                raise ValueError(
                    f"grid[{policy!r}] must be positive finite rates; received {rates!r}"
                )
        if self.amp is not None and (self.framework != "torch" or self.amp not in ("bf16", "fp16")):
            raise ValueError(
                f"amp is 'bf16' or 'fp16' with framework='torch'; received amp={self.amp!r} "
                f"with framework={self.framework!r}"
            )
        if self.monitor not in MONITORS:
            raise ValueError(
                f"monitor must be one of {', '.join(MONITORS)}; received monitor={self.monitor!r}"
            )
        if self.seeds < 1:
            raise ValueError(f"seeds must be at least 1; received seeds={self.seeds!r}")
        if self.target is None and "fixed" not in self.policies:
            raise ValueError(
                "target=None times the fixed policy's accuracy, so policies must "
                f"include 'fixed'; received policies={self.policies!r}"
            )
        if self.target is not None and not 0 < self.target <= 1:
            raise ValueError(f"target is an accuracy in (0, 1]; received target={self.target!r}")
        if self.loss not in (None, "crossentropy"):
            raise ValueError(
                "compare times test accuracy, so it needs a classification loss; received "
                f"loss={self.loss!r}"
            )
        if self.device is not None and self.framework != "torch":
            raise ValueError(
                f"device applies to framework='torch' only; received "
                f"device={self.device!r} with framework={self.framework!r}"
            )

    def range_test(self, optimizer: str) -> Ladder:
        """``(start_lr, end_lr, num_steps)`` of ``optimizer``'s range test."""
        return dict(self.range_tests)[optimizer]

    @property
    def range_tested(self) -> list[str]:
        """The optimizers whose range tests the policies need, in name order."""
        return range_tested(self.policies)

    def rates_of(self, policy: str) -> tuple[float | None, ...]:
        """The rates ``policy`` trains at: its grid, or ``(None,)`` (its own rate)."""
        return tuple(dict(self.grid).get(policy, (None,)))


@dataclass(frozen=True)
class Run:
    """One policy trained with one seed: its plan, outcome and per-epoch curve.

    ``iterations_to_target`` and ``seconds_to_target`` (wall time from the start of
    training, evaluation included) are those of the first epoch end whose test accuracy
    reached the target; None when no epoch did. ``grid_lr``: the grid's rate this run
    trained at (None: the policy's own rate).
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
    grid_lr: float | None = None

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

    def runs_of(self, policy: str) -> list[Run]:
        """The policy's runs; for a gridded policy, those of its best rate."""
        grid = self.grid_of(policy)
        if len(grid) <= 1:
            return [r for r in self.runs if r.policy == policy]
        return max(grid.values(), key=lambda runs: float(np.mean([r.final_accuracy for r in runs])))

    def grid_of(self, policy: str) -> dict[float | None, list[Run]]:
        """The policy's runs by the grid's rate (one entry, None, when not gridded)."""
        grid: dict[float | None, list[Run]] = {}
        for r in self.runs:
            if r.policy == policy:
                grid.setdefault(r.grid_lr, []).append(r)
        return grid

    def range_test_steps(self, optimizer: str) -> int:
        """The rungs (training steps) the range test of ``optimizer`` ran; 0 without one."""
        reading = self.readings.get(optimizer)
        if reading is None or reading.range_test is None:
            return 0
        return len(reading.range_test.lrs)

    def tuning_steps(self, policy: str) -> int:
        """Training steps spent choosing the policy's rate, in training-step equivalents.

        A range-tested policy: its range test's rungs. A gridded policy: every grid
        point's full runs but the one kept (one seed's worth each; the best is known
        only when all have run). A policy at its default rate: 0.
        """
        grid = self.grid_of(policy)
        if len(grid) > 1:
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


def compare(
    settings: CompareSettings,
    data,
    out=None,
    log: Callable[[str], None] = print,
    progress: bool | None = None,
) -> Comparison:
    """Run the range tests, then every policy for every seed; return the :class:`Comparison`.

    Args:
      settings: what to compare.
      data: a :class:`cyclr.app.data.Data`.
      out: when given, a folder for each range test's JSON and plot.
      log: called with a line of progress after each range test and each run.
      progress: progress bars (range tests, one over the runs, one per epoch);
        None: on a terminal.

    Raises:
      ValueError: a range test shows no descent to read bounds from.
    """
    epochs = settings.epochs or default_epochs(settings.epochs_per_half_cycle)
    step_size = half_cycle(data, settings.batch_size, settings.epochs_per_half_cycle)
    runner = _runner(settings, data, settings.seed)
    spe = runner.steps_per_epoch
    readings: dict[str, Rates] = {}
    monitor, note = range_test_monitor(settings.monitor, data)
    if note is not None and settings.range_tested:
        log(note)
    for optimizer in settings.range_tested:
        readings[optimizer] = r = find_bounds(
            runner,
            optimizer,
            *settings.range_test(optimizer),
            out,
            stem=f"range_test_{optimizer}",
            progress=progress,
            monitor=monitor,
            fine_tuning=settings.fine_tuning,
        )
        log(
            f"range test ({optimizer}): base_lr={r.base_lr:.3g} max_lr={r.max_lr:.3g} "
            f"minimum/10={r.fixed_lr:.3g}"
        )
    trained = []
    jobs = [(p, lr) for p in settings.policies for lr in settings.rates_of(p)]
    with progress_bar(len(jobs) * settings.seeds, "policies", progress, unit="run") as runs_bar:
        for policy, lr in jobs:
            plan = make_plan(
                policy,
                total_steps=epochs * spe,
                step_size=step_size,
                cycle_momentum=False,
                lr=lr,
                **_rates(readings, policy),
            )
            for seed in range(settings.seed, settings.seed + settings.seeds):
                metrics = MetricsLog()
                summary = train_plan(
                    _runner(settings, data, seed),
                    plan,
                    epochs,
                    metrics,
                    progress=progress,
                    desc=f"{policy} seed {seed}",
                    test_every_epoch=True,  # the iterations to the target test accuracy
                )
                trained.append((policy, seed, plan, metrics, summary, lr))
                at = "" if lr is None else f" lr {lr:.3g}"
                log(
                    f"{policy:>12}{at} seed {seed}: test accuracy "
                    f"{summary['test_accuracy']:.4f} ({summary['seconds']:.1f} s)"
                )
                if runs_bar is not None:
                    runs_bar.update(1)
    target = settings.target
    if target is None:
        target = float(np.mean([t[4]["test_accuracy"] for t in trained if t[0] == "fixed"]))
    runs = tuple(_run(*t, target) for t in trained)
    return Comparison(settings, data.name, epochs, spe, step_size, target, readings, runs)


def _rates(readings: Mapping[str, Rates], policy: str) -> dict[str, Any]:
    """``make_plan``'s rates for ``policy``: from its optimizer's range test, if it has one."""
    source = readings.get(needs_range_test(policy) or "")
    if source is None:
        return {}
    rates: dict[str, Any] = {
        "base_lr": source.base_lr,
        "max_lr": source.max_lr,
        "fixed_lr": source.fixed_lr,
    }
    if policy == "onecycle-valley":
        valley = source.single_rates.get("valley")
        if valley is None:
            raise ValueError(
                "the Adam range test gives no valley reading for onecycle-valley; widen its "
                "ladder (--start-lr/--end-lr)"
            )
        rates["valley_lr"] = valley
    return rates


def _runner(settings: CompareSettings, data, seed: int) -> Runner:
    return make_runner(
        settings.framework,
        data,
        settings.model,
        settings.batch_size,
        seed,
        settings.loss,
        device=settings.device,
        amp=settings.amp,
    )


def _run(
    policy: str,
    seed: int,
    plan: Plan,
    metrics: MetricsLog,
    summary: dict,
    grid_lr: float | None,
    target: float,
) -> Run:
    hit = metrics.first_epoch_reaching(target)
    return Run(
        policy,
        seed,
        plan,
        summary["test_accuracy"],
        None if hit is None else hit["step"],
        summary["seconds"],
        None if hit is None else hit["seconds"],
        summary["steps"],
        tuple(dict(e) for e in metrics.epochs),
        grid_lr,
    )


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Column:
    """A column of :func:`policy_table`: ``cell(runs)`` formats one policy's runs."""

    header: str
    cell: Callable[[Sequence[Run]], str]
    align: str = "---"  # '---:' right-aligns numbers


def policy_table(comparison: Comparison, columns: Sequence[Column]) -> str:
    """One markdown row per policy, in the settings' order, with ``columns``."""
    lines = [
        "| " + " | ".join(c.header for c in columns) + " |",
        "|" + "|".join(c.align for c in columns) + "|",
    ]
    for policy in comparison.settings.policies:
        runs = comparison.runs_of(policy)
        lines.append("| " + " | ".join(c.cell(runs) for c in columns) + " |")
    return "\n".join(lines)


def grid_table(comparison: Comparison) -> str:
    """Every grid point of every gridded policy: its rate, final accuracy and time to target.

    The rate a policy's row kept (the best mean final accuracy) is marked ``kept``.
    """
    lines = [
        "| policy | lr | final accuracy | iterations to target | |",
        "|---|---:|---:|---:|---|",
    ]
    for policy in comparison.settings.policies:
        grid = comparison.grid_of(policy)
        if len(grid) <= 1:
            continue
        best = comparison.runs_of(policy)
        for lr, runs in sorted(grid.items(), key=lambda item: item[0] or 0.0):
            final = mean_std([r.final_accuracy for r in runs])
            mark = "kept" if runs == best else ""
            lines.append(f"| {policy} | {lr:.3g} | {final} | {iterations_cell(runs)} | {mark} |")
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
    Column("policy", lambda runs: runs[0].policy),
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
    for policy in s.policies:
        runs = comparison.runs_of(policy)
        summary[f"{policy}: lr"] = runs[0].plan.bounds
        summary[f"{policy}: final accuracy"] = mean_std([r.final_accuracy for r in runs])
        summary[f"{policy}: iterations to target"] = iterations_cell(runs)
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
    for i, policy in enumerate(comparison.settings.policies):
        curves = [r.curve for r in comparison.runs_of(policy)]
        steps = [e["step"] for e in curves[0]]
        acc = np.mean([[e["test_accuracy"] for e in c] for c in curves], axis=0)
        ax.plot(steps, acc, "-o", ms=2.5, color=f"C{i % 10}", label=policy)
    target = comparison.target
    ax.axhline(target, color="k", lw=0.8, ls="--", label=f"target {target:.3f}")
    ax.set_xlabel("iterations")
    ax.set_ylabel("test accuracy (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    lo = min(min(e["test_accuracy"] for e in r.curve) for r in comparison.runs)
    ax.set_ylim(max(0.0, min(lo, target) - 0.02), 1.0)
    save_figure(fig, path)
