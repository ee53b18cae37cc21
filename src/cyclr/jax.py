"""cyclr schedules for JAX and optax: a jit-able ``count -> lr``.

>>> import cyclr, jax
>>> fn = optax_schedule(cyclr.CyclicSchedule(1.0, 5.0, step_size=4))
>>> [float(v) for v in jax.jit(jax.vmap(fn))(jax.numpy.arange(6))]
[1.0, 2.0, 3.0, 4.0, 5.0, 4.0]

For cyclical momentum with optax, let ``optax.inject_hyperparams`` drive it
(``b1=optax_momentum(s)`` for ``optax.adam``)::

    tx = optax.inject_hyperparams(optax.sgd)(
        learning_rate=optax_schedule(s), momentum=optax_momentum(s))

optax calls a schedule with its update count, starting at 0, so update ``k``
uses ``s(k)`` as SPEC.md wants. Values are computed in JAX's default float
type: float32 unless ``jax_enable_x64`` is on, which is exact to ~1e-7 of the
peak rate, and counts stay exact up to 2**24 steps.
"""
from __future__ import annotations

import jax.numpy as jnp

from cyclr._base import Schedule
from cyclr._ops import Ops

JAX_OPS = Ops(name="jax", asfloat=lambda x: jnp.asarray(x).astype(jnp.result_type(float)),
              floor=jnp.floor, cos=jnp.cos, exp=jnp.exp, where=jnp.where, clip=jnp.clip)


class _Evaluate:
    """A picklable ``count -> value`` for one schedule (no closures in saved state)."""

    def __init__(self, schedule: Schedule, method: str):
        if not isinstance(schedule, Schedule):
            raise ValueError(f"schedule must be a cyclr Schedule; received schedule={schedule!r}")
        self.schedule, self.method = schedule, method

    def __call__(self, count):
        return getattr(self.schedule, self.method)(JAX_OPS.asfloat(count), JAX_OPS)

    def __repr__(self):
        return f"{self.method[:-3]}({self.schedule!r})"


def optax_schedule(schedule: Schedule):
    """A jit-able optax schedule (``count -> lr``) equal to ``schedule``.

    Args:
      schedule: any cyclr schedule.

    Returns:
      A picklable callable taking an integer count (scalar or array, traced or
      not) and returning the learning rate as a JAX array.

    Raises:
      ValueError: if ``schedule`` is not a cyclr schedule, naming the value.
    """
    return _Evaluate(schedule, "lr_at")


def optax_momentum(schedule: Schedule):
    """A jit-able ``count -> momentum`` (or ``b1``) for ``optax.inject_hyperparams``."""
    if not schedule.has_momentum:
        raise ValueError(f"schedule has no momentum to cycle; received schedule={schedule!r}")
    return _Evaluate(schedule, "momentum_at")
