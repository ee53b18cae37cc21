"""The README's JAX example runs as written, and optax follows the schedule it builds."""

import pathlib
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("optax")
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "core"))

from test_readme import readme_blocks


def test_readme_jax_example_runs_and_optax_follows_the_schedule():
    blocks = readme_blocks("jax")
    assert len(blocks) == 1
    scope = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    s, tx = scope["s"], scope["tx"]
    params = {"w": jax.numpy.zeros(3)}
    state = tx.init(params)
    grads = {"w": jax.numpy.ones(3)}
    seen = []
    for _ in range(3):
        _, state = tx.update(grads, state, params)
        seen.append((state.hyperparams["learning_rate"], state.hyperparams["momentum"]))
    # update k used s(k) and s.momentum(k) (float32: to ~1e-7 of the value)
    np.testing.assert_allclose(
        np.array(seen, dtype=float), [(s(k), s.momentum(k)) for k in range(3)], rtol=1e-6
    )
