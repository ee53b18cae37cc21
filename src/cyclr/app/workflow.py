"""The seed's workflow as functions: range test -> bounds -> step size -> training -> report."""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import numpy as np

from cyclr import check, step_size_for
from cyclr.app.files import write_json
from cyclr.app.policies import Plan
from cyclr.app.reuse import write_record
from cyclr.app.runner import Runner
from cyclr.app.session import EpochBars, MetricsLog, printer, show_progress
from cyclr.rangetest import RangeTestResult, RangeTestSettings


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
        """The result's bounds (its monitor's curve), and a fixed rate.

        The fixed rate is the ``minimum`` reading, off the training loss as the
        single-rate readings are defined.
        """
        base_lr, max_lr = result.bounds()
        minimum = result.suggestions(monitor="loss")["minimum"]
        return cls(
            base_lr,
            max_lr,
            None if minimum is None else minimum.lr,
            range_test=result,
            seconds=seconds,
        )

    @property
    def single_rates(self) -> dict[str, float | None]:
        """The range test's single-rate readings by name (empty without a range test).

        Off the training loss, as their authors read them (fastai's ``valley``).
        """
        if self.range_test is None:
            return {}
        found = self.range_test.suggestions(monitor="loss")
        return {name: (s.lr if s else None) for name, s in found.items()}


def find_bounds(
    runner: Runner,
    optimizer: str,
    settings: RangeTestSettings,
    out: Path | None = None,
    stem: str = "range_test",
    progress: bool | None = None,
    record: dict | None = None,
) -> Rates:
    """Run the range test; save its JSON and plot into ``out``; read the rates off it.

    ``settings``: the test's ladder and reading, its monitor chosen
    (:func:`~cyclr.app.monitor.range_test_monitor`): with ``'val_loss'`` the batch of
    :func:`~cyclr.app.monitor.range_test_validation` is measured every
    ``settings.val_every`` rungs; with ``fine_tuning`` the bounds are read for a model
    that starts from trained weights (``BoundsSettings(fine_tuning=True)``).
    ``progress``: draw a progress bar (None: on a terminal). ``record``: what the test
    ran on (:func:`cyclr.app.reuse.range_test_identity`), saved beside its JSON the moment
    the test ends, so that a later run may reuse it.

    Raises:
      ValueError: the curve gives no bounds (e.g. it diverged at once).
    """
    started = time.perf_counter()
    result = runner.range_test(optimizer, settings, progress=show_progress(progress))
    seconds = time.perf_counter() - started
    return read_rates(result, out, stem, record, seconds)


def read_rates(
    result: RangeTestResult,
    out: Path | None = None,
    stem: str = "range_test",
    record: dict | None = None,
    seconds: float = 0.0,
) -> Rates:
    """Save a range test's JSON (with ``record`` beside it) and plot into ``out``; its rates.

    Raises:
      ValueError: the curve gives no bounds (e.g. it diverged at once).
    """
    if out is not None:
        result.to_json(out / f"{stem}.json")
        if record is not None:
            write_record(out, record, stem)
        result.plot(out / f"{stem}.png")
    try:
        return Rates.from_range_test(result, seconds)
    except ValueError:
        monitor = result.settings.monitor
        start_lr, end_lr = result.settings.start_lr, result.settings.end_lr
        other = "; or read the training loss (monitor='loss')" if monitor == "val_loss" else ""
        raise ValueError(
            f"the range test's {monitor} ({start_lr:g} -> {end_lr:g}, stopped: "
            f"{result.stop_reason}) shows no descent to read bounds from; widen its ladder "
            f"(start_lr, end_lr) or give base_lr and max_lr{other}"
        ) from None


def half_cycle(data, batch_size: int, epochs_per_half_cycle: float) -> int:
    return step_size_for(len(data.x_train), batch_size, epochs=epochs_per_half_cycle)


def default_epochs(epochs_per_half_cycle: float, cycles: int = 3) -> int:
    """Enough epochs for ``cycles`` whole cycles (Smith: end at a cycle boundary)."""
    return max(1, math.ceil(2 * cycles * epochs_per_half_cycle))


