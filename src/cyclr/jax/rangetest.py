"""``cyclr.jax.range_test``: the learning-rate range test through the user's own JAX step.

The ladder, smoothing and stopping rules are the core's
(:class:`cyclr.rangetest.RangeTest`); this module trains one batch per rung
through the user's ``train_step``, jit-compiled once with the rate as a traced
argument, and hands the recorder the loss. JAX state is immutable, so putting
everything back means giving back what was given: the test trains a copy of the
state (donated from rung to rung, so it needs no more memory than a loop that
donates) and never touches the caller's arrays.
"""

from __future__ import annotations

import functools
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from cyclr._progress import progress_bar
from cyclr.jax.hyperparams import KeyPath, lr_path, with_lr
from cyclr.rangetest import RangeTest, RangeTestResult, RangeTestSettings
from cyclr.rangetest.settings import checked_settings, resolve_monitor

#: Rungs always dispatched ahead of the one whose loss is read (see ``_Rungs``) ...
AHEAD = 4
#: ... and up to this many for steps so short that as many of them take at most
#: ``AHEAD_SECONDS`` (without validation, whose passes would be dispatched ahead too): enough
#: work queued that JAX never runs dry while Python reads and records a loss, or waits its
#: turn on a busy CPU (bench/results/jax_range_test.md).
MAX_AHEAD = 16
AHEAD_SECONDS = 1e-3


class _Static:
    """A callable as a cache key (``_compiled_rung``): hashed and compared by identity.

    Any callable works (a dataclass instance that defines ``__eq__`` is unhashable), and the
    same step meets its compiled rung again.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __hash__(self) -> int:
        return id(self.fn)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Static) and other.fn is self.fn


def _rung(
    train_step: _Static, where: KeyPath | None, state: Any, batch: Any, lr: Any
) -> tuple[Any, jax.Array]:
    """One rung: ``train_step`` at ``lr``; the new state and the batch's loss (a scalar).

    ``where``: ``None`` passes the rate as an argument, a key path writes it into the state.
    """
    if where is None:
        out = train_step.fn(state, batch, lr)
    else:
        out = train_step.fn(with_lr(state, where, lr), batch)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        if isinstance(out, (tuple, list)):
            what = f"a {type(out).__name__} of length {len(out)}"
        elif hasattr(out, "shape"):
            what = f"an array of shape {tuple(out.shape)}"
        else:
            what = f"a {type(out).__name__}"
        raise TypeError(f"train_step must return (new_state, loss); received {what}")
    new_state, loss = out
    if jnp.size(loss) != 1:
        raise ValueError(
            "train_step must return (new_state, loss) with the batch's loss a scalar; "
            f"received a loss of shape {jnp.shape(loss)}"
        )
    return new_state, jnp.reshape(loss, ())


@functools.lru_cache(maxsize=32)
def _compiled_rung(train_step: _Static, where: KeyPath | None) -> Callable[..., Any]:
    """``_rung`` of ``train_step`` jitted: ``(state, batch, lr) -> (new_state, loss)``.

    One compilation per (train_step, where the rate goes, shapes): the jitted function is
    kept here (the last 32 steps), so a second range test with the same step compiles
    nothing. ``train_step`` and ``where`` are bound, not static arguments: a call hashes
    neither, a microsecond or two of every rung (bench/results/jax_range_test.md). The
    state is the test's own copy, donated from rung to rung; the caller's arrays are never
    an argument here.
    """
    return jax.jit(functools.partial(_rung, train_step, where), donate_argnums=(0,))


@jax.jit
def _copied(state: Any) -> Any:
    return jax.tree.map(jnp.copy, state)


def _copy(state: Any) -> Any:
    """The test's own copy of ``state`` (one dispatch); refuses arrays already deleted."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        if isinstance(leaf, jax.Array) and leaf.is_deleted():
            raise ValueError(
                f"state{jax.tree_util.keystr(path)} is a deleted array (donated to an "
                "earlier call with donate_argnums?); pass the state that call returned"
            )
    return _copied(state)


def _cycle(batches: Iterable[Any], name: str) -> Iterator[Any]:
    """The batches again and again; an iterator that runs out cannot be restarted."""
    one_pass = isinstance(batches, Iterator)
    passes = 0
    while True:
        count = 0
        for batch in batches:
            count += 1
            yield batch
        if count == 0 and passes == 0:
            raise ValueError(f"{name} yielded no batches; received {name}={batches!r}")
        if count == 0 or one_pass:
            raise ValueError(
                f"{name} ran out: an iterator cannot be restarted; pass a re-iterable "
                f"(a list, a tf.data.Dataset, a DataLoader) or more batches; received "
                f"{name}={batches!r}"
            )
        passes += 1


