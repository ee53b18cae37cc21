"""Train each policy on the same data, model and budget; tabulate as Smith's Table 1.

:func:`compare` runs the range tests the policies need, then every policy for every
seed, and returns a :class:`~cyclr.app.comparison.Comparison` (its runs, tables and files:
:mod:`cyclr.app.comparison`). :class:`CompareSettings` says what to compare; a policy
tuned over a grid of rates (``CompareSettings.grid``) has one run per rate and seed. A
:data:`cyclr.app.policies.READINGS` policy trains at the Adam range test's reading (as in
``cyclr train``; docs/semantics.md, *Readings per schedule*), with a grid beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cyclr.app.comparison import Comparison, Run
from cyclr.app.monitor import check_range_test, range_test_monitor
from cyclr.app.policies import (
    COMPARED,
    DEFAULT_LRS,
    READINGS,
    TORCH_ONLY,
    TUNABLE,
    Plan,
    make_plan,
    needs_range_test,
    range_tested,
)
from cyclr.app.runner import Runner
from cyclr.app.session import MetricsLog, make_runner, progress_bar
from cyclr.app.workflow import (
    Rates,
    default_epochs,
    find_bounds,
    half_cycle,
    train_plan,
)
from cyclr.rangetest import RangeTestSettings
from cyclr.rangetest.policies import peak_lr

FRAMEWORKS = ("torch", "keras")
#: The optimizers whose range tests the policies read (:func:`cyclr.app.policies.needs_range_test`).
RANGE_TESTED = ("adam", "sgd")
#: A run to train for every seed: its policy, its ``lr`` (a grid's rate or a reading; None:
#: the policy's own) and where that came from (:data:`cyclr.app.comparison.RATE_SOURCES`).
Job = tuple[str, float | None, str]
#: One settings for every range test, or one per optimizer.
RangeTests = (
    RangeTestSettings | Mapping[str, RangeTestSettings] | tuple[tuple[str, RangeTestSettings], ...]
)


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
      range_test: the range tests' settings (:class:`cyclr.RangeTestSettings`, the library's
        ladder by default), one for every optimizer; or one per optimizer a policy
        range-tests (``{'sgd': ..., 'adam': ...}``, :data:`RANGE_TESTED`). Their ``monitor``
        is the curve the rates are read from: ``'loss'`` (the training loss), ``'val_loss'``
        (a batch of the validation split, falling back to ``'loss'`` without one, as
        :func:`cyclr.app.monitor.range_test_monitor` says), or None (the same, silently);
        ``fine_tuning``: the model starts from trained weights, its bounds read for it.
      device: PyTorch's device (``'cuda'``); None: CUDA when PyTorch sees a GPU, else
        the CPU (:func:`cyclr.app.torch_setup.resolve_device`).
      loss: ``'crossentropy'`` or None (a saved Keras model's own loss, else
        cross-entropy); compare measures accuracy, so a regression loss is refused.
      grid: rates to try by policy (of :data:`cyclr.app.policies.TUNABLE`, e.g. from
        :func:`cyclr.app.policies.grid_rates`): each rate trains every seed, and the
        policy's row is the rate with the best mean final accuracy. A policy left out
        trains at its default rate (``adam``, ``adamw+cosine``) or at the Adam range test's
        reading (:data:`cyclr.app.policies.READINGS`); a policy of ``READINGS`` in the grid
        trains every seed at the reading too, its row ``'<policy>@reading'``.
      amp: PyTorch's mixed precision for training, ``'bf16'`` or ``'fp16'`` (see
        :class:`cyclr.app.torch_runner.TorchRunner`); None: float32.

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
    range_test: RangeTests = field(default_factory=RangeTestSettings)
    device: str | None = None
    loss: str | None = None
    grid: Mapping[str, Sequence[float]] | tuple[tuple[str, tuple[float, ...]], ...] = ()
    amp: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "policies", tuple(self.policies))
        if self.framework not in FRAMEWORKS:
            raise ValueError(
                f"framework must be one of {', '.join(FRAMEWORKS)}; received "
                f"framework={self.framework!r}"
            )
        self._check_policies()
        self._check_grid()
        self._check_range_test()
        if self.amp is not None and (self.framework != "torch" or self.amp not in ("bf16", "fp16")):
            raise ValueError(
                f"amp is 'bf16' or 'fp16' with framework='torch'; received amp={self.amp!r} "
                f"with framework={self.framework!r}"
            )
        if self.seeds < 1:
            raise ValueError(f"seeds must be at least 1; received seeds={self.seeds!r}")
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

    def _check_policies(self) -> None:
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
        if self.target is None and "fixed" not in self.policies:
            raise ValueError(
                "target=None times the fixed policy's accuracy, so policies must "
                f"include 'fixed'; received policies={self.policies!r}"
            )

    def _check_grid(self) -> None:
        # Accept any mapping or pairs; keep a sorted tuple, so the settings stay hashable.
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

    def _check_range_test(self) -> None:
        given = self.range_test
        if isinstance(given, RangeTestSettings):
            check_range_test(given)
            return
        # One per optimizer: any mapping or pairs, kept as a sorted tuple (hashable).
        each = dict(given) if isinstance(given, Mapping | tuple) else None
        if each is None or any(
            o not in RANGE_TESTED or not isinstance(t, RangeTestSettings) for o, t in each.items()
        ):
            raise ValueError(
                "range_test must be a cyclr.RangeTestSettings, or one by optimizer of "
                f"{', '.join(RANGE_TESTED)}; received range_test={given!r}"
            )
        missing = [o for o in self.range_tested if o not in each]
        if missing:
            raise ValueError(
                f"range_test holds no settings for {', '.join(missing)}, whose range test "
                f"policies={self.policies!r} need; received range_test={given!r}"
            )
        for settings in each.values():
            check_range_test(settings)
        object.__setattr__(self, "range_test", tuple(sorted(each.items())))

    def range_test_of(self, optimizer: str) -> RangeTestSettings:
        """The settings of ``optimizer``'s range test."""
        given = self.range_test
        return given if isinstance(given, RangeTestSettings) else dict(given)[optimizer]

    @property
    def range_tested(self) -> list[str]:
        """The optimizers whose range tests the policies need, in name order."""
        return range_tested(self.policies)

    def grid_for(self, policy: str) -> tuple[float, ...]:
        """The grid's rates of ``policy``; empty when no grid tunes it."""
        return tuple(dict(self.grid).get(policy, ()))


