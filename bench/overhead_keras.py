"""The Keras parts of bench/overhead.py: ``model.fit`` with and without cyclr's schedules.

Imported only in a child process whose ``KERAS_BACKEND`` the parent set before
anything was imported, so ``keras`` is imported here at the top, on that backend.
"""

from __future__ import annotations

import math
import time

import keras

import cyclr.keras
from bench.overhead_measure import (
    BASE_LR,
    BASE_MOMENTUM,
    BATCH,
    CONSTANT_LR,
    HIDDEN,
    MAX_LR,
    MAX_MOMENTUM,
    MOMENTUM,
    N_CLASSES,
    N_FEATURES,
    STEP_SIZE,
    alone_us,
    interleaved,
    random_data,
)


class FormulaCLR(keras.callbacks.Callback):
    """bckenstler-style: a Python counter and formula, assigned before every batch."""

    def __init__(self, base_lr, max_lr, step_size):
        super().__init__()
        self.base_lr, self.max_lr, self.step_size = base_lr, max_lr, step_size
        self.iterations = 0

    def on_train_batch_begin(self, batch, logs=None):
        cycle = math.floor(1 + self.iterations / (2 * self.step_size))
        x = abs(self.iterations / self.step_size - 2 * cycle + 1)
        lr = self.base_lr + (self.max_lr - self.base_lr) * max(0.0, 1.0 - x)
        self.model.optimizer.learning_rate = lr
        self.iterations += 1


class EpochTimer(keras.callbacks.Callback):
    """Seconds from the epoch's start to its end: fit's set-up is left out.

    Epoch hooks only, so Keras' batch-level dispatch is as without it.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def set_up_backend(backend: str) -> dict:
    """One compute thread on ``backend``; the versions that matter there."""
    versions = {"keras": keras.__version__}
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        versions["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax

        versions["jax"] = jax.__version__
    elif backend == "torch":
        import torch

        torch.set_num_threads(1)
        versions["torch"] = torch.__version__
    return versions


def build(backend, x, y, steps, learning_rate, callback=None, optimizer=keras.optimizers.SGD):
    """One variant: ``(one_round, alone)`` as :func:`interleaved` and :func:`alone_us` take."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((N_FEATURES,)),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(N_CLASSES),
        ]
    )
    lr = learning_rate()
    opt = optimizer(learning_rate=lr, momentum=MOMENTUM)
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    timer = EpochTimer()
    cb = callback() if callback else None
    callbacks = [timer] + ([cb] if cb else [])

    def one_round() -> float:
        model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
        return timer.seconds / steps

    alone = None
    if cb is not None:  # the hooks as fit calls them, with the logs already floats

        def alone():
            cb.on_train_batch_begin(0)
            cb.on_train_batch_end(0, {"loss": 1.0})
    elif backend == "torch" and not isinstance(lr, float):
        # the torch backend runs the step eagerly: the schedule's ops run every step
        if getattr(opt, "momentum_schedule", None) is not None:

            def alone():
                lr(opt.iterations)
                lr.momentum(opt.iterations)
        else:

            def alone():
                lr(opt.iterations)

    return one_round, alone


def in_graph():
    return cyclr.keras.CyclicalLearningRate(BASE_LR, MAX_LR, STEP_SIZE)


def in_graph_momentum():
    return cyclr.keras.CyclicalLearningRate(
        BASE_LR, MAX_LR, STEP_SIZE, base_momentum=BASE_MOMENTUM, max_momentum=MAX_MOMENTUM
    )


def momentum_sgd(learning_rate, momentum):
    del momentum  # the schedule's momentum replaces the constant one
    return cyclr.keras.SGD(learning_rate=learning_rate, momentum=learning_rate)


def alone_note(backend: str, row: dict) -> str:
    """What the "µs alone" column timed for this variant."""
    if "callback" in row["variant"]:
        return "batch hooks" + (" (+ fit's state sync)" if backend == "jax" else "")
    if row["variant"].startswith("`Cyclical"):
        if row["alone"] is None:
            return "inside the traced step"
        return "eager `schedule(iterations)`" + (
            " + `.momentum()`" if "momentum" in row["variant"] else ""
        )
    return ""


def run_keras(backend: str, steps: int, rounds: int) -> dict:
    """Every Keras variant on ``backend``, interleaved: the rows of the table, and versions."""
    versions = set_up_backend(backend)
    x, y = random_data(steps * BATCH)
    y = y.astype("int32")

    def variant(*args, **kwargs):
        return build(backend, x, y, steps, *args, **kwargs)

    variants = {
        "constant lr (float)": variant(lambda: CONSTANT_LR),
        "`CyclicalLearningRate` (in graph)": variant(in_graph),
        "`CyclicalLearningRate` + momentum (`cyclr.keras.SGD`)": variant(
            in_graph_momentum, optimizer=momentum_sgd
        ),
        "`cyclr.keras.CyclicLR` callback": variant(
            lambda: CONSTANT_LR, lambda: cyclr.keras.CyclicLR(BASE_LR, MAX_LR, STEP_SIZE)
        ),
        "bckenstler-style callback (in this bench)": variant(
            lambda: CONSTANT_LR, lambda: FormulaCLR(BASE_LR, MAX_LR, STEP_SIZE)
        ),
    }
    rows = interleaved(variants, rounds, "constant lr (float)")
    for row in rows:
        row["framework"] = f"Keras {backend}"
        row["alone"] = alone_us(variants[row["variant"]])
        row["alone_note"] = alone_note(backend, row)
        row["goal"] = row["variant"].startswith("`CyclicalLearningRate` (in graph)")
    return {"rows": rows, "versions": versions}
