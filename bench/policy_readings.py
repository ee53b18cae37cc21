"""The range tests of the per-policy study, and the peak rates read off them.

Per task and seed, from the seed's initial (or pre-trained) weights and batch order,
with the task's optimizer, each cached (``bench.policy_cache``):

- **cyclr**: ``cyclr.torch.range_test`` at its defaults (1e-5 -> 10, 450 rungs); a task
  with a validation split adds its validation batch every 2 rungs, as the judging study
  calls it (``bench.suggest_bounds.judging_range_test``), so ``result.bounds()`` reads the
  validation curve; the first fitting tasks have none and read the training loss.
- **fastai**: ``cyclr.torch.range_test`` on fastai's ``lr_find`` ladder (1e-7 -> 10, 100
  rungs; the same smoothing and stop at 4x the best smoothed loss), read as
  ``lr_find()`` reads it: :func:`fastai_valley` on the smoothed training loss without its
  first tenth and last 5 points (fastai itself is not installed here).
- **Lightning**: ``cyclr.torch.range_test`` on ``Tuner.lr_find``'s ladder (1e-8 -> 1, 100
  rungs; the same smoothing and stop), read by Lightning's own
  ``_LRFinder.suggestion()`` (the steepest fall of the smoothed loss against the rate,
  10 points skipped at the start and 1 at the end).
- **torch-lr-finder**: run live as its README sets it up (the optimizer at 1e-7,
  ``range_test(loader, end_lr=100, num_iter=100)``), read by ``plot(suggest_lr=True)``,
  as ``bench.finder_peers`` runs it.

The candidates: first cyclr's shipped reading (:func:`shipped`, the rates
``result.schedule(policy, ...)`` runs at); then (:data:`READINGS`) ``result.bounds()``'s
``max_lr`` and ``base_lr``, and ``steepest``, ``valley`` and ``minimum`` of the training
loss, each the peak rate of every policy; ``triangular`` also runs between the bounds
themselves (today's reading); a fine-tuning task adds
``bounds(settings=BoundsSettings(fine_tuning=True))``'s ``max_lr``. The peers as their
users use them: fastai's valley as the peak of one-cycle, Lightning's and
torch-lr-finder's suggestions as the peak of cosine.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import cyclr.torch
from bench.judging import Judging, Split
from bench.policy_cache import Cache
from bench.suggest_bounds import SeededBatches, judging_range_test
from cyclr.rangetest import BoundsSettings, RangeTestResult, minimum, steepest, valley
from cyclr.rangetest.policies import optimizer_family, peak_lr

#: ``(start_lr, end_lr, num_steps)`` of the peers' range tests, at their defaults.
FASTAI_LADDER = (1e-7, 10.0, 100)
LIGHTNING_LADDER = (1e-8, 1.0, 100)
TORCH_LR_FINDER_LADDER = (1e-7, 100.0, 100)
#: The global RNG (dropout) is seeded with this plus the seed before every range test.
RANGE_TEST_SEED = 40_000


def cyclr_range_test(job: Judging, data: Split, seed: int) -> RangeTestResult:
    """``cyclr.torch.range_test`` at its defaults, as the task's user calls it."""
    model = job.build(seed, data)
    torch.manual_seed(RANGE_TEST_SEED + seed)
    if len(data.x_val):
        return judging_range_test(job, model, data, seed)
    batches = SeededBatches(data.x, data.y, job.batch_size, seed)
    optimizer = job.make_optimizer(model, 1e-3)
    return cyclr.torch.range_test(model, optimizer, job.criterion, batches, progress=False)


def ladder_range_test(
    job: Judging, data: Split, seed: int, ladder: tuple[float, float, int]
) -> RangeTestResult:
    """``cyclr.torch.range_test`` on a peer's ladder, on the training loss alone."""
    model = job.build(seed, data)
    torch.manual_seed(RANGE_TEST_SEED + seed)
    start, end, rungs = ladder
    return cyclr.torch.range_test(
        model,
        job.make_optimizer(model, start),
        job.criterion,
        SeededBatches(data.x, data.y, job.batch_size, seed),
        settings=cyclr.RangeTestSettings(start, end, rungs),
        progress=False,
    )


