"""The per-policy study's runs: a task's grids, widened at their edges, and its readings.

``bench.policy_study`` is the command; this is what it runs for one task
(:func:`study_task`, a worker's unit): for each budget and policy, the policy's grid of
peak rates (the task's ``grid_max``, widened by a decade, two rates on the 1-3-10
ladder, on the side where the best mean score sits at the edge, until it does not or
``widen`` decades were added), then every candidate reading of each seed's range tests
and the best grid rate 1% lower (the noise row). Every score comes from the cache or
is trained and cached at once (``bench.policy_cache``).
"""

from __future__ import annotations

import concurrent.futures
import math
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from bench import common
from bench.judging import Judging
from bench.policy_cache import Cache, run_key
from bench.policy_readings import Tests, read, readings_for
from bench.policy_report import NOISE, Cell, Method, TaskResult, best_rate
from bench.policy_tasks import Budget, budget_of, optimizer_name, schedule_for, train_once

#: The tasks also run at 4x their budget by default: the char transformer and the
#: cheapest judging tasks (the issue asks for at least three), and four fitting tasks
#: (SGD; Adam with BatchNorm and without; a fine-tuning), so that a rule for the budget
#: would be fitted on fitting tasks.
FOUR_X = (
    "char transformer / AdamW",
    "Friedman-1 MLP / SGD",
    "Friedman-1 MLP / Adam",
    "gratings fine-tuning / AdamW",
    "MNIST-1D / MLP / SGD",
    "MNIST-1D fine-tuning / AdamW",
    "digits ResNet / Adam",
    "transformer fine-tuning / AdamW",
)
#: Decades a grid may be widened by on each side.
WIDEN = 2
QUICK_TASK = "Friedman-1 MLP / SGD"
QUICK_POLICIES = ("cosine", "constant")
QUICK_GRID = (1, 3, 5)  # indexes into the task's grid: three rates, two decades
QUICK_WIDEN = 1


@dataclass(frozen=True)
class Settings:
    """What one invocation runs: seeds, policies, budgets (None: each task's default)."""

    seeds: range
    policies: tuple[str, ...]
    budgets: tuple[int, ...] | None
    cache: Path
    quick: bool = False
    train: bool = True
    widen: int = WIDEN
    threads: int = 1
    #: Score cyclr's shipped reading (``bench.policy_fit`` reads the cells without it).
    shipped: bool = True

    def budgets_of(self, job: Judging) -> tuple[int, ...]:
        if self.budgets is not None:
            return self.budgets
        return (1, 4) if job.label in FOUR_X and not self.quick else (1,)


# ----------------------------------------------------------------------------- the grid
def _step(rate: float) -> int:
    """``rate``'s place on the 1-3-10 ladder: 2 per decade (1e-3 -> -6, 3e-3 -> -5)."""
    return round(2 * math.log10(rate))


def _rate(step: int) -> float:
    return float(f"{1 if step % 2 == 0 else 3}e{step // 2}")


def widen(rates: set[float], side: str) -> list[float]:
    """The decade beyond the grid's highest (``'up'``) or lowest (``'down'``) rate."""
    if side == "up":
        top = _step(max(rates))
        return [_rate(top + 1), _rate(top + 2)]
    bottom = _step(min(rates))
    return [_rate(bottom - 1), _rate(bottom - 2)]


