"""How fast a schedule evaluates: scalar calls per second and vectorised steps per second.

    python bench/schedule_speed.py [--quick]

Prints a markdown table and writes it to bench/results/schedule_speed.md.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import timeit

import numpy as np

import cyclr

SCHEDULES = {
    "triangular": cyclr.CyclicSchedule(1e-4, 1e-2, step_size=2000),
    "triangular2 + sine": cyclr.CyclicSchedule(1e-4, 1e-2, step_size=2000, mode="triangular2",
                                               waveform="sine"),
    "exp_range + momentum": cyclr.CyclicSchedule(1e-4, 1e-2, step_size=2000, mode="exp_range",
                                                 gamma=0.9999, base_momentum=0.85,
                                                 max_momentum=0.95),
    "one-cycle": cyclr.OneCycle(0.1, total_steps=100_000),
    "warm-up + cycles + tail": cyclr.join(
        [cyclr.Linear(0.0, 1e-4, 1000), cyclr.CyclicSchedule(1e-4, 1e-2, step_size=2000),
         cyclr.Linear(1e-4, 1e-6, 1000)], [1000, 25000]),
}


def best_rate(fn, items: int, repeat: int) -> float:
    """Items per second from the fastest of ``repeat`` timings (the least disturbed)."""
    seconds = min(timeit.repeat(fn, number=1, repeat=repeat))
    return items / seconds


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    args = parser.parse_args(argv)
    n_scalar, n_vector, repeat = (2_000, 100_000, 3) if args.quick else (20_000, 1_000_000, 7)
    steps = np.arange(n_vector)
    lines = ["| schedule | scalar calls/s (`s(i)`) | vectorised steps/s (`s(np.arange(n))`) |",
             "|---|---:|---:|"]
    for name, s in SCHEDULES.items():
        scalar = best_rate(lambda: [s(i) for i in range(n_scalar)], n_scalar, repeat)
        vector = best_rate(lambda: s(steps), n_vector, repeat)
        lines.append(f"| {name} | {scalar:,.0f} | {vector:,.0f} |")
    table = "\n".join(lines)
    header = (f"Schedule evaluation speed (Python {sys.version.split()[0]}, NumPy "
              f"{np.__version__}; best of {repeat}; {n_scalar:,} scalar calls, "
              f"{n_vector:,}-step arrays)\n\n")
    out = pathlib.Path(__file__).parent / "results" / "schedule_speed.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(header + table + "\n")
    print(header + table)
    return table


if __name__ == "__main__":
    main()
