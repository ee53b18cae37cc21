"""The tasks, schedules and optimizers of the per-policy study (``bench.policy_study``).

The tasks are those of ``bench.suggest_bounds``: its three first fitting tasks (SGD,
cross-entropy, no validation split) and every task of ``bench/judging.py``, judging and
moved alike, each with its own data split, seeds, batch order and optimizer. Each
policy trains with the task's optimizer (AdamW keeps its weight decay on the matrices);
``constant`` trains with the schedule-free twin of it from the ``schedulefree`` package
(``AdamWScheduleFree`` for Adam and AdamW, ``SGDScheduleFree`` for SGD with momentum
0.9), with the task's weight decay, so that only the schedule differs between the
policies of a task. Every schedule is one of the core's, stepped by
``cyclr.torch.CyclicLR``, at a peak rate ``peak`` over the run's ``updates``:

- ``triangular``: ``CyclicSchedule(peak / 10, peak, half_cycle)``, the task's half
  cycle and whole cycles (a longer budget runs more of them); 10 is the widest pair
  ``result.bounds()`` reads (``BoundsSettings().max_ratio``).
- ``onecycle``: ``OneCycle(peak, updates)`` at its defaults (momentum or Adam's
  beta_1 cycling 0.95 -> 0.85).
- ``cosine``: ``WarmupCosine(peak, updates, warmup)`` to 0 (Transformers' cosine).
- ``wsd``: ``WarmupStableDecay(peak, updates, warmup, cool-down, decay='linear')``.
- ``linear``: ``WarmupLinear(peak, updates, warmup)`` to 0.
- ``constant``: ``WarmupConstant(peak, 0)``, the warm-up inside the schedule-free
  optimizer (its ``warmup_steps``), as the app's ``schedulefree`` policy runs it.

The warm-up (5% of the run) and WSD's cool-down (its last 20%) are the core's: every
policy but ``triangular`` and ``constant`` is built by
``cyclr.rangetest.policies.peak_schedule``, as ``result.schedule()`` builds it. A
schedule-free run is evaluated at its averaged weights (``optimizer.eval()``); a model
with BatchNorm first runs 50 training batches forward there, in training mode, to move its
running averages, as the ``schedulefree`` README asks.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

import cyclr
import cyclr.torch
from bench import judging
from bench.judging import JUDGING, Judging, Split
from bench.suggest_bounds import HALF_CYCLE_EPOCHS, HALF_CYCLES, SeededBatches, fresh_model, load
from cyclr.app.policies import SGD_MOMENTUM
from cyclr.rangetest import BoundsSettings
from cyclr.rangetest.policies import PEAKED, peak_schedule, warmup_steps

POLICIES = ("triangular", "onecycle", "cosine", "wsd", "linear", "constant")
#: ``triangular``'s base_lr is its peak over this: the widest pair the reading gives.
TRIANGULAR_RATIO = BoundsSettings().max_ratio
#: Training batches a schedule-free run's BatchNorm averages are recomputed on.
RECALIBRATION_BATCHES = 50
#: The global RNG (dropout) is seeded with this plus the seed before every run, so a
#: run's score does not depend on what ran before it in the process.
TRAIN_SEED = 30_000
#: A quick run divides the task's half cycle by this (a smoke test, not a measurement).
QUICK_DIVISOR = 8


@dataclass(frozen=True)
class FirstFitting(Judging):
    """A fitting task of ``bench.suggest_bounds.TASKS`` in the shape of a judging task.

    Its data and model are that bench's (``load``, ``fresh_model``): all the training
    examples train, the test set scores, and there is no validation split (the range
    test reads the training loss, as it does there).
    """

    def data(self) -> Split:
        x, y, xt, yt = load(self)
        half = cyclr.step_size_for(len(x), self.batch_size, HALF_CYCLE_EPOCHS)
        if half != self.half_cycle:
            raise RuntimeError(
                f"{self.label}: {len(x)} training examples give a half cycle of {half} "
                f"updates; the task says half_cycle={self.half_cycle}"
            )
        return Split(x, y, x[:0], y[:0], xt, yt)

    def build(self, seed: int, data: Split) -> nn.Module:
        return fresh_model(self, data.x, seed)


def _first(name: str, dataset: str, model: str, half_cycle: int) -> FirstFitting:
    """One of suggest_bounds' tasks: SGD (momentum 0.9), batch 32, 8 epochs (4 half cycles)."""
    args = (name, "sgd", "accuracy", dataset, model, 32, half_cycle, HALF_CYCLES)
    return FirstFitting(*args, judging.GRID_SGD, role="fitting")


#: The judging tasks this study moved to its fitting set after their first, untouched
#: score (bench/results/policy_study_judging_first.md): the Adam factors, fitted on
#: BatchNorm ResNets and fine-tunings, missed on both; the factors were then fitted with
#: them, Adam split by BatchNorm, and scored on the judging tasks never run here before.
MOVED_HERE = ("char transformer / AdamW", "MNIST-1D LSTM / Adam")


def _role(job: Judging) -> Judging:
    return dataclasses.replace(job, role="fitting") if job.label in MOVED_HERE else job


#: Every task of the study: the judging tasks (judging, then moved), then suggest_bounds'
#: first fitting tasks (half cycle: 2 epochs of 1437 digits or 4000 MNIST-1D sequences).
TASKS: tuple[Judging, ...] = (
    *(_role(job) for job in JUDGING),
    _first("digits / seed CNN", "digits", "seed_cnn", 90),
    _first("MNIST-1D / 1-D CNN", "mnist1d", "cnn1d", 250),
    _first("MNIST-1D / MLP", "mnist1d", "mlp", 250),
)


