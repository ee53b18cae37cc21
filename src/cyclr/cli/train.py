"""``cyclr train``: the seed's workflow in one command, with a report a person reads.

range test -> (base_lr, max_lr) -> step size (``--epochs-per-half-cycle``) ->
training with the chosen policy -> test accuracy, metrics, plots, ``report.html``.
``--policy cosine|wsd|linear|schedulefree`` trains at the range test's reading for that
schedule, ``RangeTestResult.schedule`` (docs/semantics.md, *Readings per schedule*).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cyclr.cli import _common, _range_test
from cyclr.cli._train_policy import NOT_CYCLICAL, add_policy_options, check_policy_options
from cyclr.cli.errors import UsageError

if TYPE_CHECKING:
    from cyclr.app.train import SavedRangeTest

NAME = "train"
HELP = "range test -> the policy's rates -> training -> report"


def add_arguments(p) -> None:
    _common.add_common(p, default_out="runs/train")
    add_policy_options(p)
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue an interrupted run from its last epoch checkpoint, with the options it "
        "was started with (run from any folder; give no other option but --quiet); a run "
        "stopped before its first epoch ended starts again, reusing its range test if that "
        "had ended",
    )
    p.add_argument(
        "--range-test",
        metavar="RUN_OR_FILE",
        help="reuse the range test of an earlier cyclr find or train run (its folder, or its "
        "range_test.json) instead of running it again; refused unless it ran on the same "
        "data, model and settings",
    )


def _spec(args):
    """The run the options describe, every default resolved (a UsageError if they conflict)."""
    from cyclr.app.policies import READINGS
    from cyclr.app.train_spec import TrainSpec

    check_policy_options(args)
    if args.cycles is not None and args.epochs is not None:
        raise UsageError(
            f"give --cycles or --epochs, not both; received --cycles={args.cycles}, "
            f"--epochs={args.epochs}"
        )
    if args.cycles is not None and args.policy in NOT_CYCLICAL:
        raise UsageError(f"--cycles does not apply to --policy {args.policy} (no cycles)")
    if args.policy in ("adam", "adam+clr") and args.optimizer not in (None, "adam"):
        raise UsageError(
            f"--policy {args.policy} trains with Adam; received --optimizer={args.optimizer}"
        )
    adam = args.policy in ("adam", "adam+clr") or args.policy in READINGS
    optimizer = "adam" if adam else (args.optimizer or "sgd")
    return TrainSpec(
        policy=args.policy,
        optimizer=optimizer,
        framework=args.framework,
        epochs=args.epochs,
        cycles=args.cycles or 3,
        loss=args.loss,
        progress=_common.progress(args),
        batch_size=args.batch_size,
        seed=args.seed,
        epochs_per_half_cycle=args.epochs_per_half_cycle,
        range_test=_range_test.range_test_settings(args),
        device=args.device,
        amp=args.amp,
        base_lr=args.base_lr,
        max_lr=args.max_lr,
        cycle_momentum=args.cycle_momentum,
        momentum={
            k: v
            for k, v in (("base_momentum", args.base_momentum), ("max_momentum", args.max_momentum))
            if v is not None
        },
        mode=args.mode,
        waveform=args.waveform,
        gamma=args.gamma,
    )


def _resumed_args(args):
    """The options the run in ``--resume RUN_DIR`` was started with, and its folders.

    Returns ``(args, cwd)``: the original options (``--out`` the run folder, absolute)
    and the folder the run was started in, where its relative paths point.
    """
    import json

    from cyclr.cli import build_parser

    run_dir = Path(args.resume)
    defaults = vars(build_parser(only="train").parse_args(["train"]))
    extra = [
        f"--{k.replace('_', '-')}"
        for k, v in vars(args).items()
        if k not in ("resume", "quiet", "command", "argv") and v != defaults.get(k)
    ]
    if extra:
        raise UsageError(
            f"--resume continues the run with the options it was started with; "
            f"{_common.do_not_apply(extra)} (received --resume={args.resume})"
        )
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        argv, cwd = list(config["argv"]), Path(config["cwd"])
    except (OSError, ValueError, KeyError, TypeError):
        raise UsageError(
            f"--resume {args.resume}: not a cyclr train run folder (no readable config.json)"
        ) from None
    if not cwd.is_dir():
        raise UsageError(f"--resume {args.resume}: the run was started in {cwd}, which is gone")
    resumed = build_parser(only="train").parse_args(argv)
    resumed.out = str(run_dir.resolve())
    resumed.overwrite = True
    resumed.quiet = resumed.quiet or args.quiet
    resumed.resume = resumed.out
    return resumed, cwd


def run(args) -> int:
    if args.resume is None:
        return _run(args)
    resumed, cwd = _resumed_args(args)
    here = Path.cwd()
    os.chdir(cwd)  # the run's relative paths (--data, --model) are the original folder's
    try:
        return _run(resumed)
    finally:
        os.chdir(here)


def _run(args) -> int:
    from cyclr.app.checkpoint import STATE_NAME, read_checkpoint
    from cyclr.app.train import train_run
    from cyclr.app.train_spec import check_spec, identity, run_shape

    spec = _spec(args)
    resume = None
    # A run stopped before its first epoch ended has no checkpoint: it starts again.
    restart = args.resume is not None and not (Path(args.resume) / STATE_NAME).exists()
    if args.resume is not None and not restart:
        try:
            resume = read_checkpoint(args.resume)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    def check(data, model):  # every option is checked before the run folder is made
        try:
            check_spec(spec, data)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    reuse = _RangeTest(args, spec, resumed=resume is not None, restart=restart)
    data, out, model, runner = _common.open_run(args, check, check_runner=reuse.check)
    spec = reuse.spec
    if restart:
        _common.say(args)(
            f"resuming from the start: the run was stopped before its first epoch ended "
            f"(no {STATE_NAME})"
        )
    if resume is not None:
        try:
            resume = read_checkpoint(args.resume, identity(spec, data, model))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    shape = run_shape(spec, data)
    config = _config(args, spec, data, model, runner, shape, reuse.ranged)
    config = _write_config(out, args, config, resume)
    try:
        summary = train_run(
            spec,
            data,
            model,
            out,
            config,
            say=_common.say(args),
            runner=runner,
            resume=resume,
            record=reuse.record,
            saved=reuse.saved,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    metric = runner.metric
    print(
        f"test {metric} {summary[f'test_{metric}']:.4f} after {summary['steps']} steps "
        f"({summary['seconds']:.1f} s)"
    )
    print(f"wrote {out}/report.html")
    return 0


class _RangeTest:
    """The run's range test: its settings on the data, its record, a saved one to reuse.

    :meth:`check` runs once the runner is built, before the run folder is made, so that
    a saved test (``--range-test``) that does not fit the run stops it first.
    """

    def __init__(self, args, spec, resumed: bool, restart: bool):
        from cyclr.app.train_spec import rates_from_range_test

        self.args, self.spec, self.resumed, self.restart = args, spec, resumed, restart
        self.ranged = rates_from_range_test(spec)
        self.record: dict | None = None
        self.saved: SavedRangeTest | None = None

    def check(self, data, model, runner) -> None:
        from cyclr.app.reuse import own_range_test, range_test_identity, saved_range_test
        from cyclr.app.train import SavedRangeTest

        if not self.ranged or self.resumed:  # a resumed run reads its range test back
            return
        args = self.args
        settings = _range_test.range_test_on(args, self.spec.range_test, data)
        self.spec = dataclasses.replace(self.spec, range_test=settings)
        loss = _common.loss_name(runner)
        self.record = range_test_identity(runner, data, model, self.spec.optimizer, loss, settings)
        if args.range_test is not None:
            try:
                result = saved_range_test(args.range_test, self.record)
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            self.saved = SavedRangeTest(result, args.range_test)
        elif self.restart:
            own = own_range_test(Path(args.resume), self.record)
            self.saved = None if own is None else SavedRangeTest(own)


def _config(args, spec, data, model, runner, shape, ranged: bool) -> dict:
    """What the run does, every default resolved (an option not given is not shown as None)."""
    from cyclr.app.monitor import range_test_record

    config = _common.options_config(args)
    config.update(
        command="train",
        data=data.name,
        model=model,
        optimizer=spec.optimizer,
        loss=_common.loss_name(runner),
        metric=runner.metric,
        epochs=shape.epochs,
        total_steps=shape.total_steps,
        steps_per_epoch=runner.steps_per_epoch,
        step_size=shape.step_size,
        epochs_per_half_cycle=shape.epochs_per_half_cycle,
        **(range_test_record(spec.range_test, data) if ranged else {}),
        **_common.device_record(runner),
        argv=getattr(args, "argv", sys.argv[1:]),
        cwd=str(Path.cwd()),
    )
    if args.epochs is None:
        config["cycles"] = spec.cycles
    elif shape.cycles is not None:
        config["cycles"] = shape.cycles
    if shape.fitted:  # the half cycle fitted to --epochs: whole cycles, ending at base_lr
        config["half_cycle_fitted_to_epochs"] = True
    if args.framework == "keras":
        config["keras_backend"] = _common.keras_backend()
    return config


def _write_config(out: Path, args, config: dict, resume: dict | None) -> dict:
    """Write ``config.json``; return the configuration the report shows.

    A resumed run keeps its original options on record (a second ``--resume`` reads
    them), with the epoch it was resumed after.
    """
    from cyclr.app.files import write_json

    if args.resume is not None:
        config = json.loads((out / "config.json").read_text(encoding="utf-8"))
        config["resumed_after_epoch"] = 0 if resume is None else resume["epoch"]
    write_json(out / "config.json", config)
    return config
