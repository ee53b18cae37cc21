"""The transformer task of ``bench.time_to_accuracy``: its task, runs and loop.

Holds the char transformer of ``bench/judging.py`` as a time-to-accuracy task
(:class:`TextTask`), one run and all runs (:class:`TextRun`, :class:`TextComparison`),
the task's optimizer, its training loop with held-out measurements, and the range test
and policy runs of :func:`run_transformer`. The same loop runs the GPU-sized task
(``bench.time_to_accuracy_gpu``), on its device and under bf16 autocast when asked.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench import common
from cyclr.app.policies import BASELINES

if TYPE_CHECKING:
    import torch

    from bench.judging_data import Split
    from bench.time_to_accuracy_gpu import TextJob, TextModel
    from cyclr.app.policies import Plan
    from cyclr.rangetest import RangeTestResult

# ----------------------------------------------------------------------------- the transformer
#: The transformer task's name on the command line (not an app task: its own loop below).
TRANSFORMER = "transformer"
#: The policies it runs, in table order: cyclr's two one-run policies with AdamW, then the
#: baselines (fastai's one-cycle from the valley reading, the grid-tuned three).
TRANSFORMER_POLICIES = ("triangular", "onecycle", "onecycle-valley", *BASELINES)
#: cyclr's readings per schedule as rows (docs/semantics.md, *Readings per schedule*): one
#: run each at ``peak_lr(result, policy)`` of the task's own range test, with
#: ``result.schedule(policy, updates)``: AdamW, or schedule-free AdamW for ``'constant'`` (its
#: warm-up run by the optimizer, as ``cyclr train --policy schedulefree`` does). Named
#: ``@reading`` apart from the grid-tuned ``wsd`` and ``schedulefree`` rows.
READING_ROWS = {
    "cosine@reading": "cosine",
    "wsd@reading": "wsd",
    "linear@reading": "linear",
    "schedulefree@reading": "constant",
}
#: Every policy a transformer task runs, in table order: cyclr's one-run policies (the
#: cyclical two, then the readings), then the baselines. The CPU task runs
#: :data:`TRANSFORMER_POLICIES` unless ``--policies`` names readings too.
TEXT_POLICIES = ("triangular", "onecycle", *READING_ROWS, "onecycle-valley", *BASELINES)
#: The headline goal on a loss: within this percentage of the best grid-tuned loss.
GOAL_LOSS_PERCENT = 1.0
#: Validation passes of the range test: every other rung, as the judging study reads it.
VAL_EVERY = 2


def text_notes(name: str) -> str:
    """The notes under a transformer task's tables."""
    return (
        f"{name}: iterations and seconds to a target are the mean over the seeds that "
        "reached it (held-out loss measured at evenly spaced points, every tenth of the budget "
        "in the full run; seconds are wall time from the start of training, evaluations "
        "included, range test excluded); × budget: iterations to target / the budget; ± is the "
        "standard error of the mean over seeds."
    )


TRANSFORMER_NOTES = text_notes(TRANSFORMER)


@dataclass(frozen=True)
class TextTask:
    """The char transformer of ``bench/judging.py`` as a time-to-accuracy task.

    ``updates``: the budget; ``half_cycle``: the triangular policy's half cycle (the
    budget holds whole cycles); ``evaluations``: held-out loss measurements, evenly
    spaced, the last at the end; ``rungs``: the range test's ladder length (None: the
    default ladder, 1e-5 -> 10 in 450 rungs); ``name``: the task's ``--dataset``;
    ``model``: the model's size and its text (None: the judging task's own,
    ``bench.judging``'s char transformer on its stdlib text).
    """

    updates: int
    half_cycle: int
    batch_size: int = 16
    evaluations: int = 10
    rungs: int | None = None
    name: str = TRANSFORMER
    model: TextModel | None = None

    def __post_init__(self) -> None:
        if self.updates % (2 * self.half_cycle):
            raise ValueError(
                f"the transformer's budget must hold whole cycles; received "
                f"updates={self.updates} with half_cycle={self.half_cycle}"
            )

    @property
    def eval_steps(self) -> list[int]:
        """The updates after which the held-out loss is measured."""
        return [round(self.updates * k / self.evaluations) for k in range(1, self.evaluations + 1)]


#: 1440 updates at batch 16 (2 epochs of the 11,515 training windows, 6x the judging
#: task's 240), three whole cycles of 240-update half cycles: see the module docstring.
TRANSFORMER_TASK = TextTask(updates=1440, half_cycle=240)
QUICK_TRANSFORMER = TextTask(updates=160, half_cycle=40, evaluations=5, rungs=100)


