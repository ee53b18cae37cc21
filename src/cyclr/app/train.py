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

from cyclr import CyclicSchedule, steps_per_epoch
from cyclr.app.checkpoint import restored_rows, write_checkpoint
from cyclr.app.policies import CYCLICAL, Plan, make_plan, needs_range_test
from cyclr.app.report import plot_curves, plot_lr_momentum, write_report
from cyclr.app.runner import Runner
from cyclr.app.session import MetricsLog, make_runner
from cyclr.app.workflow import (
    Rates,
    cycle_budget,
    default_epochs,
    find_bounds,
    fit_cycles,
    half_cycle,
    read_rates,
    save_summary,
    schedule_checks,
    train_plan,
)

#: The half cycle in epochs when ``--epochs-per-half-cycle`` is not given (the seed's).
DEFAULT_EPOCHS_PER_HALF_CYCLE = 4.0


@dataclass(frozen=True)
class TrainSpec:
    """What one ``cyclr train`` run does, every default already resolved.

    Attributes:
      policy: one of :data:`cyclr.app.policies.POLICIES`.
      optimizer: ``'sgd'`` or ``'adam'``.
      framework: ``'keras'`` or ``'torch'``.
      epochs, batch_size, seed: the training budget and its randomness; ``epochs=None``
        sizes the run to ``cycles`` whole cycles (:func:`run_shape`).
      epochs_per_half_cycle: the step size in epochs; None: the default
        (:data:`DEFAULT_EPOCHS_PER_HALF_CYCLE`), or, with ``epochs`` given, the half
        cycle that fits whole cycles into them (:func:`cyclr.app.workflow.fit_cycles`).
      range_test: ``(start_lr, end_lr, num_steps)`` of the range test.
      base_lr, max_lr: given by the user (no range test), or ``None``.
      cycle_momentum: cycle momentum (SGD) or ``beta_1`` (Adam) inverse to the lr.
      momentum: ``base_momentum``/``max_momentum`` the user gave.
      mode, waveform, gamma: the cyclical schedule's shape, where given.
      cycles: the run's length in cycles when ``epochs`` is None.
      loss: ``'crossentropy'``, ``'mse'``, ``'mae'``, or None (the model's own, else
        cross-entropy).
      progress: progress bars (None: on a terminal; False: ``--quiet``).
      monitor: the curve the range test's rates are read from: ``'loss'`` or
        ``'val_loss'`` (resolved by :func:`cyclr.app.monitor.range_test_monitor`).
      fine_tuning: the model starts from trained weights: the range test's bounds are
        read for fine-tuning (``BoundsSettings(fine_tuning=True)``).
      device, amp: PyTorch's device (None: CUDA when PyTorch sees a GPU, else the CPU)
        and the training's mixed precision, ``'bf16'`` or ``'fp16'`` (see
        :class:`cyclr.app.torch_runner.TorchRunner`); None with Keras.
    """

    policy: str
    optimizer: str
    framework: str
    epochs: int | None
    batch_size: int
    seed: int
    epochs_per_half_cycle: float | None
    range_test: tuple[float, float, int]
    base_lr: float | None = None
    max_lr: float | None = None
    cycle_momentum: bool = False
    momentum: dict[str, float] = field(default_factory=dict)
    mode: str | None = None
    waveform: str | None = None
    gamma: float | None = None
    cycles: int = 3
    loss: str | None = None
    progress: bool | None = None
    monitor: str = "loss"
    fine_tuning: bool = False
    device: str | None = None
    amp: str | None = None


@dataclass(frozen=True)
class RunShape:
    """How long a run trains and, for a cyclical policy, how its cycles fall.

    Attributes:
      epochs, total_steps: the epochs begun and the updates made (the last epoch may be
        cut short, so that the run ends at a cycle boundary).
      step_size: the half cycle in steps; ``epochs_per_half_cycle`` the same in epochs.
      cycles: the whole cycles the run makes; None when it is not cyclical or does not
        end at a cycle boundary.
      fitted: the half cycle was fitted to the user's ``--epochs`` (not the default's).
      steps_per_epoch: the updates of one epoch.
    """

    epochs: int
    total_steps: int
    step_size: int
    epochs_per_half_cycle: float
    cycles: int | None
    fitted: bool
    steps_per_epoch: int

    def fitted_line(self, default: float) -> str:
        """What the fit chose, in one line (for a run whose half cycle was fitted)."""
        halves = f"{self.cycles} whole cycle{'' if self.cycles == 1 else 's'}"
        early = self.epochs * self.steps_per_epoch - self.total_steps
        steps = f"{early} step{'' if early == 1 else 's'}"
        cut = f"; the last epoch stops {steps} early" if early else ""
        return (
            f"{halves}, a half cycle of {self.step_size} steps "
            f"({self.epochs_per_half_cycle:.3g} epochs; the default {default:g} epochs would "
            f"end the run mid-cycle), ending at base_lr{cut}"
        )


