"""How the distributed test workers end (each imports it from tests/torch).

PyTorch's, not cyclr's: a rank may abort in C++ teardown after a clean run ("terminate
called without an active exception", SIGABRT) when its gloo process group is still alive
at interpreter exit (a DDP or FSDP module keeps it past ``destroy_process_group()``;
Lightning never destroys a gloo group) and one of gloo's threads, late on a loaded
machine, frees a collective's Python tensor while the interpreter finalizes: CPython ends
a thread that takes the GIL then, and the unwinding through the work's ``noexcept``
destructor terminates the process. Measured on 2 CPUs with two busy loops beside, 2 gloo
ranks under torchrun: a DDP range test aborted in 3 of 50 runs, a DDP training loop without
cyclr (an all-reduce of each step's loss) in 2 of 40, every core dump with the same stack.
gloo_exit_abort.py shows it without cyclr, every time (test_gloo_exit_abort.py runs it).

Upstream: https://github.com/pytorch/pytorch/issues/117762 (open); for gloo's threads,
https://github.com/pytorch/pytorch/pull/179291 (closed unmerged).
"""

import os
import sys


def leave() -> None:
    """Exit at once, skipping interpreter finalization, where gloo's threads may abort the
    process (see above) after every result was written and checked."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