@dataclass(frozen=True)
class TextRun:
    """One policy trained with one seed on the transformer task.

    ``curve``: ``(updates, held-out loss)`` at every evaluation; ``seconds``: wall
    time of the training, evaluations included; ``diverged``: its loss turned
    non-finite (the evaluations left then score as predicting nothing).
    """

    policy: str
    seed: int
    plan: Plan
    grid_lr: float | None
    curve: tuple[tuple[int, float], ...]
    seconds: float
    seconds_at: tuple[float, ...]
    diverged: bool = False

    @property
    def final(self) -> float:
        return self.curve[-1][1]

    def iterations_to(self, loss: float) -> int | None:
        """Updates to the first evaluation whose held-out loss is at most ``loss``."""
        return next((step for step, value in self.curve if value <= loss), None)

    def seconds_to(self, loss: float) -> float | None:
        points = zip(self.curve, self.seconds_at, strict=True)
        return next((t for (_, value), t in points if value <= loss), None)


@dataclass(frozen=True)
class TextComparison:
    """Every run of the transformer task, its range test and its budget."""

    task: TextTask
    seeds: int
    policies: tuple[str, ...]
    range_test: RangeTestResult
    range_seconds: float
    bounds: tuple[float, float]
    valley: float | None
    runs: tuple[TextRun, ...]
    grid: dict[str, tuple[float, ...]]
    amp: str | None = None

    def grid_of(self, policy: str) -> dict[float | None, list[TextRun]]:
        found: dict[float | None, list[TextRun]] = {}
        for r in self.runs:
            if r.policy == policy:
                found.setdefault(r.grid_lr, []).append(r)
        return found

    def runs_of(self, policy: str) -> list[TextRun]:
        """The policy's runs; for a gridded one, those of its rate of lowest mean loss."""
        return min(
            self.grid_of(policy).values(), key=lambda runs: statistics.fmean(r.final for r in runs)
        )

    def tuning_steps(self, policy: str) -> int:
        """The range test's rungs, or the other grid points' full runs (one seed each)."""
        grid = self.grid_of(policy)
        if len(grid) > 1:
            return (len(grid) - 1) * self.task.updates
        return 0 if policy in BASELINES else len(self.range_test.lrs)


def text_optimizer(job: TextJob, model: torch.nn.Module, plan: Plan) -> torch.optim.Optimizer:
    """The task's AdamW (weight decay on the matrices), schedule-free for that policy."""
    if plan.optimizer != "schedulefree":
        return job.make_optimizer(model, plan.schedule(0))
    import schedulefree  # type: ignore[import-untyped]

    groups = job.make_optimizer(model, plan.schedule(0)).param_groups
    optimizer: torch.optim.Optimizer = schedulefree.AdamWScheduleFree(
        [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in groups],
        lr=plan.schedule(0),
        warmup_steps=plan.warmup_steps,
    )
    return optimizer


