"""``cyclr train``: the seed's workflow in one command, with a report a person reads.

range test -> (base_lr, max_lr) -> step size (``--epochs-per-half-cycle``) ->
training with the chosen policy -> test accuracy, metrics, plots, ``report.html``.
"""
from __future__ import annotations

import sys
import time

from cyclr.cli import _common
from cyclr.cli.errors import UsageError

NAME = "train"
HELP = "range test -> bounds -> cyclical training -> report"


def add_arguments(p) -> None:
    from cyclr.app.policies import POLICIES
    from cyclr.cyclic import MODES, WAVEFORMS
    _common.add_common(p, default_out="runs/train")
    pol = p.add_argument_group("policy")
    pol.add_argument("--policy", choices=POLICIES, default="triangular",
                     help="what to train with (default triangular; see cyclr compare)")
    pol.add_argument("--mode", choices=MODES, help="bound decay of a cyclical policy")
    pol.add_argument("--waveform", choices=WAVEFORMS, help="shape of a cyclical policy")
    pol.add_argument("--gamma", type=float, help="exp_range decay per step "
                     "(default: 10%% of the amplitude left at the end)")
    pol.add_argument("--cycle-momentum", action="store_true",
                     help="cycle momentum (SGD) or beta_1 (Adam) inverse to the lr")
    pol.add_argument("--base-momentum", type=float,
                     help="with --cycle-momentum or onecycle (default 0.85)")
    pol.add_argument("--max-momentum", type=float,
                     help="with --cycle-momentum or onecycle (default 0.95)")
    pol.add_argument("--base-lr", type=_common.positive_float,
                     help="with --max-lr: skip the range test")
    pol.add_argument("--max-lr", type=_common.positive_float)
    pol.add_argument("--epochs-per-half-cycle", type=_common.positive_float, default=4.0,
                     help="step size in epochs (Smith: 2-10; default 4)")


#: Options that shape a cyclical schedule, and the policies without one.
SHAPE_OPTIONS = ("mode", "waveform", "gamma")
NOT_CYCLICAL = ("fixed", "adam", "onecycle")


def _refuse_ignored(args) -> None:
    """Options that the chosen policy would not use are an error, not silently dropped."""
    extra = []
    if args.policy in NOT_CYCLICAL:
        extra += _common.given(args, SHAPE_OPTIONS)
    elif args.gamma is not None and (args.mode or _mode_of(args.policy)) != "exp_range":
        extra.append("--gamma")
    if args.policy == "adam":
        extra += _common.given(args, ("base_lr", "max_lr"))
    if args.cycle_momentum and args.policy in NOT_CYCLICAL:
        extra.append("--cycle-momentum")
    if not args.cycle_momentum and args.policy != "onecycle":
        extra += _common.given(args, ("base_momentum", "max_momentum"))
    if extra:
        hint = " (momentum bounds need --cycle-momentum)" if any(
            "momentum" in e for e in extra) and args.policy not in NOT_CYCLICAL else ""
        raise UsageError(f"{_common.do_not_apply(extra)} to --policy {args.policy}{hint}")


def _mode_of(policy: str) -> str:
    from cyclr.app.policies import CYCLICAL
    return CYCLICAL.get(policy, {}).get("mode", "triangular")


def _check_args(args) -> None:
    if (args.base_lr is None) != (args.max_lr is None):
        raise UsageError("give both --base-lr and --max-lr, or neither; received "
                         f"--base-lr={args.base_lr}, --max-lr={args.max_lr}")
    if args.base_lr is not None and args.base_lr > args.max_lr:
        raise UsageError(f"--base-lr must be <= --max-lr; received --base-lr={args.base_lr}, "
                         f"--max-lr={args.max_lr}")


