"""The transformer task of ``bench.time_to_accuracy``: its task, runs and loop.

Holds the char transformer of ``bench/judging.py`` as a time-to-accuracy task
(:class:`TextTask`), one run and all runs (:class:`TextRun`, :class:`TextComparison`),
the task's optimizer, its training loop with held-out measurements, and the range test
and policy runs of :func:`run_transformer`.
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

    from bench.judging import Judging, Split
    from cyclr.app.policies import Plan
    from cyclr.rangetest import RangeTestResult

# ----------------------------------------------------------------------------- the transformer
#: The transformer task's name on the command line (not an app task: its own loop below).
TRANSFORMER = "transformer"
#: The policies it runs, in table order: cyclr's two one-run policies with AdamW, then the
#: baselines (fastai's one-cycle from the valley reading, the grid-tuned three).
TRANSFORMER_POLICIES = ("triangular", "onecycle", "onecycle-valley", *BASELINES)
#: The headline goal on a loss: within this percentage of the best grid-tuned loss.
GOAL_LOSS_PERCENT = 1.0
#: Validation passes of the range test: every other rung, as the judging study reads it.
VAL_EVERY = 2

TRANSFORMER_NOTES = (
    f"{TRANSFORMER}: iterations and seconds to a target are the mean over the seeds that "
    "reached it (held-out loss measured at evenly spaced points, every tenth of the budget "
    "in the full run; seconds are wall time from the start of training, evaluations "
    "included, range test excluded); × budget: iterations to target / the budget; ± is the "
    "standard error of the mean over seeds."
)


@dataclass(frozen=True)
class TextTask:
    """The char transformer of ``bench/judging.py`` as a time-to-accuracy task.

    ``updates``: the budget; ``half_cycle``: the triangular policy's half cycle (the
    budget holds whole cycles); ``evaluations``: held-out loss measurements, evenly
    spaced, the last at the end; ``rungs``: the range test's ladder length (None: the
    default ladder, 1e-5 -> 10 in 450 rungs).
    """

    updates: int
    half_cycle: int
    batch_size: int = 16
    evaluations: int = 10
    rungs: int | None = None

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


def text_optimizer(job: Judging, model: torch.nn.Module, plan: Plan) -> torch.optim.Optimizer:
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
    job: Judging,
    data: Split,
    task: TextTask,
    policy: str,
    plan: Plan,
    seed: int,
    grid_lr: float | None,
) -> TextRun:
    """Train seed ``seed``'s model with ``plan``; measure the held-out loss as it goes."""
    import itertools

    import cyclr.torch
    from bench.suggest_bounds import SeededBatches

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
            score = job.score(model, data.x_test, data.y_test)
            curve.append((step, score if math.isfinite(score) else job.failed_score(data)))
            seconds_at.append(time.perf_counter() - start)
            model.train()
            if train_mode is not None:
                train_mode()
    for step in task.eval_steps[len(curve) :]:  # a diverged run predicts nothing from here on
        curve.append((step, job.failed_score(data)))
        seconds_at.append(time.perf_counter() - start)
    return TextRun(
        policy,
        seed,
        plan,
        grid_lr,
        tuple(curve),
        time.perf_counter() - start,
        tuple(seconds_at),
        diverged,
    )


def text_range_test(
    job: Judging, data: Split, task: TextTask
) -> tuple[RangeTestResult, float, float, float, float | None]:
    """Seed 0's range test: ``(result, seconds, base_lr, max_lr, valley)``."""
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
        progress=False,
    )
    range_seconds = time.perf_counter() - started
    try:
        base_lr, max_lr = result.bounds()  # with a validation monitor: its curve
    except ValueError as error:
        raise common.BenchError(
            f"--dataset {TRANSFORMER}: the range test (stopped: {result.stop_reason}) gives no "
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


def run_transformer(
    task: TextTask, policies: Sequence[str], seeds: int, grid: int
) -> TextComparison:
    """The transformer task: one range test (seed 0), then every policy for every seed."""
    from bench.judging import JUDGING
    from cyclr.app.policies import grid_rates, make_plan

    job = next((j for j in JUDGING if j.name == "char transformer"), None)
    if job is None:
        raise common.BenchError(
            f"--dataset {TRANSFORMER}: bench/judging.py has no 'char transformer' task"
        )
    data = job.data()
    common.log(
        f"char transformer: {len(data.x)} training windows of {data.x.shape[1]}, "
        f"{len(data.x_test)} held-out; batch {task.batch_size}, {task.updates} updates"
    )
    result, range_seconds, base_lr, max_lr, valley = text_range_test(job, data, task)
    rates = {p: grid_rates(p, grid) for p in policies if p in BASELINES}
    runs = []
    for policy in policies:
        if policy == "onecycle-valley" and valley is None:
            raise common.BenchError(
                f"--dataset {TRANSFORMER}: the range test gives no valley reading for "
                "onecycle-valley; leave it out of --policies"
            )
        for lr in rates.get(policy, (None,)):
            plan = make_plan(
                policy,
                total_steps=task.updates,
                step_size=task.half_cycle,
                optimizer="adamw" if policy in ("triangular", "onecycle") else None,
                base_lr=base_lr,
                max_lr=max_lr,
                valley_lr=valley,
                lr=lr,
            )
            for seed in range(seeds):
                run = train_text(job, data, task, policy, plan, seed, lr)
                runs.append(run)
                at = "" if lr is None else f" lr {lr:.3g}"
                common.log(
                    f"  {policy:>15}{at} seed {seed}: held-out loss {run.final:.4f} "
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
    )
