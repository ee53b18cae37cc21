"""What one ``cyclr train`` run is: its :class:`TrainSpec`, and the length and plan it makes.

The command line builds a :class:`TrainSpec` from its options; :func:`run_shape` and
:func:`plan_for` turn it into the run's length, cycles and schedule
(:func:`cyclr.app.train.train_run` runs it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from cyclr import Schedule, steps_per_epoch
from cyclr.app.policies import CYCLICAL, READINGS, Plan, make_plan, needs_range_test
from cyclr.app.workflow import Rates, cycle_budget, default_epochs, fit_cycles, half_cycle
from cyclr.rangetest import RangeTestSettings
from cyclr.rangetest.policies import peak_lr

#: The half cycle in epochs when ``epochs_per_half_cycle`` is not given (the seed's).
DEFAULT_EPOCHS_PER_HALF_CYCLE = 4.0


@dataclass(frozen=True)
class TrainSpec:
    """What one ``cyclr train`` run does, every default already resolved.

    Attributes:
      policy: one of :data:`cyclr.app.policies.TRAINED`.
      optimizer: ``'sgd'`` or ``'adam'``, the range test's (and the training's, but for
        the AdamW policies of :data:`cyclr.app.policies.READINGS`, read with ``'adam'``).
      framework: ``'keras'`` or ``'torch'``.
      epochs, batch_size, seed: the training budget and its randomness; ``epochs=None``
        sizes the run to ``cycles`` whole cycles (:func:`run_shape`).
      epochs_per_half_cycle: the step size in epochs; None: the default
        (:data:`DEFAULT_EPOCHS_PER_HALF_CYCLE`), or, with ``epochs`` given, the half
        cycle that fits whole cycles into them (:func:`cyclr.app.workflow.fit_cycles`).
      range_test: the range test's settings: its ladder and its reading, ``monitor``
        (chosen on the data by :func:`cyclr.app.monitor.range_test_monitor`) and
        ``fine_tuning`` (a model that starts from trained weights: its bounds are read
        with ``BoundsSettings(fine_tuning=True)``).
      base_lr, max_lr: given by the user (no range test), or ``None``; a policy of
        :data:`~cyclr.app.policies.READINGS` takes ``max_lr`` alone, its peak.
      cycle_momentum: cycle momentum (SGD) or ``beta_1`` (Adam) inverse to the lr.
      momentum: ``base_momentum``/``max_momentum`` the user gave.
      mode, waveform, gamma: the cyclical schedule's shape, where given.
      cycles: the run's length in cycles when ``epochs`` is None.
      loss: ``'crossentropy'``, ``'mse'``, ``'mae'``, or None (the model's own, else
        cross-entropy).
      progress: progress bars (None: on a terminal; False: none).
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
    range_test: RangeTestSettings = field(default_factory=RangeTestSettings)
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
      fitted: the half cycle was fitted to the user's ``epochs`` (not the default's).
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
    if spec.policy in READINGS:
        peak = _peak(spec.policy, rates)
        return make_plan(
            spec.policy, total_steps=shape.total_steps, step_size=shape.step_size, lr=peak
        )
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


def _peak(policy: str, rates: Rates) -> float:
    """The peak rate of a policy of :data:`READINGS`: its reading, or the ``max_lr`` given."""
    if rates.range_test is None:
        return rates.max_lr
    return peak_lr(rates.range_test, READINGS[policy])


def reading(spec: TrainSpec, data: Any, rates: Rates) -> Schedule | None:
    """``RangeTestResult.schedule`` of the range test the run reads, for its policy.

    The core's schedule the plan of a policy of :data:`READINGS` trains with (schedule-free
    AdamW runs its warm-up itself); None for another policy or without a range test.
    """
    if spec.policy not in READINGS or rates.range_test is None:
        return None
    shape = run_shape(spec, data)
    return rates.range_test.schedule(
        READINGS[spec.policy], shape.total_steps, steps_per_epoch=shape.steps_per_epoch
    )


def check_spec(spec: TrainSpec, data: Any) -> None:
    """Build the plan with stand-in rates, so bad options fail before anything runs.

    Raises:
      ValueError: as :func:`plan_for`.
    """
    plan_for(spec, data, Rates(1e-3, 1e-2, 1e-3, source="check"))


def rates_from_range_test(spec: TrainSpec) -> bool:
    """Whether the run's rates come from a range test.

    They do unless ``base_lr`` and ``max_lr`` are given (``max_lr`` alone for a policy of
    :data:`READINGS`) or the policy reads no range test.
    """
    if spec.policy in READINGS:
        return spec.max_lr is None
    given = spec.base_lr is not None and spec.max_lr is not None
    return not given and needs_range_test(spec.policy) is not None


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