def torch_lr_finder_test(job: Judging, data: Split, seed: int) -> dict[str, Any]:
    """torch-lr-finder run live as its README sets it up; its curve and suggestion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torch_lr_finder import LRFinder

    model = job.build(seed, data)
    torch.manual_seed(RANGE_TEST_SEED + seed)
    start, end, rungs = TORCH_LR_FINDER_LADDER
    order = torch.Generator().manual_seed(10_000 + seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(data.x, data.y),
        batch_size=job.batch_size,
        shuffle=True,
        generator=order,
    )
    fig, ax = plt.subplots()
    # its progress bar and messages would bury the bench's own lines
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        finder = LRFinder(model, job.make_optimizer(model, start), job.criterion)
        finder.range_test(loader, end_lr=end, num_iter=rungs)
        try:
            shown = finder.plot(ax=ax, suggest_lr=True)
        except RuntimeError as error:  # too few points to suggest anything
            shown = str(error)
        finder.reset()
    plt.close(fig)
    suggestion = shown[1] if isinstance(shown, tuple) else None
    return {
        "finder": "torch-lr-finder (README setup)",
        "lrs": [float(v) for v in finder.history["lr"]],
        "losses": [float(v) if math.isfinite(v) else None for v in finder.history["loss"]],
        "suggestion": None if suggestion is None else float(suggestion),
        "error": shown if isinstance(shown, str) else None,
    }


class Tests:
    """The range tests of one task and seed, each run (or read from the cache) when first
    asked for."""

    def __init__(self, cache: Cache, job: Judging, data: Split, seed: int):
        self.cache, self.job, self.data, self.seed = cache, job, data, seed

    def _test(self, finder: str, run: Callable[[], RangeTestResult]) -> RangeTestResult:
        return self.cache.range_test(self.job.label, self.seed, finder, run)

    @functools.cached_property
    def cyclr(self) -> RangeTestResult:
        return self._test("cyclr", lambda: cyclr_range_test(self.job, self.data, self.seed))

    @functools.cached_property
    def fastai(self) -> RangeTestResult:
        job, data, seed = self.job, self.data, self.seed
        return self._test("fastai", lambda: ladder_range_test(job, data, seed, FASTAI_LADDER))

    @functools.cached_property
    def lightning(self) -> RangeTestResult:
        job, data, seed = self.job, self.data, self.seed
        return self._test("lightning", lambda: ladder_range_test(job, data, seed, LIGHTNING_LADDER))

    @functools.cached_property
    def torch_lr_finder(self) -> dict[str, Any]:
        return self.cache.record(
            self.job.label,
            self.seed,
            "torch-lr-finder",
            lambda: torch_lr_finder_test(self.job, self.data, self.seed),
        )


# ----------------------------------------------------------------------------- readings
def fastai_valley(result: RangeTestResult, num_it: int = FASTAI_LADDER[2]) -> float:
    """fastai's ``lr_find()`` suggestion (``SuggestionMethod.Valley``, fastai 2.7).

    ``lr_find`` drops the first ``num_it // 10`` and the last 5 points of the smoothed
    loss (and everything from a NaN on); ``valley`` takes the longest decreasing
    subsequence of what is left, from ``a`` to ``b``, and picks the point
    ``a + int((b - a) / 3) + int((b - a) / 6)``.

    Raises:
      ValueError: nothing left to read.
    """
    lrs, losses = result.lrs[num_it // 10 : -5], result.smoothed[num_it // 10 : -5]
    bad = np.flatnonzero(np.isnan(losses))
    if bad.size:
        lrs, losses = lrs[: bad[0]], losses[: bad[0]]
    if not losses.size:
        raise ValueError(f"fastai's valley: no points left of {result.lrs.size} rungs")
    n = losses.size
    longest = [1] * n
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                longest[i] = longest[j] + 1
            if longest[end] < longest[i]:
                end, start = i, i - longest[i]
    sections = (end - start) / 3
    return float(lrs[start + int(sections) + int(sections / 2)])


def lightning_suggestion(result: RangeTestResult) -> float:
    """Lightning's ``lr_find(...).suggestion()`` on the smoothed training loss.

    Raises:
      ValueError: Lightning gives no suggestion (too few points).
    """
    import logging

    from lightning.pytorch.tuner.lr_finder import _LRFinder

    start, end, rungs = LIGHTNING_LADDER
    finder = _LRFinder("exponential", start, end, rungs)
    finder.results = {"lr": result.lrs.tolist(), "loss": result.smoothed.tolist()}
    quiet = logging.getLogger("lightning.pytorch.tuner.lr_finder")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        lr = finder.suggestion()
    finally:
        quiet.setLevel(level)
    if lr is None:
        raise ValueError(f"Lightning's suggestion: too few points ({result.lrs.size} rungs)")
    return float(lr)


def torch_lr_finder_suggestion(record: dict[str, Any]) -> float:
    """torch-lr-finder's ``plot(suggest_lr=True)``, as recorded.

    Raises:
      ValueError: it gave none.
    """
    if record["suggestion"] is None:
        raise ValueError(f"torch-lr-finder gave no suggestion: {record['error']}")
    return float(record["suggestion"])


def _single(reading: Callable[..., Any], t: Tests) -> float:
    return float(reading(t.cyclr.lrs, t.cyclr.losses).lr)


@dataclass(frozen=True)
class Reading:
    """A candidate: the policies it is scored in (None: all), whether only fine-tuning
    tasks read it, and ``read(tests) -> (peak, base_lr or None)``."""

    name: str
    read: Callable[[Tests], tuple[float, float | None]]
    policies: tuple[str, ...] | None = None
    fine_tuning_only: bool = False
    peer: bool = False


FINE_TUNED = BoundsSettings(fine_tuning=True)
READINGS = (
    Reading("bounds() max_lr", lambda t: (t.cyclr.bounds().max_lr, None)),
    Reading("bounds() base_lr", lambda t: (t.cyclr.bounds().base_lr, None)),
    Reading(
        "bounds() pair",
        lambda t: (t.cyclr.bounds().max_lr, t.cyclr.bounds().base_lr),
        ("triangular",),
    ),
    Reading(
        "bounds(fine_tuning=True) max_lr",
        lambda t: (t.cyclr.bounds(settings=FINE_TUNED).max_lr, None),
        fine_tuning_only=True,
    ),
    Reading("steepest", lambda t: (_single(steepest, t), None)),
    Reading("valley", lambda t: (_single(valley, t), None)),
    Reading("minimum", lambda t: (_single(minimum, t), None)),
    Reading(
        "fastai valley (lr_find defaults)",
        lambda t: (fastai_valley(t.fastai), None),
        ("onecycle",),
        peer=True,
    ),
    Reading(
        "Lightning suggestion (lr_find defaults)",
        lambda t: (lightning_suggestion(t.lightning), None),
        ("cosine",),
        peer=True,
    ),
    Reading(
        "torch-lr-finder suggestion (README setup)",
        lambda t: (torch_lr_finder_suggestion(t.torch_lr_finder), None),
        ("cosine",),
        peer=True,
    ),
)


#: The reading cyclr ships for each policy: ``result.schedule(policy, ...)``'s rates.
SHIPPED = "cyclr: result.schedule()"


def shipped(policy: str, job: Judging) -> Reading:
    """:data:`SHIPPED` for ``policy`` on ``job``: ``peak_lr(result, policy, optimizer=...,
    batchnorm=...)`` (the core's factor for the task's optimizer and BatchNorm on
    ``bounds().max_lr``,
    :data:`cyclr.rangetest.policies.PEAK_READINGS`), and for ``triangular`` the bounds
    themselves, as ``result.schedule`` reads them; read with ``fine_tuning=True`` on a
    fine-tuning task, as its user is told to. The optimizer and whether the model has
    BatchNorm layers are passed, not read off the result: the cached range tests predate
    the fields that record them."""
    settings = FINE_TUNED if job.fine_tuning else None
    optimizer = optimizer_family(job.optimizer)  # the family of 'sgd', 'adam' or 'adamw'

    def read(t: Tests) -> tuple[float, float | None]:
        peak = peak_lr(
            t.cyclr, policy, settings=settings, optimizer=optimizer, batchnorm=job.batchnorm
        )
        base = t.cyclr.bounds(settings=settings).base_lr
        return peak, (base if policy == "triangular" else None)

    return Reading(SHIPPED, read, (policy,))


def readings_for(job: Judging, policy: str, with_shipped: bool = True) -> list[Reading]:
    """The candidates scored for ``policy`` on ``job``: cyclr's shipped reading first
    (unless ``with_shipped`` is False: the fit of its factors reads the others only)."""
    return [shipped(policy, job)] * with_shipped + [
        r
        for r in READINGS
        if (r.policies is None or policy in r.policies)
        and (job.fine_tuning or not r.fine_tuning_only)
    ]


def read(reading: Reading, tests: Tests) -> tuple[float, float | None] | str:
    """``reading``'s ``(peak, base)`` on ``tests``, or the text of the ValueError it raised."""
    try:
        peak, base = reading.read(tests)
    except ValueError as error:
        return str(error)
    return float(peak), (None if base is None else float(base))