@dataclass(frozen=True)
class Budget:
    """A run's length: ``multiple`` of the task's budget, in ``updates``.

    ``half_cycle`` is ``triangular``'s; the task's budget is ``half_cycles`` of them,
    and ``multiple`` times as many cycles make a longer one.
    """

    multiple: int
    half_cycle: int
    updates: int

    @property
    def warmup(self) -> int:
        """The warm-up of the warm-up policies (and schedule-free's), in updates."""
        return warmup_steps(self.updates)


def budget_of(job: Judging, multiple: int, quick: bool = False) -> Budget:
    """``multiple`` times ``job``'s budget (a quick run: an eighth of it)."""
    half = max(2, job.half_cycle // QUICK_DIVISOR) if quick else job.half_cycle
    return Budget(multiple, half, multiple * job.half_cycles * half)


def schedule_for(policy: str, peak: float, budget: Budget, base: float | None = None):
    """``policy``'s schedule peaking at ``peak`` (``triangular``: from ``base``, by
    default ``peak / TRIANGULAR_RATIO``) over ``budget``.

    Raises:
      ValueError: an unknown policy.
    """
    if policy == "triangular":
        low = peak / TRIANGULAR_RATIO if base is None else base
        return cyclr.CyclicSchedule(low, peak, budget.half_cycle)
    if policy == "constant":
        return cyclr.WarmupConstant(peak, 0)  # the warm-up runs in the schedule-free optimizer
    if policy in PEAKED:  # the shipped builder, as result.schedule() makes it
        return peak_schedule(policy, peak, budget.updates)
    raise ValueError(f"policy must be one of {', '.join(POLICIES)}; received {policy!r}")


def optimizer_name(job: Judging, policy: str) -> str:
    """The optimizer ``policy`` trains ``job`` with, as the tables name it."""
    if policy != "constant":
        return job.optimizer_name
    return "schedule-free " + ("SGD" if job.optimizer == "sgd" else "AdamW")


def make_optimizer(
    job: Judging, model: nn.Module, policy: str, peak: float, budget: Budget
) -> torch.optim.Optimizer:
    """The task's optimizer, or for ``constant`` its schedule-free twin (same groups)."""
    optimizer = job.make_optimizer(model, peak)
    if policy != "constant":
        return optimizer
    import schedulefree  # type: ignore[import-untyped]

    groups = [
        {"params": g["params"], "weight_decay": g["weight_decay"]} for g in optimizer.param_groups
    ]
    if job.optimizer == "sgd":
        free: torch.optim.Optimizer = schedulefree.SGDScheduleFree(
            groups, lr=peak, momentum=SGD_MOMENTUM, warmup_steps=budget.warmup
        )
    else:
        free = schedulefree.AdamWScheduleFree(groups, lr=peak, warmup_steps=budget.warmup)
    return free


@dataclass(frozen=True)
class Trained:
    """One run's outcome: its score, whether its loss turned non-finite, its seconds."""

    score: float
    diverged: bool
    seconds: float


def train_once(
    job: Judging,
    data: Split,
    seed: int,
    policy: str,
    peak: float,
    budget: Budget,
    base: float | None = None,
) -> Trained:
    """Train seed ``seed``'s model with ``policy`` at ``peak``; its test score.

    The seed's initial (or pre-trained) weights and batch order, as the range test saw
    them. A run whose loss turns non-finite stops there and scores
    :meth:`Judging.failed_score`; a loss-scored run never scores worse.
    """
    start = time.perf_counter()
    model = job.build(seed, data)
    optimizer = make_optimizer(job, model, policy, peak, budget)
    scheduler = cyclr.torch.CyclicLR(optimizer, schedule_for(policy, peak, budget, base))
    torch.manual_seed(TRAIN_SEED + seed)
    model.train()
    _mode(optimizer, "train")
    batches = SeededBatches(data.x, data.y, job.batch_size, seed).forever()
    for xb, yb in itertools.islice(batches, budget.updates):
        loss = job.criterion(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if not math.isfinite(loss.item()):
            return Trained(job.failed_score(data), True, time.perf_counter() - start)
    if _mode(optimizer, "eval"):
        _recalibrate(job, model, data, seed)
    score = job.score(model, data.x_test, data.y_test)
    failed = job.failed_score(data)
    if job.metric == "loss":
        score = min(score, failed) if math.isfinite(score) else failed
    return Trained(score, False, time.perf_counter() - start)


def _mode(optimizer: Any, mode: str) -> bool:
    """Call a schedule-free optimizer's ``train()``/``eval()``; whether it has them."""
    switch = getattr(optimizer, mode, None)  # torch's own optimizers have neither
    if not callable(switch):
        return False
    switch()
    return True


def _recalibrate(job: Judging, model: nn.Module, data: Split, seed: int) -> None:
    """BatchNorm's running averages moved to the averaged weights, as ``schedulefree``'s
    README does it: forward passes in training mode over the first training batches."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    model.train()
    batches = SeededBatches(data.x, data.y, job.batch_size, seed)
    with torch.no_grad():
        for xb, _ in itertools.islice(batches, RECALIBRATION_BATCHES):
            model(xb)
