"""``cyclr train``'s policy options (``--policy``, its shape and rates) and their checks.

A policy of :data:`cyclr.app.policies.READINGS` (``cosine``, ``wsd``, ``linear``,
``schedulefree``) trains at a range test's reading (docs/semantics.md, *Readings per
schedule*) with AdamW or schedule-free AdamW: PyTorch only, one peak rate. ``cyclr compare``
trains the same schedules under the same names.
"""

from __future__ import annotations

from cyclr.cli import _common
from cyclr.cli._types import positive_float, positive_int
from cyclr.cli.errors import UsageError


def add_policy_options(p) -> None:
    """``train``'s policy group: ``--policy`` and the options that shape its schedule."""
    from cyclr.app.policies import TRAINED
    from cyclr.cyclic import MODES, WAVEFORMS

    pol = p.add_argument_group("policy")
    pol.add_argument(
        "--policy",
        choices=TRAINED,
        default="triangular",
        help="what to train with (default triangular; see cyclr compare). cosine, wsd and "
        "linear: AdamW (weight decay 0.01), a warm-up over 5%% of the run, then a cosine, "
        "warm-up-stable-decay or linear decay to 0; schedulefree: schedule-free AdamW at a "
        "constant rate with its own warm-up; each at the peak its schedule reads off an Adam "
        "range test (cyclr.RangeTestResult.schedule; --framework torch only), as cyclr compare "
        "--policies trains them",
    )
    pol.add_argument("--mode", choices=MODES, help="bound decay of a cyclical policy")
    pol.add_argument("--waveform", choices=WAVEFORMS, help="shape of a cyclical policy")
    pol.add_argument(
        "--gamma",
        type=float,
        help="exp_range decay per step (default: 10%% of the amplitude left at the end)",
    )
    pol.add_argument(
        "--cycle-momentum",
        action="store_true",
        help="cycle momentum (SGD) or beta_1 (Adam) inverse to the lr",
    )
    pol.add_argument(
        "--base-momentum", type=float, help="with --cycle-momentum or onecycle (default 0.85)"
    )
    pol.add_argument(
        "--max-momentum", type=float, help="with --cycle-momentum or onecycle (default 0.95)"
    )
    pol.add_argument("--base-lr", type=positive_float, help="with --max-lr: skip the range test")
    pol.add_argument(
        "--max-lr",
        type=positive_float,
        help="with --base-lr: skip the range test; alone, the peak of cosine, wsd, linear or "
        "schedulefree",
    )
    pol.add_argument(
        "--epochs-per-half-cycle",
        type=positive_float,
        help="step size in epochs (Smith: 2-10; default 4, or with --epochs the half cycle "
        "that fits whole cycles into them, ending at base_lr)",
    )
    pol.add_argument(
        "--cycles",
        type=positive_int,
        help="the run's length in whole cycles, ending at a cycle boundary (default 3; "
        "instead of --epochs)",
    )


#: Options that shape a cyclical schedule, and the policies without one.
SHAPE_OPTIONS = ("mode", "waveform", "gamma")
NOT_CYCLICAL = ("fixed", "adam", "onecycle", "cosine", "wsd", "linear", "schedulefree")


def _refuse_ignored(args) -> None:
    """Options that the chosen policy would not use are an error, not silently dropped."""
    extra = []
    if args.policy in NOT_CYCLICAL:
        extra += _common.given(args, SHAPE_OPTIONS)
    elif args.gamma is not None and (args.mode or _mode_of(args.policy)) != "exp_range":
        extra.append("--gamma")
    if args.policy == "adam":
        extra += _common.given(args, ("base_lr", "max_lr"))
        if args.range_test is not None:
            extra.append("--range-test")
    if args.cycle_momentum and args.policy in NOT_CYCLICAL:
        extra.append("--cycle-momentum")
    if not args.cycle_momentum and args.policy != "onecycle":
        extra += _common.given(args, ("base_momentum", "max_momentum"))
    if extra:
        hint = (
            " (momentum bounds need --cycle-momentum)"
            if any("momentum" in e for e in extra) and args.policy not in NOT_CYCLICAL
            else ""
        )
        raise UsageError(f"{_common.do_not_apply(extra)} to --policy {args.policy}{hint}")


def _mode_of(policy: str) -> str:
    from cyclr.app.policies import CYCLICAL

    return CYCLICAL.get(policy, {}).get("mode", "triangular")


def check_policy_options(args) -> None:
    """Refuse policy options that conflict or that the policy would not use (UsageError)."""
    _check_rates(args)
    _refuse_ignored(args)


def _check_rates(args) -> None:
    from cyclr.app.policies import READINGS

    if args.policy in READINGS:
        _check_reading(args)
    elif (args.base_lr is None) != (args.max_lr is None):
        raise UsageError(
            "give both --base-lr and --max-lr, or neither; received "
            f"--base-lr={args.base_lr}, --max-lr={args.max_lr}"
        )
    if args.base_lr is not None and args.base_lr > args.max_lr:
        raise UsageError(
            f"--base-lr must be <= --max-lr; received --base-lr={args.base_lr}, "
            f"--max-lr={args.max_lr}"
        )
    if args.max_lr is not None and args.range_test is not None:
        raise UsageError(
            "--range-test does not apply with --base-lr/--max-lr (no range test); received "
            f"--range-test={args.range_test}"
        )


def _check_reading(args) -> None:
    """A policy at a reading (cosine, wsd, linear, schedulefree): AdamW's, PyTorch's, one peak."""
    from cyclr.app.policies import TORCH_ONLY

    optimizer = "schedule-free AdamW" if args.policy == "schedulefree" else "AdamW"
    if args.policy in TORCH_ONLY and args.framework != "torch":
        raise UsageError(
            f"--policy {args.policy} trains with {optimizer}, which runs with --framework torch "
            f"only here; received --framework={args.framework}"
        )
    if args.optimizer is not None:
        raise UsageError(
            f"--policy {args.policy} trains with {optimizer}, read off a range test with Adam; "
            f"received --optimizer={args.optimizer}"
        )
    if args.base_lr is not None:
        raise UsageError(
            f"--base-lr does not apply to --policy {args.policy} (one peak rate: give --max-lr "
            f"alone); received --base-lr={args.base_lr}"
        )
