"""BatchNorm and the validation reading: running averages against recalibrated ones.

The judging study's second round (``bench.suggest_bounds --judging``) found the default
reading, the range test's validation loss, 10-12 points short on the shapes ResNet. The
cause: the validation passes ran in eval mode, where BatchNorm normalizes with its
running averages, and during a range test those lag the weights (PyTorch's momentum 0.1:
about ten updates), most of all at the high rates where the bounds are read; the
validation loss then climbed early and the reading landed low. ``cyclr.torch.range_test``
now recalibrates the averages of every BatchNorm layer that trains in batch-statistics
mode on the validation batches before each validation pass (and puts them back).

For each BatchNorm task of ``bench.judging`` (the shapes ResNet, the digits ResNet; SGD
and Adam) and seed, two range tests from the same weights and batches, as the study runs
them (``cyclr.torch.range_test`` at its defaults, one validation batch every 2 rungs): one
as shipped, one with the recalibration switched off (the running averages, as before).
The table gives each reading's bounds (median over seeds) next to the training-loss
reading and the best grid pair of the study.

    .venv/bin/python -m bench.bn_validation                 # 4 tasks x 3 seeds, ~4 min
    .venv/bin/python -m bench.bn_validation --quick --out /tmp/bn.md   # digits SGD, one seed
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time

import torch

import cyclr.torch._validation as torch_validation
from bench import common
from bench.judging import JUDGING, Judging
from bench.suggest_bounds import judging_range_test

TASKS = ("shapes ResNet", "digits ResNet")


@contextlib.contextmanager
def running_averages():
    """Validation passes with BatchNorm's running averages, as before the recalibration."""
    shipped = torch_validation._recalibrated
    torch_validation._recalibrated = lambda module: False
    try:
        yield
    finally:
        torch_validation._recalibrated = shipped


def readings(job: Judging, seed: int) -> dict[str, tuple[float, float]]:
    """The bounds of one seed: validation with running averages, recalibrated, training loss."""
    data = job.data()
    with running_averages():
        before = judging_range_test(job, job.build(seed, data), data, seed)
    shipped = judging_range_test(job, job.build(seed, data), data, seed)
    return {
        "val_loss, running averages (before)": tuple(before.bounds()),
        "val_loss, recalibrated averages (shipped)": tuple(shipped.bounds()),
        "training loss": tuple(shipped.bounds(monitor="loss")),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument(
        "--quick", action="store_true", help="the digits ResNet with SGD, one seed; only to --out"
    )
    p.add_argument("--out", help="markdown file (default bench/results/bn_validation.md)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        raise common.BenchError(f"--seeds must be at least 1; received --seeds={args.seeds}")
    out = common.output_path("bn_validation", quick=args.quick, out=args.out)
    torch.set_num_threads(1)
    started, t0 = common.start(), time.time()
    jobs = [job for job in JUDGING if job.name in TASKS]
    seeds = range(1 if args.quick else args.seeds)
    if args.quick:
        jobs = [job for job in jobs if job.name == "digits ResNet"][:1]  # the cheaper images
    rows = []
    for job in jobs:
        found: dict[str, list[tuple[float, float]]] = {}
        for seed in seeds:
            for name, pair in readings(job, seed).items():
                found.setdefault(name, []).append(pair)
            common.log(f"{job.label} seed {seed}: done")
        for name, pairs in found.items():
            base = statistics.median(p[0] for p in pairs)
            high = statistics.median(p[1] for p in pairs)
            each = "; ".join(f"{p[1]:.2g}" for p in pairs)
            rows.append(
                (job.name, job.role, job.optimizer_name, name, f"{base:.2g} .. {high:.2g}", each)
            )
    table = common.markdown_table(
        ("task", "set", "optimizer", "reading", "bounds (median over seeds)", "max_lr by seed"),
        rows,
    )
    note = (
        "The best grid pairs of the judging study (bench/results/suggest_bounds_judging.md, "
        "10 seeds): shapes ResNet SGD 0.01 .. 0.1, Adam 0.001 .. 0.01; digits ResNet SGD "
        f"0.003 .. 0.03, Adam 0.0003 .. 0.003. {time.time() - t0:.0f} s."
    )
    body = f"{table}\n\n{note}"
    print(body)
    if out is not None:
        header = common.provenance(
            started,
            common.command("bn_validation", argv),
            seeds=seeds,
            packages=("torch", "sklearn"),
            threads=1,
        )
        path = common.write_result(out, "BatchNorm and the validation reading", header, body)
        common.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded("bn_validation", main))