def run(args) -> int:
    from cyclr import steps_per_epoch
    from cyclr.app.files import write_json
    from cyclr.app.policies import make_plan, needs_range_test
    from cyclr.app.report import plot_curves, plot_lr_momentum, write_report
    from cyclr.app.session import MetricsLog, make_runner
    from cyclr.app.workflow import (Bounds, default_epochs, find_bounds, half_cycle,
                                    save_summary, train_plan)

    _check_args(args)
    _refuse_ignored(args)
    if args.policy in ("adam", "adam+clr") and args.optimizer not in (None, "adam"):
        raise UsageError(f"--policy {args.policy} trains with Adam; received "
                         f"--optimizer={args.optimizer}")
    optimizer = "adam" if args.policy in ("adam", "adam+clr") else (args.optimizer or "sgd")
    settings = _common.range_test_settings(args, optimizer)
    epochs = args.epochs or default_epochs(args.epochs_per_half_cycle)
    momentum = {k: v for k, v in (("base_momentum", args.base_momentum),
                                  ("max_momentum", args.max_momentum)) if v is not None}

    def plan_for(data, base_lr, max_lr, fixed_lr, step_size):
        try:
            return make_plan(args.policy, total_steps=epochs * steps_per_epoch(
                                 len(data.x_train), args.batch_size), step_size=step_size,
                             base_lr=base_lr, max_lr=max_lr, fixed_lr=fixed_lr,
                             cycle_momentum=args.cycle_momentum, optimizer=optimizer,
                             mode=args.mode, waveform=args.waveform, gamma=args.gamma,
                             **momentum)
        except ValueError as exc:
            raise UsageError(_common.as_options(str(exc))) from None

    def check(data, model):  # every option is checked before the run folder is made
        plan_for(data, 1e-3, 1e-2, 1e-3, half_cycle(data, args.batch_size,
                                                     args.epochs_per_half_cycle))

    data, out, model = _common.open_run(args, check)
    step_size = half_cycle(data, args.batch_size, args.epochs_per_half_cycle)
    config = {k: v for k, v in vars(args).items() if k not in ("command",)}
    config.update(model=model, epochs=epochs, step_size=step_size, command="train",
                  start_lr=settings[0], end_lr=settings[1], num_steps=settings[2],
                  keras_backend=_common.keras_backend() if args.framework == "keras" else None,
                  argv=sys.argv[1:])
    write_json(out / "config.json", config)
    print(data.describe())

    started = time.perf_counter()
    runner = make_runner(args.framework, data, model, args.batch_size, args.seed)
    if args.base_lr is not None:
        bounds = Bounds(args.base_lr, args.max_lr, fixed_lr=args.max_lr, source="--base-lr/--max-lr")
    elif needs_range_test(args.policy) is None:
        bounds = Bounds(float("nan"), float("nan"), source="none (policy needs no range test)")
    else:
        try:
            bounds = find_bounds(runner, optimizer, *settings, out)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        print(bounds.range_test.summary())
    spe = runner.steps_per_epoch
    plan = plan_for(data, bounds.base_lr, bounds.max_lr, bounds.fixed_lr, step_size)
    print(f"training: {plan.policy}, {plan.optimizer}, {plan.schedule!r}, {epochs} epochs of "
          f"{spe} steps")

    log = MetricsLog(out / "metrics.csv")
    summary = {"status": "running", "policy": plan.policy, "optimizer": plan.optimizer,
               "base_lr": bounds.base_lr, "max_lr": bounds.max_lr, "bounds_from": bounds.source,
               "step_size": step_size, "schedule": repr(plan.schedule),
               "framework": args.framework, "model": model, "dataset": data.name}
    try:
        summary.update(train_plan(runner, plan, epochs, log))
        summary["status"] = "finished"
    except KeyboardInterrupt:
        summary.update(status="interrupted", steps=len(log.rows),
                       test_accuracy=log.final_test_accuracy)
        raise
    finally:
        summary["seconds"] = time.perf_counter() - started
        save_summary(out / "summary.json", summary)
        _write_figures_and_report(out, summary, config, log, bounds.range_test is not None,
                                  plot_lr_momentum, plot_curves, write_report)
    print(f"test accuracy {summary['test_accuracy']:.4f} after {summary['steps']} steps "
          f"({summary['seconds']:.1f} s)")
    for finding in summary.get("checks", []):
        print(f"check: {finding}")
    print(f"wrote {out}/report.html")
    return 0


def _write_figures_and_report(out, summary, config, log, ran_range_test, plot_lr_momentum,
                              plot_curves, write_report):
    # Only this run's range test: an --overwrite'n folder may hold an older one.
    figures = [("Range test", out / "range_test.png")] if ran_range_test else []
    if log.rows:
        figures.append(("Learning rate and momentum used", plot_lr_momentum(log.rows, out / "lr.png")))
        figures.append(("Loss and accuracy", plot_curves(log.rows, log.epochs, out / "curves.png")))
    notes = [] if summary["status"] == "finished" else [
        f"This run was {summary['status']} after {summary.get('steps', 0)} steps; "
        "the figures and metrics show what it did until then."]
    notes += [f"check: {c}" for c in summary.get("checks", [])]
    write_report(out / "report.html", f"cyclr train: {summary['policy']} on {summary['dataset']}",
                 {k: v for k, v in summary.items() if k != "checks"}, config, figures, notes)
