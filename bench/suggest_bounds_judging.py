"""The judging study of ``bench.suggest_bounds --judging``: its measurement.

Holds the study's constants (readings, goals, quick grid), the range test at the shipped
defaults with the validation monitor, the triangular training of a judging task, the
readings' bounds, the measurement over seeds and grid, and the regret and verdict
(``bench.policy_report``, ``bench.bounds_check`` read them too). The table writers are in
``bench.suggest_bounds_judging_table``.
"""

from __future__ import annotations

import copy
import functools
import itertools
import math
import statistics
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from torch import nn

import cyclr
import cyclr.torch
from bench import common
from bench.suggest_bounds_tasks import NOISE_ROW, SINGLE_READINGS, SeededBatches, fmt_pair
from cyclr.rangetest import BoundsSettings

if TYPE_CHECKING:
    from bench.judging import Judging, Split

# Tasks the reading was not fitted on (bench/judging.py): kept apart from TASKS above, and
# written to their own table, bench/results/suggest_bounds_judging.md.

#: Validation passes of the judging range tests: every other rung (the validation
#: curve has 225 points on the default ladder; the reading of it is ``result.bounds``'s).
JUDGING_VAL_EVERY = 2
#: The judging study's table (bench.curve_landmarks and bench.bounds_check read its grids).
JUDGING_RESULTS = common.RESULTS / "suggest_bounds_judging.md"
#: The issue's goals: regret at most 0.5 accuracy points, or 1% of the test loss.
GOAL_POINTS, GOAL_PERCENT = 0.5, 1.0
QUICK_JUDGING_GRID = (1, 3, 5)  # indexes into a task's grid_max, base_lr = max_lr / 3
QUICK_BUDGET = 4  # a quick run trains a quarter of the updates
#: The readings of the judging study: ``result.bounds()`` at its default (a range test
#: with a ``val_loader`` reads the validation loss), and the training-loss curve's.
DEFAULT_READING = "suggest_bounds on val_loss (the default)"
TRAINING_READING = "suggest_bounds on the training loss"
VAL_ACCURACY_READING = "suggest_bounds on val_accuracy"
#: The fine-tuning tasks' reading: the default curve, ``BoundsSettings(fine_tuning=True)``.
FINE_TUNING_READING = "suggest_bounds, fine_tuning=True (for fine-tuning)"
#: By method, one entry per seed: a score (``None`` where the reading raised), bounds.
Scores = dict[str, list[float | None]]
Bounds = dict[str, list[tuple[float, float] | None]]


def judging_range_test(
    job: Judging, model: nn.Module, data: Split, seed: int
) -> cyclr.RangeTestResult:
    """``cyclr.torch.range_test`` at its defaults, with the validation monitor: a user's call."""
    return cyclr.torch.range_test(
        model,
        job.make_optimizer(model, 1e-3),
        job.criterion,
        SeededBatches(data.x, data.y, job.batch_size, seed),
        settings=cyclr.RangeTestSettings(val_every=JUDGING_VAL_EVERY),
        val_loader=[(data.x_val, data.y_val)],
        val_accuracy=job.metric == "accuracy",
        progress=False,
    )


