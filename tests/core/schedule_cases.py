"""Schedules every backend test evaluates: each mode, waveform, decay target, composites,
and the warm-up schedules (each cool-down shape)."""

from cyclr import (
    Constant,
    CyclicSchedule,
    Linear,
    OneCycle,
    WarmupConstant,
    WarmupCosine,
    WarmupLinear,
    WarmupStableDecay,
)
from cyclr.compose import Join

CASES = {
    "triangular": CyclicSchedule(0.1, 0.5, step_size=7, base_momentum=0.85, max_momentum=0.95),
    "triangular2-sine": CyclicSchedule(0.1, 0.5, step_size=7, mode="triangular2", waveform="sine"),
    "exp_range-parabolic": CyclicSchedule(
        0.1,
        0.5,
        step_size_up=5,
        step_size_down=9,
        mode="exp_range",
        gamma=0.98,
        waveform="parabolic",
    ),
    "bounds-decay": CyclicSchedule(
        0.1, 0.5, step_size=6, mode="triangular2", decay_target="bounds"
    ),
    "onecycle-cos": OneCycle(0.5, total_steps=90),
    "onecycle-3phase-linear": OneCycle(0.5, total_steps=90, three_phase=True, anneal="linear"),
    "warmup-cycles-tail": Join(
        [Linear(0.0, 0.1, 10), CyclicSchedule(0.1, 0.5, step_size=8), Constant(0.01)], [10, 74]
    ),
    "warmup-cosine": WarmupCosine(0.5, 100, 10, init_lr=0.05, final_lr=0.01),
    "wsd-linear": WarmupStableDecay(0.5, 100, 10, 30, final_lr=0.01),
    "wsd-1-sqrt": WarmupStableDecay(0.5, 100, 10, 30, decay="1-sqrt", final_lr=0.01),
    "wsd-cosine-no-warmup": WarmupStableDecay(0.5, 90, 0, 40, decay="cosine"),
    "warmup-linear": WarmupLinear(0.5, 110, 7),
    "warmup-constant": WarmupConstant(0.5, 12, init_lr=0.1),
}
STEPS = 120

#: bckenstler's exp_range example evaluated far into the run, where a float32 gamma**step
#: would drift (0.99994 rounded to float32, raised to 42,000: 2.6e-4 relative).
LONG_EXP_RANGE = CyclicSchedule(0.001, 0.006, step_size=2000, mode="exp_range", gamma=0.99994)
LONG_STEPS = list(range(0, 60_000, 997))