def train_text(
    job: TextJob,
    data: Split,
    task: TextTask,
    policy: str,
    plan: Plan,
    seed: int,
    grid_lr: float | None,
    amp: str | None = None,
) -> TextRun:
    """Train seed ``seed``'s model with ``plan``; measure the held-out loss as it goes.

    ``amp='bf16'``: every forward pass under bf16 autocast (:func:`held_out` too).
    """
    import itertools

    import cyclr.torch
    from bench.suggest_bounds import SeededBatches
    from bench.time_to_accuracy_gpu import autocast

    model = job.build(seed, data)
    opt = text_optimizer(job, model, plan)
    scheduler = cyclr.torch.CyclicLR(opt, plan.schedule)
    # schedule-free optimizers train at one point and evaluate at the average: .train()/.eval()
    modes = [getattr(opt, m, None) for m in ("train", "eval")]
    train_mode, eval_mode = modes if all(callable(m) for m in modes) else (None, None)
    checkpoints = set(task.eval_steps)
    curve: list[tuple[int, float]] = []
    seconds_at: list[float] = []
    diverged = False
    start = time.perf_counter()
    model.train()
    if train_mode is not None:
        train_mode()
    batches = SeededBatches(data.x, data.y, task.batch_size, seed).forever()
    for step, (xb, yb) in enumerate(itertools.islice(batches, task.updates), start=1):
        with autocast(data.x.device.type, amp):
            loss = job.criterion(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        scheduler.step()
        if not math.isfinite(loss.item()):
            diverged = True
            break
        if step in checkpoints:
            if eval_mode is not None:
                eval_mode()
            curve.append((step, held_out(job, data, model, amp)))
            seconds_at.append(time.perf_counter() - start)
            model.train()
            if train_mode is not None:
                train_mode()
    for step in task.eval_steps[len(curve) :]:  # a diverged run predicts nothing from here on
        curve.append((step, job.failed_score(data)))
        seconds_at.append(time.perf_counter() - start)
    seconds = time.perf_counter() - start
    return TextRun(policy, seed, plan, grid_lr, tuple(curve), seconds, tuple(seconds_at), diverged)


def held_out(job: TextJob, data: Split, model: torch.nn.Module, amp: str | None) -> float:
    """The held-out loss, under bf16 autocast for ``amp='bf16'``; a non-finite one scores as
    predicting nothing."""
    from bench.time_to_accuracy_gpu import autocast

    with autocast(data.x.device.type, amp):
        score = job.score(model, data.x_test, data.y_test)
    return score if math.isfinite(score) else job.failed_score(data)


def text_range_test(
    job: TextJob, data: Split, task: TextTask, amp: str | None = None
) -> tuple[RangeTestResult, float, float, float, float | None]:
    """Seed 0's range test: ``(result, seconds, base_lr, max_lr, valley)``.

    ``amp='bf16'``: ``cyclr.torch.range_test(amp='bfloat16')``, bf16 autocast.
    """
    import cyclr.torch
    from bench.suggest_bounds import SeededBatches
    from cyclr import RangeTestSettings

    model = job.build(0, data)
    ladder = {} if task.rungs is None else {"num_steps": task.rungs}
    started = time.perf_counter()
    result = cyclr.torch.range_test(
        model,
        job.make_optimizer(model, 1e-3),
        job.criterion,
        SeededBatches(data.x, data.y, task.batch_size, 100).forever(),
        settings=RangeTestSettings(**ladder, val_every=VAL_EVERY),
        val_loader=[(data.x_val, data.y_val)],
        amp="bfloat16" if amp == "bf16" else False,
        progress=False,
    )
    range_seconds = time.perf_counter() - started
    try:
        base_lr, max_lr = result.bounds()  # with a validation monitor: its curve
    except ValueError as error:
        raise common.BenchError(
            f"--dataset {task.name}: the range test (stopped: {result.stop_reason}) gives no "
            f"bounds: {error}"
        ) from None
    found = result.suggestions(monitor="loss")["valley"]  # fastai reads the training loss
    valley = None if found is None else found.lr
    common.log(
        f"  range test: {result.lrs.size} rungs ({result.stop_reason}), bounds {base_lr:.3g} .. "
        f"{max_lr:.3g}, valley {valley if valley is None else f'{valley:.3g}'} "
        f"({range_seconds:.1f} s)"
    )
    return result, range_seconds, base_lr, max_lr, valley


def text_plan(
    policy: str,
    task: TextTask,
    result: RangeTestResult,
    bounds: tuple[float, float],
    valley: float | None,
    lr: float | None,
) -> Plan:
    """A policy's plan: a reading row's (:data:`READING_ROWS`), else ``make_plan``'s, cyclr's
    cyclical two with AdamW between ``bounds``, a baseline at ``lr`` or ``valley``."""
    from bench.time_to_accuracy_gpu import reading_plan
    from cyclr.app.policies import make_plan

    if policy in READING_ROWS:
        return reading_plan(policy, result, task.updates)
    return make_plan(
        policy,
        total_steps=task.updates,
        step_size=task.half_cycle,
        optimizer="adamw" if policy in ("triangular", "onecycle") else None,
        base_lr=bounds[0],
        max_lr=bounds[1],
        valley_lr=valley,
        lr=lr,
    )


def run_transformer(
    task: TextTask,
    policies: Sequence[str],
    seeds: int,
    grid: int,
    device: str = "cpu",
    amp: str | None = None,
) -> TextComparison:
    """The transformer task: one range test (seed 0), then every policy for every seed.

    ``device`` and ``amp`` (``'bf16'`` or None) are the GPU-sized task's; the CPU task's
    judging model trains on the CPU in float32.
    """
    from bench.time_to_accuracy_gpu import text_job
    from cyclr.app.policies import grid_rates

    job = text_job(task, device)
    data = job.data()
    common.log(
        f"char transformer: {len(data.x)} training windows of {data.x.shape[1]}, "
        f"{len(data.x_test)} held-out; batch {task.batch_size}, {task.updates} updates"
    )
    result, range_seconds, base_lr, max_lr, valley = text_range_test(job, data, task, amp)
    rates = {p: grid_rates(p, grid) for p in policies if p in BASELINES}
    runs = []
    for policy in policies:
        if policy == "onecycle-valley" and valley is None:
            raise common.BenchError(
                f"--dataset {task.name}: the range test gives no valley reading for "
                "onecycle-valley; leave it out of --policies"
            )
        for lr in rates.get(policy, (None,)):
            plan = text_plan(policy, task, result, (base_lr, max_lr), valley, lr)
            for seed in range(seeds):
                run = train_text(job, data, task, policy, plan, seed, lr, amp)
                runs.append(run)
                at = "" if lr is None else f" lr {lr:.3g}"
                common.log(
                    f"  {policy:>20}{at} seed {seed}: held-out loss {run.final:.4f} "
                    f"({run.seconds:.1f} s)" + (" diverged" if run.diverged else "")
                )
    return TextComparison(
        task,
        seeds,
        tuple(policies),
        result,
        range_seconds,
        (base_lr, max_lr),
        valley,
        tuple(runs),
        rates,
        amp,
    )
