"""Lightning tests: skipped without lightning; lightning_setup.py importable."""

import os
import sys

import pytest

pytest.importorskip("lightning")
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared machine: one intra-op thread is 10x faster than contended two."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
