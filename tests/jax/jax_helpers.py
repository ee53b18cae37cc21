"""What the JAX range-test tests share: bit-for-bit snapshots of a state, the Flax tests' data,
and the cyclical run that checks a reading trains."""

import numpy as np

import cyclr

BATCH = 64
EPOCHS = 4


def snapshot(tree):
    """Every leaf as a NumPy array (a PRNG key as its key data): what 'bit for bit' compares."""
    import jax

    def one(leaf):
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        return np.array(leaf)

    return jax.tree.map(one, tree)


def assert_same(tree, saved):
    """``tree``'s arrays are alive (not donated away) and bit for bit ``saved``."""
    import jax

    leaves = jax.tree.leaves(tree)
    assert not any(leaf.is_deleted() for leaf in leaves if isinstance(leaf, jax.Array))
    for now, before in zip(jax.tree.leaves(snapshot(tree)), jax.tree.leaves(saved), strict=True):
        assert now.dtype == before.dtype and np.array_equal(now, before)


def digit_batches():
    """The bundled digits, flattened: ``(batches of BATCH, (x_test, y_test))``."""
    from cyclr.app.datasets import load_digits

    x, y, xt, yt = load_digits()
    x, xt = x.reshape(len(x), -1), xt.reshape(len(xt), -1)
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x) - BATCH + 1, BATCH)]
    return batches, (xt, yt)


def cross_entropy(logits, labels):
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def cyclic(bounds, batches):
    """The cyclical schedule of the bounds: two epochs up, two down (EPOCHS is one cycle)."""
    base_lr, max_lr = bounds
    return cyclr.CyclicSchedule(base_lr, max_lr, step_size=2 * len(batches))


def assert_learns(losses, accuracy):
    """The last batches' mean loss is under a third of the first batch's; digits are read."""
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < 0.3 * losses[0]
    assert accuracy > 0.85