def _cyclical(policy: str) -> bool:
    return policy in CYCLICAL or policy == "adam+clr"


def run_shape(spec: TrainSpec, data: Any) -> RunShape:
    """The run's length and cycles.

    Without ``spec.epochs`` a cyclical policy runs ``spec.cycles`` whole cycles, ending
    at a cycle boundary (the last epoch cut short if need be), and the others the same
    number of epochs. With ``spec.epochs`` and no ``spec.epochs_per_half_cycle``, a
    cyclical policy's half cycle is fitted to them: whole cycles, ending at base_lr
    (:func:`cyclr.app.workflow.fit_cycles`); both given, both are kept as given.

    Raises:
      ValueError: ``cycles`` below 1.
    """
    spe = steps_per_epoch(len(data.x_train), spec.batch_size)
    given = spec.epochs_per_half_cycle
    half = DEFAULT_EPOCHS_PER_HALF_CYCLE if given is None else given
    step_size = half_cycle(data, spec.batch_size, half)
    cyclical = _cyclical(spec.policy)
    if spec.epochs is None:
        if cyclical:
            epochs, total = cycle_budget(step_size, spe, spec.cycles)
            return RunShape(epochs, total, step_size, half, spec.cycles, False, spe)
        epochs = default_epochs(half, spec.cycles)
        return RunShape(epochs, epochs * spe, step_size, half, None, False, spe)
    total = spec.epochs * spe
    fit = fit_cycles(spec.epochs, spe, half) if cyclical and given is None else None
    if fit is not None and (fit[1], fit[2]) != (step_size, total):
        cycles, step_size, total = fit
        epochs = math.ceil(total / spe)
        return RunShape(epochs, total, step_size, step_size / spe, cycles, True, spe)
    whole = cyclical and total % (2 * step_size) == 0
    return RunShape(
        spec.epochs, total, step_size, half, total // (2 * step_size) if whole else None, False, spe
    )


def run_length(spec: TrainSpec, data: Any) -> tuple[int, int]:
    """``(epochs, total_steps)`` of the run (:func:`run_shape`)."""
    shape = run_shape(spec, data)
    return shape.epochs, shape.total_steps