def judging_train(
    job: Judging,
    model: nn.Module,
    data: Split,
    seed: int,
    base_lr: float,
    max_lr: float,
    budget: int = 1,
) -> float:
    """Train a copy of ``model`` with ``cyclr.torch.CyclicLR`` (triangular); return the score.

    ``budget`` divides the updates (a quick run). A run whose loss is not finite stops
    there and scores :meth:`Judging.failed_score`; a loss-scored run never scores worse.
    """
    work = copy.deepcopy(model)
    half = max(2, job.half_cycle // budget)
    opt = job.make_optimizer(work, base_lr)
    scheduler = cyclr.torch.CyclicLR(opt, cyclr.CyclicSchedule(base_lr, max_lr, half))
    batches = SeededBatches(data.x, data.y, job.batch_size, seed).forever()
    work.train()
    for xb, yb in itertools.islice(batches, job.half_cycles * half):
        loss = job.criterion(work(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        scheduler.step()
        if not math.isfinite(loss.item()):
            return job.failed_score(data)
    score = job.score(work, data.x_test, data.y_test)
    if job.metric == "loss":
        return (
            min(score, job.failed_score(data)) if math.isfinite(score) else job.failed_score(data)
        )
    return score


def judging_methods(
    job: Judging, result: cyclr.RangeTestResult
) -> dict[str, tuple[float, float] | str]:
    """Bounds by method, or the ``ValueError`` text of a reading that raised."""
    found: dict[str, tuple[float, float] | str] = {}

    def add(name: str, read: Callable[[], Iterable[float]]) -> None:
        try:
            found[name] = tuple(float(v) for v in read())
        except ValueError as error:
            found[name] = str(error)

    add(DEFAULT_READING, lambda: result.bounds())  # with a val_loader: the val_loss curve
    add(TRAINING_READING, lambda: result.bounds(monitor="loss"))
    if job.fine_tuning:
        add(FINE_TUNING_READING, lambda: result.bounds(settings=BoundsSettings(fine_tuning=True)))

    def single(reading: Callable[..., tuple[float, float]]) -> tuple[float, float]:
        lr = float(reading(result.lrs, result.losses)[0])
        return lr / 4.0, lr

    for name, reading in SINGLE_READINGS.items():
        add(f"{name} / 4", functools.partial(single, reading))
    if job.metric == "accuracy":
        add(VAL_ACCURACY_READING, lambda: result.bounds(monitor="val_accuracy"))
    return found


def measure_judging(
    job: Judging, seeds: range, grid: list[tuple[float, float]], budget: int = 1
) -> tuple[Scores, Bounds, dict[str, list[str]], str]:
    """Every method on every seed: ``(scores, bounds, errors, best grid name)`` by method.

    ``scores[name]`` holds one score per seed, ``None`` where the reading raised
    (its message in ``errors[name]``).
    """
    data = job.data()
    scores, bounds, errors = {}, {}, {}
    for seed in seeds:
        t0 = time.time()
        model = job.build(seed, data)
        result = judging_range_test(job, model, data, seed)
        methods = judging_methods(job, result)
        for mx, ratio in grid:
            methods[f"grid {mx / ratio:.2g} .. {mx:.2g}"] = (mx / ratio, mx)
        for name, pair in methods.items():
            if isinstance(pair, str):
                scores.setdefault(name, []).append(None)
                bounds.setdefault(name, []).append(None)
                errors.setdefault(name, []).append(pair)
                continue
            scores.setdefault(name, []).append(
                judging_train(job, model, data, seed, *pair, budget=budget)
            )
            bounds.setdefault(name, []).append(pair)
        shown = methods[DEFAULT_READING]
        common.log(
            f"{job.label} seed {seed}: range test stopped {result.stop_reason} at rung "
            f"{result.lrs.size}; suggest_bounds "
            f"{shown if isinstance(shown, str) else fmt_pair(shown)}; {time.time() - t0:.0f} s"
        )
    grid_names = [k for k in scores if k.startswith("grid")]
    sign = 1.0 if job.metric == "accuracy" else -1.0
    best = max(grid_names, key=lambda k: sign * statistics.fmean(scores[k]))
    for seed, (base, high) in zip(seeds, bounds[best], strict=True):
        bounds.setdefault(NOISE_ROW, []).append((base * 0.99, high * 0.99))
        scores.setdefault(NOISE_ROW, []).append(
            judging_train(
                job, job.build(seed, data), data, seed, base * 0.99, high * 0.99, budget=budget
            )
        )
    common.log(
        f"{job.label} grid: "
        + "; ".join(
            f"{k[5:]} {statistics.fmean(scores[k]):.4g}"
            for k in sorted(grid_names, key=lambda k: -sign * statistics.fmean(scores[k]))
        )
    )
    return scores, bounds, errors, best


def regret(
    job: Judging, method: list[float | None], best: list[float | None], best_mean: float
) -> tuple[float, float] | None:
    """Regret against the best grid pair (points, or % of its loss), with its paired s.e.

    Only the seeds where the method gave bounds count; ``None`` when none did.
    """
    pairs = [(m, b) for m, b in zip(method, best, strict=True) if m is not None]
    if not pairs:
        return None
    if job.metric == "accuracy":
        gaps = [b - m for m, b in pairs]
    else:
        gaps = [100.0 * (m - b) / best_mean for m, b in pairs]
    se = statistics.stdev(gaps) / math.sqrt(len(gaps)) if len(gaps) > 1 else math.nan
    return statistics.fmean(gaps), se


def verdict(value: float, se: float, goal: float) -> str:
    """``'met'``, ``'missed'`` or ``'unclear'``: the goal against regret +- 2 s.e.

    One seed gives no standard error: unclear.
    """
    if math.isnan(se):  # one seed: no standard error, nothing to tell
        return "unclear"
    if value + 2.0 * se <= goal:
        return "met"
    if value - 2.0 * se > goal:
        return "missed"
    return "unclear"
