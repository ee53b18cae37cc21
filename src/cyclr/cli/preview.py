"""``cyclr preview``: draw a schedule and say what to know before training with it."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import numpy as np

from cyclr import CyclicSchedule, OneCycle, check
from cyclr.cli._common import do_not_apply, given
from cyclr.cli.errors import UsageError
from cyclr.cyclic import (
    DECAY_TARGETS,
    DEFAULT_BASE_MOMENTUM,
    DEFAULT_MAX_MOMENTUM,
    MODES,
    SCALE_MODES,
    WAVEFORMS,
)

NAME = "preview"
HELP = "draw a schedule and check it against a run"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-lr", type=float, help="lower bound (cyclical schedules)")
    p.add_argument("--max-lr", type=float, required=True, help="upper bound / one-cycle peak")
    p.add_argument("--step-size", type=int, help="steps per half cycle")
    p.add_argument("--step-size-up", type=int, help="steps from base_lr up to max_lr")
    p.add_argument("--step-size-down", type=int, help="steps from max_lr down to base_lr")
    p.add_argument("--mode", choices=MODES, help="bound decay (default triangular)")
    p.add_argument("--waveform", choices=WAVEFORMS, help="shape of a cycle (default triangular)")
    p.add_argument("--gamma", type=float, help="exp_range decay per step")
    p.add_argument("--decay-target", choices=DECAY_TARGETS, help="default amplitude")
    p.add_argument("--scale-mode", choices=SCALE_MODES, help="what the decay reads")
    p.add_argument("--momentum", action="store_true", help="cycle momentum too (inverse to the lr)")
    p.add_argument("--base-momentum", type=float, help=f"default {DEFAULT_BASE_MOMENTUM}")
    p.add_argument("--max-momentum", type=float, help=f"default {DEFAULT_MAX_MOMENTUM}")
    p.add_argument("--one-cycle", action="store_true", help="Smith's one-cycle policy instead")
    p.add_argument("--total-steps", type=int, help="one-cycle length (default: --steps)")
    p.add_argument("--pct-start", type=float, help="default 0.3")
    p.add_argument("--anneal", choices=("cos", "linear"), help="default cos")
    p.add_argument("--div-factor", type=float, help="default 25")
    p.add_argument("--final-div-factor", type=float, help="default 1e4")
    p.add_argument("--three-phase", action="store_true")
    p.add_argument("--steps", type=int, help="length of the run to preview and check")
    p.add_argument("--steps-per-epoch", type=int, help="to check the step size in epochs")
    p.add_argument("--out", help="write the figure here (.png, .pdf or .svg)")


#: The schedules' own parameters, read from the core; each has an option of the same name.
#: ``max_lr`` and the momenta are shared; ``scale_fn`` has no option, ``three_phase`` is a flag.
_SHARED = ("max_lr", "base_momentum", "max_momentum", "scale_fn", "three_phase")
CYCLIC_ONLY = tuple(f.name for f in dataclasses.fields(CyclicSchedule) if f.name not in _SHARED)
ONE_CYCLE_ONLY = tuple(f.name for f in dataclasses.fields(OneCycle) if f.name not in _SHARED)
#: the largest run preview evaluates step by step
MAX_STEPS = 20_000_000


def _given_kwargs(args, names) -> dict:
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def build_schedule(args: argparse.Namespace) -> CyclicSchedule | OneCycle:
    """The schedule the options describe; bad or inapplicable options become UsageErrors."""
    if args.one_cycle:
        extra = given(args, CYCLIC_ONLY) + (["--momentum"] if args.momentum else [])
        if extra:
            raise UsageError(f"{do_not_apply(extra)} to --one-cycle")
    else:
        extra = given(args, ONE_CYCLE_ONLY) + (["--three-phase"] if args.three_phase else [])
        if not args.momentum:
            extra += given(args, ("base_momentum", "max_momentum"))
        if extra:
            raise UsageError(
                f"{do_not_apply(extra)} here: add --one-cycle, or --momentum "
                "for the momentum bounds"
            )
    try:
        if args.one_cycle:
            total = args.total_steps if args.total_steps is not None else args.steps
            if total is None:
                raise ValueError("--one-cycle needs --total-steps or --steps; received neither")
            options = _given_kwargs(args, (*ONE_CYCLE_ONLY, "base_momentum", "max_momentum"))
            return OneCycle(
                args.max_lr, **dict(options, total_steps=total), three_phase=args.three_phase
            )
        if args.base_lr is None:
            raise ValueError("--base-lr is required for a cyclical schedule; received none")
        momentum: dict[str, Any] = {"base_momentum": DEFAULT_BASE_MOMENTUM} if args.momentum else {}
        momentum.update(_given_kwargs(args, ("base_momentum", "max_momentum")))
        return CyclicSchedule(max_lr=args.max_lr, **_given_kwargs(args, CYCLIC_ONLY), **momentum)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def summarize(schedule, steps: int, steps_per_epoch=None) -> list[str]:
    """The lines ``preview`` prints: shape of the run, extremes, and the check findings."""
    t = np.arange(steps)
    lr = schedule(t)
    lines = [f"schedule: {schedule!r}"]
    if isinstance(schedule, CyclicSchedule):
        cycles = steps / schedule.cycle_length
        lines.append(f"steps: {steps} ({cycles:g} cycles of {schedule.cycle_length} steps)")
    else:
        lines.append(f"steps: {steps}")
    if steps_per_epoch:
        lines.append(f"epochs: {steps / steps_per_epoch:g} at {steps_per_epoch} steps per epoch")
    lines.append(
        f"lr: min {lr.min():.6g}, max {lr.max():.6g}, first {lr[0]:.6g}, final {lr[-1]:.6g}"
    )
    if schedule.has_momentum:
        m = schedule.momentum(t)
        lines.append(f"momentum: min {m.min():.6g}, max {m.max():.6g}, final {m[-1]:.6g}")
    findings = check(schedule, steps, steps_per_epoch)
    lines.extend(f"check: {f.message}" for f in findings)
    if not findings:
        lines.append("check: no findings")
    return lines


def run(args) -> int:
    schedule = build_schedule(args)
    steps = args.steps
    if steps is None:
        if isinstance(schedule, OneCycle):
            steps = schedule.total_steps
        else:
            steps = 3 * schedule.cycle_length
    for name in ("steps", "steps_per_epoch"):
        value = steps if name == "steps" else getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1; received {value}")
    if steps > MAX_STEPS:
        raise UsageError(
            f"--steps must be <= {MAX_STEPS:,} for a preview (it evaluates every "
            f"step); received {steps:,}" + ("" if args.steps else " (3 cycles, the default)")
        )
    out = None
    if args.out:
        from cyclr._extras import require
        from cyclr.plotting import check_output_path

        require("cyclr preview --out", "plot")  # before printing: the run would fail anyway
        try:
            out = check_output_path(args.out, "--out")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    for line in summarize(schedule, steps, args.steps_per_epoch):
        print(line)
    if out is not None:
        from cyclr.plotting import plot_schedule

        plot_schedule(schedule, steps, out, steps_per_epoch=args.steps_per_epoch)
        print(f"wrote {out}")
    return 0
