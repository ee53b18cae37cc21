"""``cyclr find``: the range test on a dataset and model; suggested bounds and step size.

Then the reading for every policy (``RangeTestResult.schedule``; docs/semantics.md,
*Readings per schedule*), printed and recorded in ``summary.json``'s ``policies``.
"""

from __future__ import annotations

from cyclr.cli import _common, _range_test
from cyclr.cli._types import positive_float
from cyclr.cli.errors import UsageError

NAME = "find"
HELP = "run a learning-rate range test on a dataset and model; the reading for every policy"


def add_arguments(p) -> None:
    _common.add_common(p, default_out="runs/find", trains=False)
    p.add_argument(
        "--epochs-per-half-cycle",
        type=positive_float,
        default=4.0,
        help="step size in epochs (Smith: 2-10; default 4)",
    )


def run(args) -> int:
    from cyclr.app.monitor import range_test_record
    from cyclr.app.reuse import range_test_identity
    from cyclr.app.workflow import find_bounds, half_cycle, save_summary

    optimizer = args.optimizer or "sgd"
    settings = _range_test.range_test_settings(args)
    data, out, model, runner = _common.open_run(args)
    settings = _range_test.range_test_on(args, settings, data)
    loss = _common.loss_name(runner)
    record = range_test_identity(runner, data, model, optimizer, loss, settings)
    try:
        bounds = find_bounds(
            runner, optimizer, settings, out, progress=_common.progress(args), record=record
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    step_size = half_cycle(data, args.batch_size, args.epochs_per_half_cycle)
    result = bounds.range_test
    assert result is not None, "find_bounds always runs a range test"
    print(result.summary())
    print(
        f"suggested: base_lr={bounds.base_lr:.3g} max_lr={bounds.max_lr:.3g} "
        f"step_size={step_size} ({args.epochs_per_half_cycle:g} epochs of "
        f"{runner.steps_per_epoch} steps)"
    )
    readings = _print_readings(result, optimizer, args.framework)
    save_summary(
        out / "summary.json",
        {
            "base_lr": bounds.base_lr,
            "max_lr": bounds.max_lr,
            "step_size": step_size,
            "steps_per_epoch": runner.steps_per_epoch,
            **{f"{k}_lr": v for k, v in bounds.single_rates.items()},
            "stop_reason": result.stop_reason,
            "framework": args.framework,
            **_common.device_record(runner),
            "model": model,
            "dataset": data.name,
            "optimizer": optimizer,
            "policies": readings,
            **range_test_record(settings, data),
        },
    )
    _write_snippet(args, out, optimizer, bounds, step_size)
    return 0


def _write_snippet(args, out, optimizer: str, bounds, step_size: int) -> None:
    """Write ``snippet.py`` (the lines that use this range test) and say what was written."""
    from cyclr.app.files import write_text
    from cyclr.app.snippets import snippet

    code = snippet(
        args.framework,
        optimizer,
        bounds.base_lr,
        bounds.max_lr,
        step_size,
        range_test=str(out / "range_test.json"),
    )
    write_text(out / "snippet.py", code)
    print(
        f"wrote {out}/range_test.json, range_test_run.json, range_test.png, summary.json, "
        "snippet.py"
    )
    also = "" if optimizer != "adam" else "; with --optimizer adam"
    if also and args.framework == "torch":
        also += ", or --policy cosine, wsd, linear or schedulefree"
    print(
        f"train with this range test: cyclr train --range-test {out} (with the same data, "
        f"model, batch size, seed and range-test options{also})"
    )
    if not args.quiet:
        print("\nIn your own training script:\n")
        print(code.rstrip())


def _print_readings(result, optimizer: str, framework: str) -> dict:
    """Print every policy's reading of ``result`` (:mod:`cyclr.app.readings`); return them."""
    from cyclr.app.readings import policy_readings, readings_lines

    readings = policy_readings(result, optimizer)
    torch = framework == "torch"  # AdamW and schedule-free AdamW train with PyTorch here
    print("\n".join(readings_lines(readings, optimizer, trains=torch)))
    if torch and optimizer != "adam":
        print(
            "  (cyclr train --policy cosine|wsd|linear|schedulefree reads a range test with "
            "Adam: run cyclr find --optimizer adam for theirs)"
        )
    return readings
