"""cyclr for JAX and optax: any cyclr schedule as a jit-able ``count -> lr``, and the range test.

>>> import cyclr, jax
>>> fn = optax_schedule(cyclr.CyclicSchedule(1.0, 5.0, step_size=4))
>>> [float(v) for v in jax.jit(jax.vmap(fn))(jax.numpy.arange(6))]
[1.0, 2.0, 3.0, 4.0, 5.0, 4.0]

For cyclical momentum with optax, let ``optax.inject_hyperparams`` drive it
(``b1=optax_momentum(s)`` for ``optax.adam``)::

    tx = optax.inject_hyperparams(optax.sgd)(
        learning_rate=optax_schedule(s), momentum=optax_momentum(s))

optax calls a schedule with its update count, starting at 0, so update ``k``
uses ``s(k)`` (docs/semantics.md, "Time"). Values are computed in JAX's default float
type: float32 unless ``jax_enable_x64`` is on, which is exact to ~1e-7 of the
peak rate, and counts stay exact up to 2**24 steps.

``range_test(train_step, state, batches)`` runs the learning-rate range test
through your own step, ``train_step(state, batch, lr)`` or, with an
``optax.inject_hyperparams`` optimizer in the state, ``train_step(state, batch)``,
and leaves ``state`` as it was.
"""

from cyclr._extras import require

require("cyclr.jax", "jax")  # one clear line, not a traceback from deep inside

from cyclr.jax.rangetest import range_test
from cyclr.jax.schedules import JAX_OPS, optax_momentum, optax_schedule

__all__ = ["JAX_OPS", "optax_momentum", "optax_schedule", "range_test"]