def cycle_budget(step_size: int, steps_per_epoch: int, cycles: int) -> tuple[int, int]:
    """``(epochs, total_steps)`` of a run of exactly ``cycles`` whole cycles.

    ``total_steps = 2 * cycles * step_size``; the last epoch is cut short when that is
    not a whole number of epochs, so the run still ends at a cycle boundary (base_lr).

    >>> cycle_budget(100, 50, 3)
    (12, 600)
    >>> cycle_budget(25, 36, 3)
    (5, 150)
    """
    if cycles < 1:
        raise ValueError(f"cycles must be a positive integer; received cycles={cycles!r}")
    total = 2 * cycles * step_size
    return math.ceil(total / steps_per_epoch), total


def fit_cycles(
    epochs: int, steps_per_epoch: int, epochs_per_half_cycle: float
) -> tuple[int, int, int] | None:
    """``(cycles, step_size, total_steps)``: whole cycles in ``epochs``, ending at base_lr.

    For a run whose length the user fixed. ``cycles`` whole cycles of two halves of
    ``step_size = floor(epochs * steps_per_epoch / (2 * cycles))`` steps, the run ending
    after the last one (``total_steps = 2 * cycles * step_size``, the last epoch cut short
    by the steps left over). The number of cycles is the one whose half cycle comes
    nearest ``epochs_per_half_cycle`` (as a ratio), among those that leave fewer than an
    epoch's steps over, so that every epoch asked for begins. None when ``epochs`` hold
    fewer than 2 steps (no cycle fits).

    >>> fit_cycles(3, 36, 4)  # one cycle of two 1.5-epoch halves
    (1, 54, 108)
    >>> fit_cycles(3, 29, 4)  # 87 steps: the last epoch one step short
    (1, 43, 86)
    >>> fit_cycles(20, 36, 4)  # 3 cycles (3.33-epoch halves) are nearer than 2 (5 epochs)
    (3, 120, 720)
    >>> fit_cycles(500, 36, 4)  # 63 cycles would leave 108 steps, 3 epochs, unrun
    (62, 145, 17980)
    """
    budget = epochs * steps_per_epoch
    if budget < 2:
        return None
    cycles = np.arange(1, budget // 2 + 1)
    step_size = budget // (2 * cycles)
    left = budget - 2 * cycles * step_size
    distance = np.abs(np.log(step_size / (steps_per_epoch * epochs_per_half_cycle)))
    # every epoch begins, if any cycle count allows it; then the nearest half cycle
    best = int(np.lexsort((distance, left >= max(1, steps_per_epoch)))[0])
    return int(cycles[best]), int(step_size[best]), int(2 * cycles[best] * step_size[best])


def schedule_checks(plan: Plan, total_steps: int, steps_per_epoch: int) -> list[str]:
    """:func:`cyclr.check`'s findings on the plan's schedule, as sentences."""
    return [f.message for f in check(plan.schedule, total_steps, steps_per_epoch)]


class DeferredInterrupt:
    """Ctrl-C during training, raised between two steps, where the run stops cleanly.

    A ``KeyboardInterrupt`` raised wherever the signal lands can be lost: some library
    code clears any error of a protocol lookup (NumPy's array coercion does, numpy#20596,
    which Keras' JAX backend calls on every batch's logs), and the run then trains on.
    Inside ``with DeferredInterrupt() as interrupt:`` the first Ctrl-C is only recorded;
    :meth:`check` (called after every step) raises it. A second Ctrl-C raises at once, and
    one still pending when the block ends raises there. Only Python's own Ctrl-C handler
    in the main thread is replaced (and put back): an ignored SIGINT (``nohup ... &``) or
    a handler of the caller's is left alone.
    """

    def __init__(self) -> None:
        self.pending = False
        self._previous: object = None

    def __enter__(self) -> DeferredInterrupt:
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._record)
        return self

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if self.pending:
            raise KeyboardInterrupt  # asked twice: stop now
        self.pending = True

    def check(self) -> None:
        """Raise the pending Ctrl-C, if any."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
            self._previous = None
        if kind is None:
            self.check()


def train_plan(
    runner: Runner,
    plan: Plan,
    epochs: int,
    log: MetricsLog,
    *,
    total_steps: int | None = None,
    say=None,
    progress: bool | None = None,
    desc: str = "",
    resume: tuple | None = None,
    checkpoint=None,
    test_every_epoch: bool = False,
) -> dict:
    """Train a fresh model with ``plan``; return the run's summary numbers.

    Every epoch is followed on the validation split; the test set is scored once, after
    training (``test_every_epoch=True``: after every epoch too, for the time to a test
    accuracy that ``compare`` measures, Smith's Table 1).

    Args:
      runner: a :class:`~cyclr.app.torch_runner.TorchRunner` or ``KerasRunner``.
      plan: what to train with.
      epochs: the epochs to train.
      log: records every step and epoch (and writes ``metrics.csv``).
      total_steps: stop after this many steps (the last epoch cut short); None: whole epochs.
      say: when given, called with the schedule checks before training and one line per
        epoch (lr range, train loss, validation loss and metric, seconds).
      progress: a progress bar per epoch (None: on a terminal).
      desc: the bars' label (the policy in ``compare``).
      resume: ``(state_file, epoch, step)`` of a checkpoint to continue from (``log``
        already holds its rows).
      checkpoint: called as ``checkpoint(epoch, step)`` after every epoch.
      test_every_epoch: score the test set after every epoch, not only at the end.
    """
    runner.new_model()
    spe = runner.steps_per_epoch
    total = epochs * spe if total_steps is None else min(total_steps, epochs * spe)
    findings = schedule_checks(plan, total, spe)
    if say is not None:
        for finding in findings:
            say(f"check: {finding}")
    start = time.perf_counter()
    start_at = (0, 0) if resume is None else (resume[1], resume[2])
    bars = EpochBars(epochs, spe, total, desc, start_at) if show_progress(progress) else None
    # what the run sets; the runner's defaults otherwise
    given = {"max_steps": None if total == epochs * spe else total, "resume": resume}
    options = {k: v for k, v in (given | {"checkpoint": checkpoint}).items() if v is not None}
    line = printer(progress) if say is print else say
    _run_epochs(runner, plan, epochs, log, bars, line, options, test_every_epoch)
    summary = _trained(log)
    summary.update(
        steps_per_epoch=spe, epochs=epochs, seconds=time.perf_counter() - start, checks=findings
    )
    return summary


def _run_epochs(
    runner: Runner,
    plan: Plan,
    epochs: int,
    log: MetricsLog,
    bars: EpochBars | None,
    line: Callable[[str], None] | None,
    options: dict[str, Any],
    test_every_epoch: bool,
) -> None:
    """``runner.train`` into ``log`` (then the test set, unless every epoch scored it).

    A Ctrl-C stops the run between two steps (:class:`DeferredInterrupt`).
    """
    interrupt = DeferredInterrupt()

    def on_step(*values: Any) -> None:
        log.on_step(*values)
        interrupt.check()

    on_epoch = _epoch_end(log, epochs, bars, line)
    try:
        with interrupt:
            runner.train(
                plan,
                epochs,
                on_step,
                on_epoch,
                progress=bars,
                test_each_epoch=test_every_epoch,
                **options,
            )
            if not test_every_epoch and log.epochs:
                log.on_test(*runner.evaluate(runner.data.x_test, runner.data.y_test))
    finally:
        if bars is not None:
            bars.close()


def _trained(log: MetricsLog) -> dict[str, Any]:
    """The final scores :func:`train_plan` reports (NaN for what was not measured)."""
    last, m = (log.epochs[-1] if log.epochs else {}), log.metric
    return {
        f"test_{m}": last.get(f"test_{m}", math.nan),
        "test_loss": last.get("test_loss", math.nan),
        f"val_{m}": last.get(f"val_{m}", math.nan),
        "steps": len(log.rows),
    }


def _epoch_end(
    log: MetricsLog, epochs: int, bars: EpochBars | None, line: Callable[[str], None] | None
) -> Callable[..., None]:
    """What :func:`train_plan` does after every epoch: log it, say its line, turn the bars."""
    started = [time.perf_counter()]

    def on_epoch(*values: Any) -> None:
        log.on_epoch(*values)
        if bars is not None:
            bars.close()  # the epoch's bar goes, its line stays
        if line is not None:
            line(log.epoch_line(epochs, started[0]))
        if bars is not None:
            bars.next_epoch()
        started[0] = time.perf_counter()

    return on_epoch


def save_summary(path, summary: dict) -> None:
    write_json(
        path,
        {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in summary.items()
        },
    )
