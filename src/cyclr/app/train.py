"""The ``train`` workflow: range test -> bounds -> step size -> training -> report.

The command line builds a :class:`~cyclr.app.train_spec.TrainSpec` from its options and
calls :func:`train_run`; everything the run does and writes happens here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyclr import CyclicSchedule, Schedule
from cyclr.app.checkpoint import restored_rows, write_checkpoint
from cyclr.app.policies import Plan
from cyclr.app.report import plot_curves, plot_lr_momentum, write_report
from cyclr.app.runner import Runner
from cyclr.app.session import MetricsLog, make_runner
from cyclr.app.train_spec import (
    DEFAULT_EPOCHS_PER_HALF_CYCLE,
    RunShape,
    TrainSpec,
    identity,
    plan_for,
    rates_from_range_test,
    reading,
    run_shape,
)
from cyclr.app.workflow import (
    Rates,
    find_bounds,
    read_rates,
    save_summary,
    schedule_checks,
    train_plan,
)


@dataclass(frozen=True)
class SavedRangeTest:
    """A range test of this run's data, model and settings, saved earlier, to reuse.

    ``result``: the test (:func:`cyclr.app.reuse.saved_range_test`); ``source``: where it
    was read (the command's ``--range-test``), None for the run's own folder (a resumed
    run that was stopped before its first epoch ended).
    """

    result: Any
    source: str | None = None


def _rates(
    spec: TrainSpec,
    runner: Runner,
    out: Path,
    say: Callable[[str], None],
    record: dict | None = None,
    saved: SavedRangeTest | None = None,
) -> Rates:
    if spec.max_lr is not None and not rates_from_range_test(spec):
        alone = spec.base_lr is None  # the peak of a reading's policy
        base = math.nan if spec.base_lr is None else spec.base_lr
        source = "--max-lr" if alone else "--base-lr/--max-lr"
        return Rates(base, spec.max_lr, fixed_lr=spec.max_lr, source=source)
    if not rates_from_range_test(spec):
        return Rates(math.nan, math.nan, source="none (policy needs no range test)")
    if saved is not None:
        say(
            "range test: this run's own, which ended before the run was stopped"
            if saved.source is None
            else f"range test: reused from {saved.source} (the same data, model and settings)"
        )
        rates = read_rates(saved.result, out, record=record)
    else:
        rates = find_bounds(runner, spec.optimizer, spec.range_test, out, record=record)
    assert rates.range_test is not None
    say(rates.range_test.summary())
    return rates


def _resumed_rates(record: dict, out: Path) -> Rates:
    """The rates a checkpointed run trained with (its range test read back, if it ran one)."""
    from cyclr.rangetest import RangeTestResult

    r = record["rates"]
    nan = math.nan
    test = out / "range_test.json"
    result = (
        RangeTestResult.from_json(test) if r["source"] == "range test" and test.is_file() else None
    )
    return Rates(
        nan if r["base_lr"] is None else r["base_lr"],
        nan if r["max_lr"] is None else r["max_lr"],
        r["fixed_lr"],
        source=r["source"],
        range_test=result,
    )


def resolved_plan(plan: Plan) -> dict[str, Any]:
    """What the plan's schedule became: mode, waveform, gamma, momentum (for the report)."""
    s = plan.schedule
    out: dict[str, Any] = {"optimizer": plan.optimizer, "schedule": repr(s)}
    if isinstance(s, CyclicSchedule):
        out.update(mode=s.mode, waveform=s.waveform)
        if s.mode == "exp_range":
            out["gamma"] = s.gamma
    if plan.momentum is not None:
        out["momentum"] = plan.momentum
    if plan.weight_decay:
        out["weight_decay"] = plan.weight_decay
    if plan.warmup_steps:
        out["warmup_steps"] = plan.warmup_steps
    return out


def train_run(
    spec: TrainSpec,
    data: Any,
    model: str,
    out: Path,
    config: dict,
    say: Callable[[str], None] = print,
    runner: Runner | None = None,
    resume: dict | None = None,
    record: dict | None = None,
    saved: SavedRangeTest | None = None,
) -> dict:
    """Run the whole workflow into the run folder ``out``; return the run's summary.

    Writes ``range_test.json`` (with ``range_test_run.json``, the moment the test ends)
    and ``.png``, ``metrics.csv`` (after every epoch), ``summary.json``, the figures and
    ``report.html``; an interrupted run (Ctrl-C) still writes the summary and report of
    what it did, then re-raises. The schedule checks (:func:`cyclr.check`) are said
    before training starts, then one line per epoch, each on the validation split; the
    test set is scored once, after training. After every epoch the run is checkpointed
    (:mod:`cyclr.app.checkpoint`); ``resume`` continues from one.

    Args:
      spec: the run, every default resolved.
      data: a :class:`cyclr.app.data.Data`.
      model: the model's name or spec (:func:`cyclr.app.usermodel.model_kind`).
      out: the run folder.
      config: the configuration the report shows.
      say: called with each line of progress.
      runner: a runner already built for ``data`` and ``model`` (None: one is made).
      resume: a checkpoint of this run (:func:`cyclr.app.checkpoint.read_checkpoint`)
        to continue from: no range test, the metrics so far, the state restored.
      record: what the range test runs on (:func:`cyclr.app.reuse.range_test_identity`),
        saved beside its result.
      saved: a range test of this run saved earlier, read instead of running one.

    Raises:
      ValueError: the range test gives no bounds; the model does not fit the data.
    """
    started = time.perf_counter()
    if runner is None:
        runner = make_runner(spec.framework, data, model, spec.batch_size, spec.seed, spec.loss,
                             device=spec.device, amp=spec.amp)  # fmt: skip
    rates = (
        _rates(spec, runner, out, say, record, saved)
        if resume is None
        else _resumed_rates(resume, out)
    )
    plan, shape = plan_for(spec, data, rates), run_shape(spec, data)
    if shape.fitted:
        say(f"--epochs {spec.epochs}: {shape.fitted_line(DEFAULT_EPOCHS_PER_HALF_CYCLE)}")
    say(_training_line(plan, shape))
    config = dict(config) | resolved_plan(plan)
    config |= {"epochs": shape.epochs, "total_steps": shape.total_steps}
    log = MetricsLog(out / "metrics.csv", runner.metric)
    if resume is not None:
        rows, epoch_rows = (restored_rows(resume[k]) for k in ("rows", "epoch_rows"))
        log.restore(rows, epoch_rows, resume["seconds"])
        say(f"resuming after epoch {resume['epoch']} of {shape.epochs} (step {resume['step']})")
    summary = _first_summary(spec, data, model, runner.metric, plan, rates, shape)
    summary |= _reuse_summary(rates, resumed=resume is not None, saved=saved)
    summary |= _reading_summary(plan, reading(spec, data, rates))
    try:
        _train(spec, data, model, out, runner, plan, shape, rates, log, summary, say, resume)
    finally:
        summary["seconds"] = time.perf_counter() - started
        save_summary(out / "summary.json", summary)
        write_run_report(out, summary, config, log, rates.range_test is not None)
    return summary


def _train(
    spec: TrainSpec,
    data: Any,
    model: str,
    out: Path,
    runner: Runner,
    plan: Plan,
    shape: RunShape,
    rates: Rates,
    log: MetricsLog,
    summary: dict[str, Any],
    say: Callable[[str], None],
    resume: dict | None,
) -> None:
    """Train the plan, checkpointed after every epoch; ``summary`` says how it ended.

    Finished: the model saved. Interrupted (Ctrl-C): the steps it made, then re-raised.
    """
    who = identity(spec, data, model)
    kept = {k: getattr(rates, k) for k in ("base_lr", "max_lr", "fixed_lr", "source")}

    def checkpoint(epoch: int, step: int) -> None:
        write_checkpoint(out, runner, epoch, step, log, who, kept)

    at = None if resume is None else (resume["state_path"], resume["epoch"], resume["step"])
    try:
        summary.update(
            train_plan(
                runner,
                plan,
                shape.epochs,
                log,
                total_steps=shape.total_steps,
                say=say,
                progress=spec.progress,
                resume=at,
                checkpoint=checkpoint,
            )
        )
    except KeyboardInterrupt:
        summary.update(
            {
                "status": "interrupted",
                "steps": len(log.rows),
                f"test_{log.metric}": log.final_test_accuracy,
            }
        )
        raise
    summary["status"] = "finished"
    summary["model_file"] = runner.save_model(out / runner.model_filename).name
    say(f"saved the trained model to {out / runner.model_filename}")


def _training_line(plan: Plan, shape: RunShape) -> str:
    """The line said before training: the policy, its schedule and the run's length."""
    total, schedule = shape.total_steps, plan.schedule
    cycles = (
        f", {total / schedule.cycle_length:.3g} "
        f"cycle{'' if total == schedule.cycle_length else 's'}"
        if isinstance(schedule, CyclicSchedule)
        else ""
    )
    warmup = f" (its own warm-up: {plan.warmup_steps} steps)" if plan.warmup_steps else ""
    return (
        f"training: {plan.policy}, {plan.optimizer}{warmup}, {schedule!r}, {total} steps "
        f"({shape.epochs} epochs of {shape.steps_per_epoch} steps{cycles})"
    )


def _reading_summary(plan: Plan, core: Schedule | None) -> dict[str, Any]:
    """What a run at a reading adds to its summary, where it has them.

    ``reading``: the schedule of ``RangeTestResult.schedule`` the plan trains with;
    ``warmup_steps``: schedule-free AdamW's own warm-up.
    """
    found: dict[str, Any] = {} if core is None else {"reading": repr(core)}
    if plan.warmup_steps:
        found["warmup_steps"] = plan.warmup_steps
    return found


def _reuse_summary(rates: Rates, resumed: bool, saved: SavedRangeTest | None) -> dict[str, Any]:
    """Whether a run's range test was reused, and from where (the summary's keys)."""
    found: dict[str, Any] = {}
    if not resumed and rates.range_test is not None:
        found["range_test_reused"] = saved is not None
    if saved is not None and saved.source is not None:
        found["range_test_from"] = saved.source
    return found


def _first_summary(
    spec: TrainSpec, data: Any, model: str, metric: str, plan: Plan, rates: Rates, shape: RunShape
) -> dict[str, Any]:
    """The run's summary before it trains (``status='running'``)."""
    return {
        "status": "running",
        "policy": plan.policy,
        "optimizer": plan.optimizer,
        "base_lr": rates.base_lr,
        "max_lr": rates.max_lr,
        "bounds_from": rates.source,
        "step_size": shape.step_size,
        **({} if shape.cycles is None else {"cycles": shape.cycles}),
        "schedule": repr(plan.schedule),
        "framework": spec.framework,
        "model": model,
        "dataset": data.name,
        "metric": metric,
        "checks": schedule_checks(plan, shape.total_steps, shape.steps_per_epoch),
    }


def _momentum_moves(rows: list[dict]) -> bool:
    values = {r["momentum"] for r in rows if r.get("momentum") is not None}
    return len(values) > 1


def write_run_report(
    out: Path, summary: dict, config: dict, log: MetricsLog, ran_range_test: bool
) -> Path:
    """The run's figures and ``report.html``, from what the run did so far."""
    # Only this run's range test: an --overwrite'n folder may hold an older one.
    figures = [("Range test", out / "range_test.png")] if ran_range_test else []
    if log.rows:
        lr_figure = plot_lr_momentum(log.rows, out / "lr.png")
        caption = (
            "Learning rate and momentum used"
            if _momentum_moves(log.rows)
            else ("Learning rate used")
        )
        figures.append((caption, lr_figure))
        figures.append(
            (
                f"Loss and {log.metric}",
                plot_curves(log.rows, log.epochs, out / "curves.png", log.metric),
            )
        )
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