def compare(
    settings: CompareSettings,
    data,
    out=None,
    log: Callable[[str], None] = print,
    progress: bool | None = None,
) -> Comparison:
    """Run the range tests, then every policy for every seed; return the ``Comparison``.

    Args:
      settings: what to compare.
      data: a :class:`cyclr.app.data.Data`.
      out: when given, a folder for each range test's JSON and plot.
      log: called with a line of progress after each range test and each run.
      progress: progress bars (range tests, one over the runs, one per epoch);
        None: on a terminal.

    Raises:
      ValueError: a range test shows no descent to read bounds from, or no reading for a
        policy of :data:`cyclr.app.policies.READINGS`.
    """
    epochs = settings.epochs or default_epochs(settings.epochs_per_half_cycle)
    step_size = half_cycle(data, settings.batch_size, settings.epochs_per_half_cycle)
    runner = _runner(settings, data, settings.seed)
    spe = runner.steps_per_epoch
    readings = _range_tests(settings, data, runner, out, log, progress)
    trained = []
    jobs = _jobs(settings, readings)
    with progress_bar(len(jobs) * settings.seeds, "policies", progress, unit="run") as runs_bar:
        for policy, lr, source in jobs:
            plan = make_plan(
                policy,
                total_steps=epochs * spe,
                step_size=step_size,
                cycle_momentum=False,
                lr=lr,
                **_rates(readings, policy),
            )
            for seed in range(settings.seed, settings.seed + settings.seeds):
                metrics, summary = _train_seed(settings, data, plan, epochs, seed, progress)
                trained.append((policy, seed, plan, metrics, summary, source, lr))
                row = f"{policy}@reading" if lr is not None and source == "reading" else policy
                at = "" if lr is None else f" lr {lr:.3g}"
                log(
                    f"{row:>12}{at} seed {seed}: test accuracy "
                    f"{summary['test_accuracy']:.4f} ({summary['seconds']:.1f} s)"
                )
                if runs_bar is not None:
                    runs_bar.update(1)
    target = settings.target
    if target is None:
        target = float(np.mean([t[4]["test_accuracy"] for t in trained if t[0] == "fixed"]))
    runs = tuple(_run(*t, target) for t in trained)
    return Comparison(settings, data.name, epochs, spe, step_size, target, readings, runs)