def plan_for(spec: TrainSpec, data: Any, rates: Rates) -> Plan:
    """The policy's plan on ``data`` with ``rates``.

    Raises:
      ValueError: the options make no valid schedule (naming the core's parameter).
    """
    shape = run_shape(spec, data)
    return make_plan(
        spec.policy,
        total_steps=shape.total_steps,
        step_size=shape.step_size,
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


def rates_from_range_test(spec: TrainSpec) -> bool:
    """Whether the run's rates come from a range test.

    They do unless ``--base-lr/--max-lr`` are given or the policy reads no range test.
    """
    given = spec.base_lr is not None and spec.max_lr is not None
    return not given and needs_range_test(spec.policy) is not None


@dataclass(frozen=True)
class SavedRangeTest:
    """A range test of this run's data, model and settings, saved earlier, to reuse.

    ``result``: the test (:func:`cyclr.app.reuse.saved_range_test`); ``source``: where it
    was read (``--range-test``'s value), None for the run's own folder (``--resume`` of a
    run stopped before its first epoch ended).
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
    if spec.base_lr is not None and spec.max_lr is not None:
        return Rates(spec.base_lr, spec.max_lr, fixed_lr=spec.max_lr, source="--base-lr/--max-lr")
    if needs_range_test(spec.policy) is None:
        return Rates(math.nan, math.nan, source="none (policy needs no range test)")
    if saved is not None:
        say(
            "range test: this run's own, which ended before the run was stopped"
            if saved.source is None
            else f"range test: reused from {saved.source} (the same data, model and settings)"
        )
        rates = read_rates(saved.result, out, record=record)
    else:
        rates = find_bounds(
            runner,
            spec.optimizer,
            *spec.range_test,
            out,
            monitor=spec.monitor,
            fine_tuning=spec.fine_tuning,
            record=record,
        )
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


def identity(spec: TrainSpec, data: Any, model: str) -> dict[str, Any]:
    """What identifies a run for its checkpoints (:data:`cyclr.app.checkpoint.IDENTITY`)."""
    epochs, total = run_length(spec, data)
    return {
        "framework": spec.framework,
        "model": model,
        "dataset": data.name,
        "policy": spec.policy,
        "optimizer": spec.optimizer,
        "total_steps": total,
        "epochs": epochs,
    }


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
      model: the model's name or spec (``--model``).
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
        runner = make_runner(
            spec.framework,
            data,
            model,
            spec.batch_size,
            spec.seed,
            spec.loss,
            device=spec.device,
            amp=spec.amp,
        )
    rates = (
        _rates(spec, runner, out, say, record, saved)
        if resume is None
        else _resumed_rates(resume, out)
    )
    plan = plan_for(spec, data, rates)
    shape = run_shape(spec, data)
    epochs, total = shape.epochs, shape.total_steps
    if shape.fitted:
        say(f"--epochs {spec.epochs}: {shape.fitted_line(DEFAULT_EPOCHS_PER_HALF_CYCLE)}")
    spe = runner.steps_per_epoch
    cycles = (
        f", {total / plan.schedule.cycle_length:.3g} "
        f"cycle{'' if total == plan.schedule.cycle_length else 's'}"
        if isinstance(plan.schedule, CyclicSchedule)
        else ""
    )
    say(
        f"training: {plan.policy}, {plan.optimizer}, {plan.schedule!r}, {total} steps "
        f"({epochs} epochs of {spe} steps{cycles})"
    )
    config = dict(config) | resolved_plan(plan) | {"epochs": epochs, "total_steps": total}
    log = MetricsLog(out / "metrics.csv", runner.metric)
    if resume is not None:
        log.restore(
            restored_rows(resume["rows"]), restored_rows(resume["epoch_rows"]), resume["seconds"]
        )
        say(f"resuming after epoch {resume['epoch']} of {epochs} (step {resume['step']})")
    who = identity(spec, data, model)
    kept: dict[str, Any] = {
        "base_lr": rates.base_lr,
        "max_lr": rates.max_lr,
        "fixed_lr": rates.fixed_lr,
        "source": rates.source,
    }

    def checkpoint(epoch: int, step: int) -> None:
        write_checkpoint(out, runner, epoch, step, log, who, kept)

    summary: dict[str, Any] = {
        "status": "running",
        "policy": plan.policy,
        "optimizer": plan.optimizer,
        "base_lr": rates.base_lr,
        "max_lr": rates.max_lr,
        "bounds_from": rates.source,
        **(
            {}
            if resume is not None or rates.range_test is None
            else {"range_test_reused": saved is not None}
        ),
        **({} if saved is None or saved.source is None else {"range_test_from": saved.source}),
        "step_size": shape.step_size,
        **({} if shape.cycles is None else {"cycles": shape.cycles}),
        "schedule": repr(plan.schedule),
        "framework": spec.framework,
        "model": model,
        "dataset": data.name,
        "metric": runner.metric,
        "checks": schedule_checks(plan, total, spe),
    }
    try:
        summary.update(
            train_plan(
                runner,
                plan,
                epochs,
                log,
                total_steps=total,
                say=say,
                progress=spec.progress,
                resume=None
                if resume is None
                else (resume["state_path"], resume["epoch"], resume["step"]),
                checkpoint=checkpoint,
            )
        )
        summary["status"] = "finished"
        summary["model_file"] = runner.save_model(out / runner.model_filename).name
        say(f"saved the trained model to {out / runner.model_filename}")
    except KeyboardInterrupt:
        summary.update(
            {
                "status": "interrupted",
                "steps": len(log.rows),
                f"test_{log.metric}": log.final_test_accuracy,
            }
        )
        raise
    finally:
        summary["seconds"] = time.perf_counter() - started
        save_summary(out / "summary.json", summary)
        write_run_report(out, summary, config, log, rates.range_test is not None)
    return summary


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
