"""cyclr.jax.range_test under jax.sharding: a batch sharded over two CPU devices reads the curve
one device reads.

JAX fixes its device count when it starts, so the two-device run is a child process with
``XLA_FLAGS=--xla_force_host_platform_device_count=2``; it runs the same test on one device
and on a mesh over both (the batch split along ``data``, the state replicated) and prints both.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("optax")

CHILD = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import cyclr
    from cyclr.jax import range_test

    assert jax.device_count() == 2, jax.devices()
    rng = np.random.default_rng(0)  # ten classes a linear map separates
    x = rng.standard_normal((1024, 64)).astype(np.float32)
    y = (x @ rng.standard_normal((64, 10))).argmax(-1)
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 1024, 64)]
    k1, k2 = jax.random.split(jax.random.key(0))
    params = {"w1": jax.random.normal(k1, (64, 32)) * 0.1, "b1": jnp.zeros(32),
              "w2": jax.random.normal(k2, (32, 10)) * 0.1, "b2": jnp.zeros(10)}
    tx = optax.trace(decay=0.9)  # SGD's momentum; the rate is the step's argument

    def loss_fn(p, batch):
        logits = jax.nn.relu(batch[0] @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch[1]).mean()

    def train_step(state, batch, lr):
        params, opt_state = state
        loss, grads = jax.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, jax.tree.map(lambda u: -lr * u, updates))
        return (params, opt_state), loss

    settings = cyclr.RangeTestSettings(1e-3, 10.0, 60)
    state = (params, tx.init(params))
    one = range_test(train_step, jax.device_put(state, jax.devices()[0]),
                     [jax.device_put(b, jax.devices()[0]) for b in batches], settings=settings)

    mesh = Mesh(np.array(jax.devices()), ("data",))
    split = [jax.device_put(b, NamedSharding(mesh, P("data"))) for b in batches]
    assert [s.data.shape for s in split[0][0].addressable_shards] == [(32, 64), (32, 64)]
    replicated = jax.device_put(state, NamedSharding(mesh, P()))
    two = range_test(train_step, replicated, split, settings=settings)
    print(json.dumps({name: {"losses": r.losses.tolist(), "stop": r.stop_reason}
                      for name, r in (("one", one), ("two", two))}))
    """
)


def test_a_batch_sharded_over_two_devices_gives_one_devices_curve():
    env = dict(
        os.environ,
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        JAX_PLATFORMS="cpu",
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    one, two = runs["one"], runs["two"]
    assert one["stop"] == two["stop"]
    assert len(one["losses"]) == len(two["losses"]) > 20
    # the same losses up to float32 summation order (two partial sums, then their sum), which
    # the climb to divergence amplifies; a mean over one device's half is off by percents
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=1e-4)
