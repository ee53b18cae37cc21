"""The ``train`` workflow: range test -> bounds -> step size -> training -> report.

The command line builds a :class:`TrainSpec` from its options and calls
:func:`train_run`; everything the run does and writes happens here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cyclr import steps_per_epoch
from cyclr.app.policies import Plan, make_plan, needs_range_test
from cyclr.app.report import plot_curves, plot_lr_momentum, write_report
from cyclr.app.session import MetricsLog, make_runner
from cyclr.app.workflow import Rates, find_bounds, half_cycle, save_summary, train_plan


@dataclass(frozen=True)
class TrainSpec:
    """What one ``cyclr train`` run does, every default already resolved.

    Attributes:
      policy: one of :data:`cyclr.app.policies.POLICIES`.
      optimizer: ``'sgd'`` or ``'adam'``.
      framework: ``'keras'`` or ``'torch'``.
      epochs, batch_size, seed: the training budget and its randomness.
      epochs_per_half_cycle: the step size in epochs.
      range_test: ``(start_lr, end_lr, num_steps)`` of the range test.
      base_lr, max_lr: given by the user (no range test), or ``None``.
      cycle_momentum: cycle momentum (SGD) or ``beta_1`` (Adam) inverse to the lr.
      momentum: ``base_momentum``/``max_momentum`` the user gave.
      mode, waveform, gamma: the cyclical schedule's shape, where given.
    """

    policy: str
    optimizer: str
    framework: str
    epochs: int
    batch_size: int
    seed: int
    epochs_per_half_cycle: float
    range_test: tuple[float, float, int]
    base_lr: float | None = None
    max_lr: float | None = None
    cycle_momentum: bool = False
    momentum: dict[str, float] = field(default_factory=dict)
    mode: str | None = None
    waveform: str | None = None
    gamma: float | None = None


def plan_for(spec: TrainSpec, data: Any, rates: Rates) -> Plan:
    """The policy's plan on ``data`` with ``rates``.

    Raises:
      ValueError: the options make no valid schedule (naming the core's parameter).
    """
    total = spec.epochs * steps_per_epoch(len(data.x_train), spec.batch_size)
    return make_plan(
        spec.policy,
        total_steps=total,
        step_size=half_cycle(data, spec.batch_size, spec.epochs_per_half_cycle),
        base_lr=rates.base_lr,
        max_lr=rates.max_lr,
        fixed_lr=rates.fixed_lr,
        cycle_momentum=spec.cycle_momentum,
        optimizer=spec.optimizer,
        mode=spec.mode,
        waveform=spec.waveform,
        gamma=spec.gamma,
        **spec.momentum,
    )


def check_spec(spec: TrainSpec, data: Any) -> None:
    """Build the plan with stand-in rates, so bad options fail before anything runs.

    Raises:
      ValueError: as :func:`plan_for`.
    """
    plan_for(spec, data, Rates(1e-3, 1e-2, 1e-3, source="check"))


def _rates(spec: TrainSpec, runner: Any, out: Path, say: Callable[[str], None]) -> Rates:
    if spec.base_lr is not None and spec.max_lr is not None:
        return Rates(spec.base_lr, spec.max_lr, fixed_lr=spec.max_lr, source="--base-lr/--max-lr")
    if needs_range_test(spec.policy) is None:
        return Rates(math.nan, math.nan, source="none (policy needs no range test)")
    rates = find_bounds(runner, spec.optimizer, *spec.range_test, out)
    assert rates.range_test is not None
    say(rates.range_test.summary())
    return rates


def train_run(
    spec: TrainSpec,
    data: Any,
    model: str,
    out: Path,
    config: dict,
    say: Callable[[str], None] = print,
) -> dict:
    """Run the whole workflow into the run folder ``out``; return the run's summary.

    Writes ``config.json``, ``range_test.json``/``.png``, ``metrics.csv`` (after
    every epoch), ``summary.json``, the figures and ``report.html``; an
    interrupted run (Ctrl-C) still writes the summary and report of what it did,
    then re-raises.

    Raises:
      ValueError: the range test gives no bounds.
    """
    started = time.perf_counter()
    runner = make_runner(spec.framework, data, model, spec.batch_size, spec.seed)
    rates = _rates(spec, runner, out, say)
    plan = plan_for(spec, data, rates)
    say(
        f"training: {plan.policy}, {plan.optimizer}, {plan.schedule!r}, {spec.epochs} epochs "
        f"of {runner.steps_per_epoch} steps"
    )
    log = MetricsLog(out / "metrics.csv")
    summary: dict[str, Any] = {
        "status": "running",
        "policy": plan.policy,
        "optimizer": plan.optimizer,
        "base_lr": rates.base_lr,
        "max_lr": rates.max_lr,
        "bounds_from": rates.source,
        "step_size": half_cycle(data, spec.batch_size, spec.epochs_per_half_cycle),
        "schedule": repr(plan.schedule),
        "framework": spec.framework,
        "model": model,
        "dataset": data.name,
    }
    try:
        summary.update(train_plan(runner, plan, spec.epochs, log))
        summary["status"] = "finished"
    except KeyboardInterrupt:
        summary.update(
            status="interrupted", steps=len(log.rows), test_accuracy=log.final_test_accuracy
        )
        raise
    finally:
        summary["seconds"] = time.perf_counter() - started
        save_summary(out / "summary.json", summary)
        write_run_report(out, summary, config, log, rates.range_test is not None)
    return summary


def write_run_report(
    out: Path, summary: dict, config: dict, log: MetricsLog, ran_range_test: bool
) -> Path:
    """The run's figures and ``report.html``, from what the run did so far."""
    # Only this run's range test: an --overwrite'n folder may hold an older one.
    figures = [("Range test", out / "range_test.png")] if ran_range_test else []
    if log.rows:
        figures.append(
            ("Learning rate and momentum used", plot_lr_momentum(log.rows, out / "lr.png"))
        )
        figures.append(("Loss and accuracy", plot_curves(log.rows, log.epochs, out / "curves.png")))
    notes = (
        []
        if summary["status"] == "finished"
        else [
            f"This run was {summary['status']} after {summary.get('steps', 0)} steps; "
            "the figures and metrics show what it did until then."
        ]
    )
    notes += [f"check: {c}" for c in summary.get("checks", [])]
    return write_report(
        out / "report.html",
        f"cyclr train: {summary['policy']} on {summary['dataset']}",
        {k: v for k, v in summary.items() if k != "checks"},
        config,
        figures,
        notes,
    )
