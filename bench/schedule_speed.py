"""How fast a schedule evaluates: scalar calls per second and vectorised steps per second.

From the repository root:

    .venv/bin/python -m bench.schedule_speed                          # ~1 min
    .venv/bin/python -m bench.schedule_speed --quick --out /tmp/s.md  # a few seconds

Prints a markdown table and writes it under the provenance header (bench/common.py)
to bench/results/schedule_speed.md (a ``--quick`` run: only to ``--out``).
"""

from __future__ import annotations

import argparse
import sys
import timeit

import numpy as np

import cyclr
from bench import common

TITLE = "Schedule evaluation speed"
SCHEDULES = {
    "triangular": cyclr.CyclicSchedule(1e-4, 1e-2, step_size=2000),
    "triangular2 + sine": cyclr.CyclicSchedule(
        1e-4, 1e-2, step_size=2000, mode="triangular2", waveform="sine"
    ),
    "exp_range + momentum": cyclr.CyclicSchedule(
        1e-4,
        1e-2,
        step_size=2000,
        mode="exp_range",
        gamma=0.9999,
        base_momentum=0.85,
        max_momentum=0.95,
    ),
    "one-cycle": cyclr.OneCycle(0.1, total_steps=100_000),
    "warm-up + cycles + tail": cyclr.join(
        [
            cyclr.Linear(0.0, 1e-4, 1000),
            cyclr.CyclicSchedule(1e-4, 1e-2, step_size=2000),
            cyclr.Linear(1e-4, 1e-6, 1000),
        ],
        [1000, 25000],
    ),
}


def best_rate(fn, items: int, repeat: int) -> float:
    """Items per second from the fastest of ``repeat`` timings (the least disturbed)."""
    seconds = min(timeit.repeat(fn, number=1, repeat=repeat))
    return items / seconds


def rates(schedule, n_scalar: int, steps: np.ndarray, repeat: int) -> tuple[float, float]:
    """``(scalar calls/s, vectorised steps/s)`` of one schedule."""
    scalar = best_rate(lambda: [schedule(i) for i in range(n_scalar)], n_scalar, repeat)
    vector = best_rate(lambda: schedule(steps), steps.size, repeat)
    return scalar, vector


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats, for a smoke run; writes only to --out"
    )
    parser.add_argument("--out", help="markdown file (default bench/results/schedule_speed.md)")
    args = parser.parse_args(argv)
    out = common.output_path("schedule_speed", quick=args.quick, out=args.out)
    started = common.start()
    n_scalar, n_vector, repeat = (2_000, 100_000, 3) if args.quick else (20_000, 1_000_000, 7)
    steps = np.arange(n_vector)
    rows = []
    for name, schedule in SCHEDULES.items():
        scalar, vector = rates(schedule, n_scalar, steps, repeat)
        rows.append((name, f"{scalar:,.0f}", f"{vector:,.0f}"))
    table = common.markdown_table(
        ("schedule", "scalar calls/s (`s(i)`)", "vectorised steps/s (`s(np.arange(n))`)"),
        rows,
        ("---", "---:", "---:"),
    )
    note = (
        f"Best of {repeat}; {n_scalar:,} scalar calls, {n_vector:,}-step arrays; one "
        "process, NumPy's default threads."
    )
    body = table + "\n\n" + note
    print(body)
    if out is not None:
        header = common.provenance(
            started, common.command("schedule_speed", argv), seeds="none (deterministic timings)"
        )
        common.log(f"wrote {common.write_result(out, TITLE, header, body)}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded("schedule_speed", main))
