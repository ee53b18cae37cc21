"""``optax_schedule`` and ``optax_momentum``: the core's math on ``jax.numpy``."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from cyclr._base import Schedule
from cyclr.ops import Ops, TensorLike


def _asfloat(x: TensorLike) -> jax.Array:
    return jnp.asarray(x).astype(jnp.result_type(float))


JAX_OPS = Ops(
    name="jax",
    asfloat=_asfloat,
    floor=jnp.floor,
    cos=jnp.cos,
    exp=jnp.exp,
    where=jnp.where,
    clip=jnp.clip,
)


class _Evaluate:
    """A picklable ``count -> value`` for one schedule (no closures in saved state)."""

    def __init__(self, schedule: Schedule, method: str) -> None:
        if not isinstance(schedule, Schedule):
            raise ValueError(f"schedule must be a cyclr Schedule; received schedule={schedule!r}")
        self.schedule, self.method = schedule, method

    def __call__(self, count: TensorLike) -> jax.Array:
        value: jax.Array = getattr(self.schedule, self.method)(JAX_OPS.asfloat(count), JAX_OPS)
        return value

    def __repr__(self) -> str:
        return f"{self.method[:-3]}({self.schedule!r})"


def optax_schedule(schedule: Schedule) -> Callable[[TensorLike], jax.Array]:
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


def optax_momentum(schedule: Schedule) -> Callable[[TensorLike], jax.Array]:
    """A jit-able ``count -> momentum`` (or ``b1``) for ``optax.inject_hyperparams``.

    Args:
      schedule: a cyclr schedule with a momentum.

    Returns:
      A picklable callable taking an integer count (scalar or array, traced or
      not) and returning the momentum as a JAX array.

    Raises:
      ValueError: if ``schedule`` has no momentum, naming the value.
    """
    if not schedule.has_momentum:
        raise ValueError(f"schedule has no momentum to cycle; received schedule={schedule!r}")
    return _Evaluate(schedule, "momentum_at")
