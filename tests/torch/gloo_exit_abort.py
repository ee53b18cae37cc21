"""PyTorch's gloo teardown abort, without cyclr: ``torchrun --nproc_per_node=2 THIS MODE``.

Why the distributed test workers end with ``os._exit(0)`` (worker_exit.py), shown by
test_gloo_exit_abort.py. A gloo collective's work object holds its tensors, and one of
gloo's threads drops it some time after the collective completed (a barrier keeps the
works before it until it is dropped itself). Dropping a tensor that has a Python object
takes the GIL. If that thread is still waiting for the GIL when the main thread starts
finalizing the interpreter, CPython (3.11 to 3.13) ends it with ``pthread_exit``, whose
unwinding through the work's ``noexcept`` destructor calls ``std::terminate``: "terminate
called without an active exception", SIGABRT, after every result was written. gloo's
threads are still running at exit when the process group outlives
``destroy_process_group()`` (a DDP or FSDP module references it) or nobody destroys it
(Lightning does not, for gloo); when ``destroy_process_group()`` destroys the group, it
joins them first.

The core dumps of aborted test workers show that stack: ``ProcessGroupGloo::runLoop`` ->
``~AsyncBarrierWork`` -> ``~AsyncAllreduceWork`` -> ``TensorImpl::decref_pyobject`` ->
``gil_scoped_acquire`` -> ``take_gil`` -> ``PyThread_exit_thread`` -> ``std::terminate``,
the main thread in ``Py_FinalizeEx``, and so does a DDP training loop without cyclr (an
all-reduce of each step's loss, then a barrier, ``destroy_process_group()`` and a normal
exit: 2 aborts in 40 runs on 2 loaded CPUs). There gloo's thread is late by chance; here
it is late for sure: rank 0 starts an all-reduce of a Python tensor that rank 1 joins
after half a second, and exits holding the GIL until after then (an ``atexit`` call of
libc's ``sleep`` that keeps the GIL). MODE:

- ``kept``: rank 0 keeps a reference to the group, as a DDP module does: it aborts.
- ``dropped``: nothing else references the group, so ``destroy_process_group()`` destroys
  it and joins gloo's threads before the interpreter exits: a clean exit.

Upstream: https://github.com/pytorch/pytorch/issues/117762 (a PyTorch C++ thread taking
the GIL at interpreter shutdown crashes the process; open), for gloo's threads
https://github.com/pytorch/pytorch/pull/179291 (closed unmerged). Python 3.14 hangs such
a thread instead of ending it (https://github.com/python/cpython/pull/105805).
"""

import atexit
import ctypes
import os
import sys
import time

if os.environ.get("RANK") == "0":
    # Registered before anything else, so run last of the atexit calls: rank 0 sleeps 3 s
    # holding the GIL (libc's sleep through ctypes.PyDLL, which keeps it) and goes straight
    # on to finalize, so gloo's thread, done with the all-reduce at 0.5 s, gets no GIL
    # before finalization begins.
    atexit.register(ctypes.PyDLL(None).sleep, 3)

import torch
import torch.distributed as dist


def main(mode):
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    # rank 1 never keeps it: its gloo threads are joined, it exits cleanly either way
    kept = dist.group.WORLD if mode == "kept" and rank == 0 else None
    tensor = torch.tensor([1.5], dtype=torch.float64)
    if rank == 1:
        time.sleep(0.5)
        dist.all_reduce(tensor)
    else:
        dist.all_reduce(tensor, async_op=True)  # done when rank 1 joins
    del tensor
    dist.destroy_process_group()
    print(f"rank {rank} done", flush=True)
    return kept


if __name__ == "__main__":
    group = main(sys.argv[1])
