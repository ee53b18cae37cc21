"""Schedules every backend test evaluates: each mode, waveform, decay target, and composites."""
from cyclr import Constant, CyclicSchedule, Join, Linear, OneCycle

CASES = {
    "triangular": CyclicSchedule(0.1, 0.5, step_size=7, base_momentum=0.85, max_momentum=0.95),
    "triangular2-sine": CyclicSchedule(0.1, 0.5, step_size=7, mode="triangular2", waveform="sine"),
    "exp_range-parabolic": CyclicSchedule(0.1, 0.5, step_size_up=5, step_size_down=9,
                                          mode="exp_range", gamma=0.98, waveform="parabolic"),
    "bounds-decay": CyclicSchedule(0.1, 0.5, step_size=6, mode="triangular2",
                                   decay_target="bounds"),
    "onecycle-cos": OneCycle(0.5, total_steps=90),
    "onecycle-3phase-linear": OneCycle(0.5, total_steps=90, three_phase=True, anneal="linear"),
    "warmup-cycles-tail": Join([Linear(0.0, 0.1, 10), CyclicSchedule(0.1, 0.5, step_size=8),
                                Constant(0.01)], [10, 74]),
}
STEPS = 120
