"""Train each policy on the same data, model and budget; tabulate as Smith's Table 1."""
from __future__ import annotations

import math

import numpy as np

from cyclr.app.files import write_csv, write_json, write_text
from cyclr.app.policies import make_plan, needs_range_test
from cyclr.app.session import MetricsLog, make_runner
from cyclr.app.workflow import default_epochs, find_bounds, half_cycle, train_plan
from cyclr.plotting import pyplot, save_figure

CSV_COLUMNS = ("policy", "seed", "optimizer", "base_lr", "max_lr", "final_accuracy",
               "iterations_to_target", "seconds", "seconds_to_target", "steps")


def compare(args, data, model: str, policies, range_tests: dict, out) -> str:
    """Run every policy for every seed; write compare.csv/.md/.png; return the markdown table.

    ``range_tests`` maps an optimizer to its range test's ``(start_lr, end_lr, num_steps)``.
    """
    epochs = args.epochs or default_epochs(args.epochs_per_half_cycle)
    step_size = half_cycle(data, args.batch_size, args.epochs_per_half_cycle)
    runner = make_runner(args.framework, data, model, args.batch_size, args.seed)
    spe = runner.steps_per_epoch
    bounds = {}
    for optimizer in sorted({needs_range_test(p) for p in policies} - {None}):
        bounds[optimizer] = find_bounds(runner, optimizer, *range_tests[optimizer], out,
                                        stem=f"range_test_{optimizer}")
        b = bounds[optimizer]
        print(f"range test ({optimizer}): base_lr={b.base_lr:.3g} max_lr={b.max_lr:.3g} "
              f"minimum/10={b.fixed_lr:.3g}")
    runs = []
    for policy in policies:
        source = bounds.get(needs_range_test(policy))
        plan = make_plan(policy, total_steps=epochs * spe, step_size=step_size,
                         base_lr=source.base_lr if source else None,
                         max_lr=source.max_lr if source else None,
                         fixed_lr=source.fixed_lr if source else None,
                         cycle_momentum=False)
        for seed in range(args.seed, args.seed + args.seeds):
            runner = make_runner(args.framework, data, model, args.batch_size, seed)
            log = MetricsLog()
            summary = train_plan(runner, plan, epochs, log)
            runs.append({"policy": policy, "seed": seed, "plan": plan, "log": log,
                         "summary": summary})
            print(f"{policy:>12} seed {seed}: test accuracy {summary['test_accuracy']:.4f} "
                  f"({summary['seconds']:.1f} s)")
    target = args.target
    if target is None:
        target = float(np.mean([r["summary"]["test_accuracy"] for r in runs
                                if r["policy"] == "fixed"]))
    rows = []
    for r in runs:
        log, plan = r["log"], r["plan"]
        hit = log.first_epoch_reaching(target)
        reached = math.nan if hit is None else hit["step"]
        seconds_to = math.nan if hit is None else hit["seconds"]
        base_lr, max_lr = plan.lr_range
        rows.append({"policy": r["policy"], "seed": r["seed"], "optimizer": plan.optimizer,
                     "base_lr": base_lr, "max_lr": max_lr,
                     "final_accuracy": r["summary"]["test_accuracy"],
                     "iterations_to_target": reached, "seconds": r["summary"]["seconds"],
                     "seconds_to_target": seconds_to, "steps": r["summary"]["steps"]})
    write_csv(out / "compare.csv", CSV_COLUMNS,
              ({k: ("" if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
               for row in rows))
    lines = [f"Target: test accuracy {target:.4f}"
             + (" (the fixed policy's mean final accuracy)" if args.target is None else "")
             + f"; {epochs} epochs of {spe} steps; {args.seeds} seed(s); {data.name}, {model}, "
               f"{args.framework}", "",
             "| policy | optimizer | lr | iterations to target | final accuracy |",
             "|---|---|---|---:|---:|"]
    for policy in policies:
        mine = [row for row in rows if row["policy"] == policy]
        plan = next(r["plan"] for r in runs if r["policy"] == policy)
        lines.append(f"| {policy} | {plan.optimizer} | {plan.bounds} | "
                     f"{iterations_cell([row['iterations_to_target'] for row in mine])} | "
                     f"{mean_std([row['final_accuracy'] for row in mine])} |")
    table = "\n".join(lines)
    write_text(out / "compare.md", table + "\n")
    write_json(out / "compare_config.json", {k: v for k, v in vars(args).items()
                                             if k != "command"} | {"epochs": epochs,
                                                                   "step_size": step_size})
    _plot(runs, policies, target, out / "compare.png")
    return table


def mean_std(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.4f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.4f}"


def iterations_cell(values) -> str:
    """Mean iterations over the seeds that reached the target, and how many did."""
    reached = [v for v in values if not math.isnan(v)]
    if not reached:
        return "not reached"
    cell = f"{np.mean(reached):,.0f}"
    if len(reached) < len(values):
        cell += f" ({len(reached)}/{len(values)} seeds)"
    return cell


def _plot(runs, policies, target, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, policy in enumerate(policies):
        curves = [r["log"].epochs for r in runs if r["policy"] == policy]
        steps = [e["step"] for e in curves[0]]
        acc = np.mean([[e["test_accuracy"] for e in c] for c in curves], axis=0)
        ax.plot(steps, acc, "-o", ms=2.5, color=f"C{i % 10}", label=policy)
    ax.axhline(target, color="k", lw=0.8, ls="--", label=f"target {target:.3f}")
    ax.set_xlabel("iterations")
    ax.set_ylabel("test accuracy (mean over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    lo = min(min(e["test_accuracy"] for e in r["log"].epochs) for r in runs)
    ax.set_ylim(max(0.0, min(lo, target) - 0.02), 1.0)
    save_figure(fig, path)
