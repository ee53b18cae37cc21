"""``cyclr compare``: several policies, same data, model and budget, in Smith's Table 1 layout."""

from __future__ import annotations

from cyclr.cli import _common, _range_test
from cyclr.cli._types import positive_float, positive_int
from cyclr.cli.errors import UsageError

NAME = "compare"
HELP = "train several policies on the same budget and compare"
DEFAULT_POLICIES = "fixed,triangular,triangular2,exp_range,onecycle,adam,adam+clr"


def add_arguments(p) -> None:
    _common.add_common(p, default_out="runs/compare")
    p.add_argument(
        "--policies",
        default=DEFAULT_POLICIES,
        help=f"comma-separated (default {DEFAULT_POLICIES}; also sine, parabolic; and, "
        "PyTorch only: cosine, wsd, linear and schedulefree, the schedules of cyclr train "
        "--policy at the Adam range test's reading (or --grid's rates); adamw+cosine at "
        "1e-3 (or --grid's); onecycle-valley, fastai's one-cycle at the valley reading)",
    )
    p.add_argument(
        "--seeds",
        type=positive_int,
        default=3,
        help="seeds per policy: --seed, --seed+1, ... (default 3)",
    )
    p.add_argument(
        "--target",
        type=float,
        help="test accuracy to time (default: the fixed policy's final accuracy)",
    )
    p.add_argument("--epochs-per-half-cycle", type=positive_float, default=4.0)
    p.add_argument(
        "--grid",
        type=int,
        metavar="N",
        help="tune each of adamw+cosine, cosine, wsd, linear and schedulefree in --policies "
        "over N rates log-spaced over two decades around 1e-3 (schedulefree 2.5e-3), every "
        "rate with every seed, keeping the best; cosine, wsd, linear and schedulefree also "
        "train at the reading, the row '<policy>@reading' (N >= 2; default: no grid)",
    )


def parse_policies(text: str) -> list[str]:
    from cyclr.app.policies import COMPARED

    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in COMPARED]
    if unknown or not chosen:
        raise UsageError(
            f"--policies must name some of {', '.join(COMPARED)}; received --policies={text!r}"
        )
    return list(dict.fromkeys(chosen))


def run(args) -> int:
    from cyclr.app.compare import CompareSettings, compare
    from cyclr.app.comparison import write_outputs
    from cyclr.app.monitor import range_test_record
    from cyclr.app.policies import GRIDDED, grid_rates, range_tested

    policies = parse_policies(args.policies)
    _check_args(args, policies)
    range_test = _range_test.range_test_settings(args)
    ranged = bool(range_tested(policies))
    grid = {p: grid_rates(p, args.grid) for p in policies if args.grid is not None and p in GRIDDED}
    # the runner: the model checked, built once
    data, out, model, runner = _common.open_run(args)
    if ranged:
        range_test = _range_test.range_test_on(args, range_test, data)
    settings = CompareSettings(
        framework=args.framework,
        model=model,
        policies=tuple(policies),
        batch_size=args.batch_size,
        epochs=args.epochs,
        epochs_per_half_cycle=args.epochs_per_half_cycle,
        seed=args.seed,
        seeds=args.seeds,
        target=args.target,
        range_test=range_test,
        loss=args.loss,
        grid=grid,
        device=args.device,
        amp=args.amp,
    )
    try:
        comparison = compare(
            settings, data, out, log=_common.say(args), progress=_common.progress(args)
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    config = _common.options_config(args)
    config.update(
        data=data.name,
        model=model,
        policies=list(settings.policies),
        **(range_test_record(range_test, data) if ranged else {}),
        **_common.device_record(runner),
    )
    write_outputs(comparison, out, config)
    print(comparison.markdown())
    print(f"wrote {out}/compare.md, compare.csv, compare.png, report.html")
    return 0


def _check_args(args, policies: list[str]) -> None:
    """Options that do not go together, refused before anything loads."""
    from cyclr.app.policies import GRIDDED, TORCH_ONLY

    torch_only = [p for p in policies if p in TORCH_ONLY]
    if torch_only and args.framework != "torch":
        raise UsageError(
            f"--policies {','.join(torch_only)} run with --framework torch only; received "
            f"--framework={args.framework}"
        )
    if args.grid is not None and args.grid < 2:
        raise UsageError(f"--grid needs at least 2 rates; received --grid={args.grid}")
    if args.grid is not None and not any(p in GRIDDED for p in policies):
        raise UsageError(
            f"--grid tunes {', '.join(GRIDDED)}, which --policies does not name; received "
            f"--grid={args.grid} with --policies={args.policies!r}"
        )
    if args.target is None and "fixed" not in policies:
        raise UsageError(
            "without the fixed policy there is no default target; add fixed to "
            f"--policies or pass --target; received --policies={args.policies!r}"
        )
    if args.target is not None and not 0 < args.target <= 1:
        raise UsageError(f"--target is an accuracy in (0, 1]; received --target={args.target}")
    if args.optimizer is not None:
        raise UsageError(
            "each policy of compare has its own optimizer (sgd; adam for adam and "
            "adam+clr; AdamW or schedule-free AdamW for the others); received "
            f"--optimizer={args.optimizer}"
        )
    if args.loss not in (None, "crossentropy"):
        raise UsageError(
            f"compare times test accuracy, so it needs a classification loss; received "
            f"--loss={args.loss}"
        )
