"""The seed's workflow as functions: range test -> bounds -> step size -> training -> report."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from cyclr import check, step_size_for
from cyclr.app.files import write_json
from cyclr.app.policies import Plan
from cyclr.app.session import MetricsLog, progress_bar, show_progress
from cyclr.rangetest import RangeTestResult


@dataclass(frozen=True)
class Rates:
    """The learning rates a run uses and where they came from (a range test, the user)."""

    base_lr: float
    max_lr: float
    fixed_lr: float | None = None
    source: str = "range test"
    range_test: RangeTestResult | None = None
    #: wall time of the range test the rates came from (0 without one)
    seconds: float = 0.0

    @classmethod
    def from_range_test(cls, result: RangeTestResult, seconds: float = 0.0) -> Rates:
        """The result's bounds, and its ``minimum`` reading for a fixed rate."""
        base_lr, max_lr = result.bounds()
        minimum = result.suggestions()["minimum"]
        return cls(
            base_lr,
            max_lr,
            None if minimum is None else minimum.lr,
            range_test=result,
            seconds=seconds,
        )

    @property
    def single_rates(self) -> dict[str, float | None]:
        """The range test's single-rate readings by name (empty without a range test)."""
        if self.range_test is None:
            return {}
        return {name: (s.lr if s else None) for name, s in self.range_test.suggestions().items()}


def find_bounds(
    runner,
    optimizer: str,
    start_lr: float,
    end_lr: float,
    num_steps: int,
    out: Path | None = None,
    stem: str = "range_test",
) -> Rates:
    """Run the range test; save its JSON and plot into ``out``; read the rates off it.

    Raises:
      ValueError: the curve gives no bounds (e.g. it diverged at once).
    """
    started = time.perf_counter()
    result = runner.range_test(optimizer, start_lr, end_lr, num_steps, progress=show_progress())
    seconds = time.perf_counter() - started
    if out is not None:
        result.to_json(out / f"{stem}.json")
        result.plot(out / f"{stem}.png")
    try:
        return Rates.from_range_test(result, seconds)
    except ValueError:
        raise ValueError(
            f"the range test ({start_lr:g} -> {end_lr:g}, stopped: {result.stop_reason}) shows no "
            "descent to read bounds from; widen --start-lr/--end-lr or pass --base-lr/--max-lr"
        ) from None


def half_cycle(data, batch_size: int, epochs_per_half_cycle: float) -> int:
    return step_size_for(len(data.x_train), batch_size, epochs=epochs_per_half_cycle)


def default_epochs(epochs_per_half_cycle: float, cycles: int = 3) -> int:
    """Enough epochs for ``cycles`` whole cycles (Smith: end at a cycle boundary)."""
    return max(1, math.ceil(2 * cycles * epochs_per_half_cycle))


def train_plan(runner, plan: Plan, epochs: int, log: MetricsLog) -> dict:
    """Train a fresh model with ``plan``; return the run's summary numbers."""
    runner.new_model()
    spe = runner.steps_per_epoch
    findings = [f.message for f in check(plan.schedule, epochs * spe, spe)]
    start = time.perf_counter()
    with progress_bar(epochs * spe, f"train {plan.policy}") as bar:
        runner.train(plan, epochs, log.on_step, log.on_epoch, progress=bar)
    seconds = time.perf_counter() - start
    last = log.epochs[-1] if log.epochs else {}
    return {
        "test_accuracy": last.get("test_accuracy", math.nan),
        "test_loss": last.get("test_loss", math.nan),
        "val_accuracy": last.get("val_accuracy", math.nan),
        "steps": len(log.rows),
        "steps_per_epoch": spe,
        "epochs": epochs,
        "seconds": seconds,
        "checks": findings,
    }


def save_summary(path, summary: dict) -> None:
    write_json(
        path,
        {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in summary.items()
        },
    )
