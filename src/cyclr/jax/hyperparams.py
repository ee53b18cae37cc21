"""Where a range test's rate goes in a JAX state: ``optax.inject_hyperparams``' learning rate.

A step ``train_step(state, batch, lr)`` takes the rate as its argument; a step
``train_step(state, batch)`` reads it from the optimizer state, which
``optax.inject_hyperparams`` keeps as ``hyperparams['learning_rate']``: this module
finds that leaf, wherever it lies in the user's state, and writes a rate into it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

#: The key path, read from the end, of the learning rate ``optax.inject_hyperparams`` keeps:
#: ``...hyperparams['learning_rate']`` (a Flax NNX state adds its variable's ``.value``).
_LR_KEYS = ("hyperparams", "learning_rate")

KeyPath = tuple[Any, ...]


def _key_name(key: Any) -> Any:
    """A key path entry's plain name: a dict key, an attribute name or a sequence index."""
    if isinstance(key, jax.tree_util.GetAttrKey):
        return key.name
    if isinstance(key, jax.tree_util.SequenceKey):
        return key.idx
    return getattr(key, "key", key)  # DictKey, FlattenedIndexKey


def _named_leaves(state: Any) -> list[tuple[KeyPath, tuple[Any, ...]]]:
    """Every leaf's key path, and the path's plain names."""
    leaves = jax.tree_util.tree_flatten_with_path(state)[0]
    return [(path, tuple(_key_name(key) for key in path)) for path, _ in leaves]


def _is_injected_lr(names: tuple[Any, ...]) -> bool:
    return names[-2:] == _LR_KEYS or names[-3:] == (*_LR_KEYS, "value")


def inject_lr_paths(state: Any) -> list[KeyPath]:
    """The key paths of the learning rates ``optax.inject_hyperparams`` keeps in ``state``.

    A leaf whose key path ends in ``hyperparams``, ``learning_rate`` (or
    ``hyperparams``, ``learning_rate``, ``value``: the variable a Flax NNX state
    holds it in), wherever it lies: in a Flax ``TrainState``'s ``opt_state``, a
    ``(params, opt_state)`` tuple, an ``nnx.split`` state of an ``nnx.Optimizer``,
    or inside a chain.

    Args:
      state: any pytree.

    Returns:
      The key paths found, in the pytree's order (``jax.tree_util.keystr`` prints them).

    >>> import jax.numpy as jnp, optax
    >>> tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    >>> params = {"w": jnp.zeros(3)}
    >>> [jax.tree_util.keystr(p) for p in inject_lr_paths((params, tx.init(params)))]
    ["[1].hyperparams['learning_rate']"]
    """
    return [path for path, names in _named_leaves(state) if _is_injected_lr(names)]


def _check_not_scheduled(named: list[tuple[KeyPath, tuple[Any, ...]]], path: KeyPath) -> None:
    """Refuse an injected learning rate that is a schedule: optax would overwrite ours."""
    names = next(names for where, names in named if where == path)
    prefix = names[: len(names) - (3 if names[-1] == "value" else 2)]
    scheduled = (*prefix, "hyperparams_states", "learning_rate")
    if any(other[: len(scheduled)] == scheduled for _, other in named):
        raise ValueError(
            "the optax.inject_hyperparams learning rate at "
            f"state{jax.tree_util.keystr(path)} is a schedule, which optax evaluates at "
            "every update over any value written into hyperparams: build the optimizer "
            "with a number as learning_rate for the range test (the schedule comes "
            "after, from its bounds), or pass a train_step(state, batch, lr)"
        )


def _takes_lr(train_step: Callable[..., Any]) -> bool | None:
    """Whether ``train_step`` takes the rate (``(state, batch, lr)``); None: unreadable."""
    try:
        signature = inspect.signature(train_step)
    except (TypeError, ValueError):  # a builtin, say: the state decides
        return None
    for args, takes in (((0, 0, 0), True), ((0, 0), False)):
        try:
            signature.bind(*args)
        except TypeError:
            continue
        return takes
    raise ValueError(
        "train_step must take (state, batch, lr) or, with an optax.inject_hyperparams "
        f"state, (state, batch); received train_step{signature}"
    )


def lr_path(state: Any, train_step: Callable[..., Any]) -> KeyPath | None:
    """Where a range test puts the rate for ``train_step``.

    Read from its signature: ``(state, batch, lr)`` takes it as an argument,
    ``(state, batch)`` reads it from the one learning rate ``inject_hyperparams``
    keeps in ``state`` (an unreadable signature: the state decides).

    Args:
      state: the step's state.
      train_step: the user's step.

    Returns:
      ``None`` for an argument, else the key path of the injected learning rate.

    Raises:
      ValueError: another signature; for ``(state, batch)``, none or several
        injected learning rates, or one given as a schedule (optax recomputes it
        at every update, over any value written into it).
    """
    takes = _takes_lr(train_step)
    if takes:
        return None
    named = _named_leaves(state)
    found = [path for path, names in named if _is_injected_lr(names)]
    if takes is None and not found:
        return None
    if len(found) != 1:
        where = ", ".join(f"state{jax.tree_util.keystr(p)}" for p in found)
        raise ValueError(
            "train_step takes (state, batch): cyclr then writes each rung's rate into "
            "the learning rate optax.inject_hyperparams keeps in the state "
            "(...hyperparams['learning_rate']) and needs exactly one; received a state with "
            + (f"{len(found)}: {where}" if found else "none")
            + "; pass a train_step(state, batch, lr) that puts the rate where it belongs"
        )
    _check_not_scheduled(named, found[0])
    return found[0]


def with_lr(state: Any, path: KeyPath, lr: Any) -> Any:
    """``state`` with the leaf at ``path`` replaced by ``lr`` (its dtype and shape); traceable.

    >>> import jax.numpy as jnp, optax
    >>> tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    >>> state = ({"w": jnp.zeros(3)}, tx.init({"w": jnp.zeros(3)}))
    >>> float(with_lr(state, inject_lr_paths(state)[0], 0.5)[1].hyperparams["learning_rate"])
    0.5
    """

    def put(where: KeyPath, leaf: Any) -> Any:
        if where != path:
            return leaf
        return jnp.asarray(lr, dtype=jnp.asarray(leaf).dtype).reshape(jnp.shape(leaf))

    return jax.tree_util.tree_map_with_path(put, state)


__all__ = ["KeyPath", "inject_lr_paths", "lr_path", "with_lr"]