def _train_seed(
    settings: CompareSettings, data, plan: Plan, epochs: int, seed: int, progress: bool | None
) -> tuple[MetricsLog, dict]:
    """Train ``plan`` from ``seed``'s initial weights: its per-epoch metrics and summary."""
    metrics = MetricsLog()
    summary = train_plan(
        _runner(settings, data, seed),
        plan,
        epochs,
        metrics,
        progress=progress,
        desc=f"{plan.policy} seed {seed}",
        test_every_epoch=True,  # the iterations to the target test accuracy
    )
    return metrics, summary


def _range_tests(
    settings: CompareSettings,
    data,
    runner: Runner,
    out,
    log: Callable[[str], None],
    progress: bool | None,
) -> dict[str, Rates]:
    """The rates each range-tested optimizer's test reads (a fallback's note said once)."""
    readings: dict[str, Rates] = {}
    said: set[str] = set()
    for optimizer in settings.range_tested:
        test, note = range_test_monitor(settings.range_test_of(optimizer), data)
        if note is not None and note not in said:
            log(note)
            said.add(note)
        readings[optimizer] = r = find_bounds(
            runner, optimizer, test, out, stem=f"range_test_{optimizer}", progress=progress
        )
        log(
            f"range test ({optimizer}): base_lr={r.base_lr:.3g} max_lr={r.max_lr:.3g} "
            f"minimum/10={r.fixed_lr:.3g}"
        )
    return readings


def _jobs(settings: CompareSettings, readings: Mapping[str, Rates]) -> list[Job]:
    """What to train, in the settings' order, each for every seed.

    A grid's rates (``'grid'``), then a :data:`READINGS` policy at its reading (``'reading'``);
    a policy with neither at its default (``'default'``) or the rates of its range test.
    """
    jobs: list[Job] = []
    for policy in settings.policies:
        grid = settings.grid_for(policy)
        jobs += [(policy, lr, "grid") for lr in grid]
        if policy in READINGS:
            jobs.append((policy, _reading(readings["adam"], policy), "reading"))
        elif not grid:
            jobs.append((policy, None, "default" if policy in DEFAULT_LRS else "reading"))
    return jobs


def _reading(adam: Rates, policy: str) -> float:
    """The peak of a :data:`READINGS` policy off the Adam range test, as ``cyclr train``'s."""
    assert adam.range_test is not None, "compare keeps every range test's result"
    try:
        return peak_lr(adam.range_test, READINGS[policy], optimizer="adam")
    except ValueError as error:
        raise ValueError(
            f"the Adam range test gives no reading for policy {policy!r}: {error}"
        ) from None


def _rates(readings: Mapping[str, Rates], policy: str) -> dict[str, Any]:
    """``make_plan``'s rates for ``policy``: from its optimizer's range test, if it has one.

    None for a policy of :data:`READINGS`, whose one rate (a grid's or its reading) is
    ``make_plan``'s ``lr``.
    """
    source = readings.get(needs_range_test(policy) or "")
    if source is None or policy in READINGS:
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
                "ladder (start_lr, end_lr)"
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
    source: str,
    lr: float | None,
    target: float,
) -> Run:
    """The run of a trained job; ``lr`` is its ``grid_lr`` where ``source`` is ``'grid'``."""
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
        source,
        lr if source == "grid" else None,
    )
