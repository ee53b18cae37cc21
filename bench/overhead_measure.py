"""How bench/overhead.py times a training step: its model, data and interleaved rounds.

Shared by the PyTorch part (in bench/overhead.py) and the Keras parts
(bench/overhead_keras.py), each of which runs in its own child process.
"""

from __future__ import annotations

import gc
import math
import statistics
import timeit

N_FEATURES, HIDDEN, N_CLASSES, BATCH = 40, 64, 10, 32
BASE_LR, MAX_LR, CONSTANT_LR, STEP_SIZE = 1e-3, 1e-2, 1e-2, 250
MOMENTUM, BASE_MOMENTUM, MAX_MOMENTUM = 0.9, 0.85, 0.95


def interleaved(variants: dict, rounds: int, baseline: str) -> list[dict]:
    """Time ``variants`` in rotated rounds.

    ``variants`` maps a name to ``(one_round, alone)``: ``one_round()`` trains
    one round and returns its seconds per step; ``alone`` is for :func:`alone_us`.

    One untimed warm-up call each first. Returns one row per variant: the
    median seconds per step; the median and quartiles over rounds of the ratio
    to ``baseline`` measured in the same round; and the ratio of the fastest
    rounds (other work only ever adds time, so the minima are the least disturbed).
    """
    names = list(variants)
    for name in names:
        variants[name][0]()
    times = {name: [] for name in names}
    # A garbage collection inside one variant's window is noise, and collecting
    # before every window is slow with a framework loaded: freeze what exists and
    # leave the few reference cycles the rounds make to the end.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                times[name].append(variants[name][0]())
    finally:
        gc.enable()
        gc.unfreeze()
    rows = []
    best_base = min(times[baseline])
    for name in names:
        ratios = sorted(t / b for t, b in zip(times[name], times[baseline], strict=True))
        rows.append(
            {
                "variant": name,
                "us": 1e6 * statistics.median(times[name]),
                "ratio": statistics.median(ratios),
                "q1": quantile(ratios, 0.25),
                "q3": quantile(ratios, 0.75),
                "best": min(times[name]) / best_base,
            }
        )
    return rows


def alone_us(variant) -> float | None:
    """Microseconds per call of the variant's per-step work on its own (fastest of 7 runs).

    Other work only ever adds time, so this is the load-proof part of the overhead.
    """
    alone = variant[1]
    if alone is None:
        return None
    alone()
    number = 1000
    gc.disable()
    try:
        best = min(timeit.repeat(alone, number=number, repeat=7))
    finally:
        gc.enable()
    return 1e6 * best / number


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated quantile of an already sorted list."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (pos - lo) * (sorted_values[hi] - sorted_values[lo])


def random_data(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, N_FEATURES)).astype("float32")
    y = rng.integers(0, N_CLASSES, n).astype("int64")
    return x, y