class Study:
    """One task: its data, cache and range tests; trains (or reads) what a cell needs."""

    def __init__(self, job: Judging, settings: Settings):
        self.job, self.settings = job, settings
        self.data = job.data()
        self.cache = Cache(settings.cache, train=settings.train)
        self.tests = {s: Tests(self.cache, job, self.data, s) for s in settings.seeds}

    def score(
        self, seed: int, policy: str, budget: Budget, peak: float, base: float | None = None
    ) -> float:
        """The test score of one run, from the cache or trained (and cached) now."""
        job = self.job
        optimizer = optimizer_name(job, policy)
        schedule = schedule_for(policy, peak, budget, base)
        key = run_key(job.label, policy, optimizer, seed, budget.updates, budget.warmup, schedule)

        def train() -> dict[str, object]:
            done = train_once(job, self.data, seed, policy, peak, budget, base)
            return {
                "task": job.label,
                "policy": policy,
                "optimizer": optimizer,
                "seed": seed,
                "budget": budget.multiple,
                "updates": budget.updates,
                "peak": peak,
                "base": base,
                "score": done.score,
                "diverged": done.diverged,
                "seconds": round(done.seconds, 3),
            }

        return float(self.cache.run(key, train)["score"])

    def grid(self, policy: str, budget: Budget) -> tuple[dict[float, tuple[float, ...]], str]:
        """The policy's grid, widened while its best sits at an edge; and an edge note."""
        job, seeds = self.job, self.settings.seeds
        limit = QUICK_WIDEN if self.settings.quick else self.settings.widen
        start = [job.grid_max[i] for i in QUICK_GRID] if self.settings.quick else job.grid_max
        rates, widened = set(start), {"up": 0, "down": 0}
        while True:
            grid = {
                r: tuple(self.score(s, policy, budget, r) for s in seeds) for r in sorted(rates)
            }
            best = best_rate(job, grid)
            side = "up" if best == max(rates) else "down" if best == min(rates) else None
            if side is None:
                return grid, ""
            if widened[side] >= limit:
                where = "highest" if side == "up" else "lowest"
                return grid, f"the {where} rate after widening {limit} decade(s)"
            rates.update(widen(rates, side))
            widened[side] += 1

    def candidates(self, policy: str, budget: Budget, best: float) -> list[Method]:
        """Every reading for ``policy``, trained at its rate seed by seed; the noise row."""
        methods = []
        for reading in readings_for(self.job, policy, self.settings.shipped):
            scores: list[float | None] = []
            peaks: list[float | None] = []
            errors: list[str] = []
            for seed, tests in self.tests.items():
                found = read(reading, tests)
                if isinstance(found, str):
                    scores.append(None)
                    peaks.append(None)
                    errors.append(found)
                    continue
                scores.append(self.score(seed, policy, budget, *found))
                peaks.append(found[0])
            methods.append(
                Method(reading.name, tuple(scores), tuple(peaks), tuple(errors), reading.peer)
            )
        noise = tuple(self.score(s, policy, budget, best * 0.99) for s in self.settings.seeds)
        methods.append(Method(NOISE, noise, (best * 0.99,) * len(noise)))
        return methods

    def cell(self, policy: str, multiple: int) -> Cell:
        """One policy at ``multiple`` times the task's budget: its grid and candidates."""
        budget = budget_of(self.job, multiple, self.settings.quick)
        grid, edge = self.grid(policy, budget)
        best = best_rate(self.job, grid)
        methods = self.candidates(policy, budget, best)
        common.log(
            f"{self.job.label}, {policy}, {budget.updates} updates: best grid rate {best:.3g}"
            + (f" ({edge})" if edge else "")
            + f" of {len(grid)}; {len(methods)} candidates"
        )
        optimizer = optimizer_name(self.job, policy)
        cells = (grid, best, edge, tuple(methods))
        return Cell(policy, optimizer, multiple, budget.updates, *cells)


def study_task(job: Judging, settings: Settings) -> TaskResult:
    """Every policy and budget of one task (a worker's unit)."""
    torch.set_num_threads(settings.threads)
    t0 = time.time()
    study = Study(job, settings)
    cells = tuple(
        study.cell(policy, multiple)
        for multiple in settings.budgets_of(job)
        for policy in settings.policies
    )
    return TaskResult(job, cells, study.cache.counts(), time.time() - t0)


def run_all(jobs: list[Judging], settings: Settings, workers: int) -> list[TaskResult]:
    """Every task, in ``workers`` processes (the tables come out in the order of ``jobs``)."""
    if workers <= 1:
        return [study_task(job, settings) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return list(pool.map(study_task, jobs, [settings] * len(jobs)))