def batch_size(batch: Any) -> int:
    """The leading size of the first array in ``batch`` with a dimension, else 1.

    Validation weighs each batch by it, so the validation loss is the mean over
    examples when the last batch is smaller.

    >>> import numpy as np
    >>> batch_size((np.zeros((5, 3)), np.zeros(5))), batch_size({"x": 2.0})
    (5, 1)
    """
    for leaf in jax.tree_util.tree_leaves(batch):
        shape = np.shape(leaf)
        if shape:
            return int(shape[0])
    return 1


def _validate(val_step: Callable[..., Any], state: Any, val_batches: Iterable[Any]) -> jax.Array:
    """The loss over ``val_batches``, each weighted by its size (a mean over examples).

    Returned as a JAX array, not yet computed: reading it is the caller's (later) wait.
    """
    total: Any = 0.0
    count = 0
    for batch in val_batches:
        n = batch_size(batch)
        total = total + val_step(state, batch) * n
        count += n
    if count == 0:
        raise ValueError(f"val_batches yielded no batches; received val_batches={val_batches!r}")
    return jnp.asarray(total) / count


class _Rungs:
    """The rungs in order, each dispatched ``AHEAD`` to ``MAX_AHEAD`` rungs before it is read.

    Reading a loss waits for its rung; the rungs dispatched after it keep JAX busy
    meanwhile, so the test costs what the steps cost. A rung not yet done is waited for
    with the rungs after it but the newest ``most // 2`` (each rung's state feeds the next,
    so they are done too): one wake-up for several rungs, not one each, which a step of
    ~1 ms paid ~5% for (bench/results/jax_range_test.md). Short steps (up to ``MAX_AHEAD`` of
    them in ``AHEAD_SECONDS``, measured over every 16 rungs) are always dispatched that far
    ahead: a step shorter than Python's work on a rung (reading and recording its loss)
    would otherwise leave JAX idle between rungs. The ones dispatched past the rung the
    test stops at are thrown away (their batches read, their work wasted): at most
    ``AHEAD`` long steps, ``AHEAD_SECONDS`` of short ones.
    """

    def __init__(
        self,
        train_step: Callable[..., Any],
        where: KeyPath | None,
        state: Any,
        batches: Iterable[Any],
        recorder: RangeTest,
        validate: Callable[[Any], jax.Array] | None,
    ) -> None:
        self.step, self.state = _compiled_rung(_Static(train_step), where), state
        self.feed = _cycle(batches, "batches")
        self.recorder, self.validate = recorder, validate
        self.val_every = recorder.settings.val_every
        # (lr, loss, validation loss) of the rungs dispatched and not yet read, in order
        self.pending: deque[tuple[float, Any, jax.Array | None]] = deque()
        self.dispatched = self.served = 0
        self.ready = 0  # the pending rungs at the front known done: read without waiting
        self.ran_out: ValueError | None = None
        self.most = AHEAD
        self.adapts = validate is None
        self.mark = time.perf_counter()  # when the last 16 rungs began (``next``)

    def _dispatch(self) -> None:
        rung = self.dispatched
        try:
            batch = next(self.feed)
        except ValueError as error:  # out of batches: an error only if the test needs more
            self.ran_out = error
            return
        lr = self.recorder.lr(rung)
        self.state, loss = self.step(self.state, batch, lr)
        val_loss = None
        if self.validate is not None and rung % self.val_every == 0:
            val_loss = self.validate(self.state)
        self.pending.append((lr, loss, val_loss))
        self.dispatched += 1

    def next(self) -> tuple[float, jax.Array, jax.Array | None]:
        """The next rung to record: its lr, its loss and its validation loss (or ``None``)."""
        last, pending = self.recorder.settings.num_steps, self.pending
        while len(pending) <= self.most and self.ran_out is None and self.dispatched < last:
            self._dispatch()
        if not pending:
            raise self.ran_out or RuntimeError("the ladder is done")  # pragma: no cover
        if not self.ready:
            self.ready = 1
            if not pending[0][1].is_ready():  # wait once for several rungs, not each
                self.ready = max(1, len(pending) - self.most // 2)
                jax.block_until_ready(pending[self.ready - 1][1])  # and every rung before it
        self.ready -= 1
        self.served += 1
        if self.adapts and self.served % 16 == 0:  # seconds a rung: how far ahead to go
            now = time.perf_counter()  # over the last 16 rungs: the first compile is past
            rung, self.mark = (now - self.mark) / 16, now
            self.most = min(MAX_AHEAD, max(AHEAD, int(AHEAD_SECONDS / rung)))
        return pending.popleft()


def _check_arguments(
    train_step: Any, settings: Any, val_fn: Any, val_batches: Any
) -> RangeTestSettings:
    """``range_test``'s argument checks: its settings, ``monitor`` resolved."""
    if not callable(train_step):
        raise ValueError(f"train_step must be callable; received train_step={train_step!r}")
    if val_fn is not None and not callable(val_fn):
        raise ValueError(f"val_fn must be callable or None; received val_fn={val_fn!r}")
    if (val_fn is None) != (val_batches is None):
        raise ValueError(
            "validation needs both val_fn and val_batches; received "
            f"val_fn={val_fn!r} and val_batches={val_batches!r}"
        )
    if isinstance(val_batches, Iterator):
        raise ValueError(
            "val_batches is read once per measurement, so it must be re-iterable (a list, a "
            "tf.data.Dataset, a DataLoader), not an iterator; "
            f"received val_batches={val_batches!r}"
        )
    settings = checked_settings(settings)
    if settings.start_lr is None:
        raise ValueError(
            "settings.start_lr=None means the optimizer's own learning rate, which "
            "cyclr.jax.range_test does not read (it gives train_step each rung's rate); "
            "received settings.start_lr=None: give the first rung, e.g. "
            "RangeTestSettings(start_lr=1e-5)"
        )
    if settings.monitor == "val_accuracy":
        raise ValueError(
            "val_fn returns a loss, so the curve to read is 'loss' or 'val_loss'; "
            f"received settings.monitor={settings.monitor!r}"
        )
    if settings.monitor == "val_loss" and val_fn is None:
        raise ValueError(
            "settings.monitor='val_loss' reads the validation curve, which needs val_fn and "
            "val_batches; received val_fn=None"
        )
    return resolve_monitor(settings, val_fn is not None)


def range_test(
    train_step: Callable[..., Any],
    state: Any,
    batches: Iterable[Any],
    *,
    settings: RangeTestSettings | None = None,
    val_fn: Callable[[Any, Any], Any] | None = None,
    val_batches: Iterable[Any] | None = None,
    progress: bool | None = None,
    json_path: str | os.PathLike[str] | None = None,
) -> RangeTestResult:
    """Run the learning-rate range test (Smith 2017) through your own JAX training step.

    Rung ``i`` trains one batch at rate ``lr[i]`` of the ladder (``settings``)
    and records that batch's loss; the test stops at the end of the ladder, on a
    non-finite loss, or when the smoothed loss diverges (docs/semantics.md, "The
    learning-rate range test"). The rate reaches your step in one of two ways,
    chosen by its signature:

    - ``train_step(state, batch, lr) -> (new_state, loss)``: the rate is an
      argument (a traced float scalar: apply it to your updates, e.g.
      ``-lr * updates`` after ``optax.trace`` or ``optax.scale_by_adam()``).
    - ``train_step(state, batch) -> (new_state, loss)``: the state's optimizer was
      built with ``optax.inject_hyperparams`` and cyclr writes the rate into the
      ``hyperparams['learning_rate']`` it keeps, wherever in ``state`` that lies
      (a Flax ``TrainState``'s ``opt_state``, a ``(params, opt_state)`` tuple, an
      ``nnx.split`` state of an ``nnx.Optimizer``): the leaf whose key path ends in
      ``hyperparams['learning_rate']`` (``.value`` after it in an NNX state; see
      ``cyclr.jax.hyperparams.inject_lr_paths``). Exactly one must be found, given as
      a number, not a schedule. Your existing step works unchanged.

    ``train_step`` is jit-compiled once (a step you jitted yourself is inlined):
    the rate is traced, so climbing the ladder never recompiles, and a second
    test with the same step and shapes compiles nothing. The state you pass is
    yours, untouched: the test trains its own copy (donated from rung to rung, so
    a ``donate_argnums`` in your step never reaches your arrays), and your arrays
    and PRNG keys are bit for bit what they were afterwards, whether the test
    finished, diverged or raised (an exception or ``KeyboardInterrupt`` propagates).

    Under ``jax.sharding`` (a state and batches placed on a mesh), the loss is
    whatever your step computes: the global batch's mean for a batch sharded
    over the mesh, the same value on every process, so every process stops at
    the same rung and returns the same result; only process 0 shows progress
    and writes ``json_path``.

    Args:
      train_step: your training step, as above; the loss it returns is a scalar.
      state: its state, any pytree of arrays (with the optimizer's state in it).
      batches: any iterable of batches (pytrees); restarted when the test is
        longer (an iterator, which cannot be, must hold enough batches). The test
        trains 4 rungs ahead of the loss it reads (without validation, as many as take
        1 ms for shorter steps, up to 16), so it may read that many batches past the
        rung it stops at (their updates and validations are thrown away).

    Args: Ladder, smoothing, stop and reading: settings
      settings: the ladder, smoothing, stop, validation cadence (``val_every``) and
        the curve read (:class:`cyclr.RangeTestSettings`); default
        ``RangeTestSettings()``. ``monitor=None`` reads ``'val_loss'`` when ``val_fn``
        is given (the bounds are then read off the validation curve), else
        ``'loss'``; ``'val_accuracy'`` is refused (``val_fn`` returns a loss).
        ``start_lr=None`` (the optimizer's own rate) is refused: give the first rung.

    Args: Validation
      val_fn: ``val_fn(state, batch) -> loss``, a validation batch's mean loss,
        jit-compiled once; with ``val_batches``, the validation loss is measured
        on the state after the update of every ``settings.val_every``-th rung (from
        rung 0; NaN at the others), each batch weighted by its size (the leading
        dimension of its first array), so that it is the mean over examples.
      val_batches: a re-iterable of validation batches (read whole each time).

    Args: Output
      progress: a tqdm progress bar; ``None`` shows one when stderr is a terminal.
      json_path: write ``result.to_json()`` here.

    Returns:
      The :class:`~cyclr.RangeTestResult`; ``result.bounds()`` suggests a cyclical
      schedule's ``(base_lr, max_lr)``.

    Raises:
      ValueError: naming the parameter and the value received: a ``train_step``
        of another signature, no (or several) injected learning rates for a
        ``(state, batch)`` step, a scheduled one, a deleted array in ``state``,
        empty ``batches``, a non-scalar loss.
      TypeError: a ``train_step`` that does not return ``(new_state, loss)``.

    >>> import jax, jax.numpy as jnp, cyclr
    >>> x = jax.random.normal(jax.random.key(0), (64, 3)); y = x @ jnp.array([1.0, -2.0, 0.5])
    >>> def train_step(w, batch, lr):
    ...     loss, grad = jax.value_and_grad(lambda w: ((batch[0] @ w - batch[1]) ** 2).mean())(w)
    ...     return w - lr * grad, loss
    >>> w = jnp.zeros(3)
    >>> result = range_test(train_step, w, [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)],
    ...                     settings=cyclr.RangeTestSettings(1e-3, 10.0, num_steps=40))
    >>> result.stop_reason, bool((w == 0).all())
    ('diverged', True)
    """
    settings = _check_arguments(train_step, settings, val_fn, val_batches)
    where = lr_path(state, train_step)
    recorder = RangeTest(settings)
    validate = None
    if val_fn is not None and val_batches is not None:  # both or neither (checked)
        val_step = jax.jit(val_fn)
        validate = functools.partial(_validate, val_step, val_batches=val_batches)
    bar = progress_bar(progress, settings.num_steps, lambda: jax.process_index() == 0)
    try:
        rungs = _Rungs(train_step, where, _copy(state), batches, recorder, validate)
        while not recorder.done:
            lr, loss, val_loss = rungs.next()
            value = float(np.asarray(loss))  # waits for the rung; a few µs faster than float()
            recorder.record(value, val_loss=None if val_loss is None else np.asarray(val_loss))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(lr=f"{lr:.3g}", loss=f"{value:.4g}")
    finally:
        if bar is not None:
            bar.close()
    result = recorder.result()
    if json_path is not None and jax.process_index() == 0:
        result.to_json(json_path)
    return result


__all__ = ["AHEAD", "AHEAD_SECONDS", "MAX_AHEAD", "batch_size", "range_test"]
