"""Training and range tests in Keras 3 for the app, through ``cyclr.keras`` as a user would.

The lr schedule runs in the graph (:class:`cyclr.keras.KerasSchedule`); momentum or
``beta_1`` cycles through cyclr's Keras optimizers. A small callback reads back, before
each batch, the lr and momentum the optimizer is about to apply, and the batch's own loss.
"""

from __future__ import annotations

import math

import keras
import numpy as np

import cyclr.keras as ck
from cyclr import steps_per_epoch
from cyclr.app.keras_models import build
from cyclr.app.policies import Plan
from cyclr.keras import backend

LOSS = "sparse_categorical_crossentropy"


class _Recorder(keras.callbacks.Callback):
    """Per batch: the lr and momentum applied, the batch's loss; per epoch: val and test."""

    def __init__(self, runner, on_step, on_epoch, progress):
        super().__init__()
        self.runner, self.on_step, self.on_epoch, self.progress = (
            runner,
            on_step,
            on_epoch,
            progress,
        )
        self.step = 0
        self._applied = None

    def on_train_batch_begin(self, batch, logs=None):
        backend.sync(self.model)  # JAX keeps variables in a state tuple during fit
        opt = self.model.optimizer
        self._applied = (backend.to_float(opt.learning_rate), backend.to_float(opt.momentum_at()))
        self.model.reset_metrics()  # logs['loss'] becomes this batch's loss, not the epoch mean

    def on_train_batch_end(self, batch, logs=None):
        assert self._applied is not None, "on_train_batch_begin runs first"
        lr, momentum = self._applied
        self.on_step(self.step, lr, momentum, backend.to_float(logs["loss"]))
        self.step += 1
        if self.progress is not None:
            self.progress.update(1)

    def on_epoch_end(self, epoch, logs=None):
        data = self.runner.data
        val = (
            self.runner.evaluate(data.x_val, data.y_val)
            if len(data.x_val)
            else (math.nan, math.nan)
        )
        test = self.runner.evaluate(data.x_test, data.y_test)
        if keras.backend.backend() == "torch":
            self.model.train()  # evaluate leaves torch modules in eval mode
        self.on_epoch(epoch + 1, self.step, *val, *test)


class KerasRunner:
    """Builds the model, runs range tests and trains for the ``cyclr`` commands."""

    framework = "keras"

    def __init__(self, data, model_name: str, batch_size: int, seed: int):
        self.data, self.model_name = data, model_name
        self.batch_size, self.seed = batch_size, seed
        self.model = self.new_model()

    def new_model(self):
        """A freshly initialised model; the same weights for the same seed."""
        keras.utils.set_random_seed(self.seed)
        self.model = build(self.model_name, self.data.input_shape, self.data.num_classes)
        return self.model

    @property
    def steps_per_epoch(self) -> int:
        return steps_per_epoch(len(self.data.x_train), self.batch_size)

    def optimizer(self, name: str, learning_rate, momentum):
        """cyclr's Keras SGD or Adam; ``momentum`` a float or a schedule with momentum."""
        if name == "sgd":
            return ck.SGD(learning_rate=learning_rate, momentum=momentum or 0.0)
        return ck.Adam(learning_rate=learning_rate, beta_1=0.9 if momentum is None else momentum)

    def range_test(
        self,
        optimizer: str,
        start_lr: float,
        end_lr: float,
        num_steps: int,
        progress: bool | None = None,
    ):
        """A range test on the current model; it leaves weights and optimizer as they were."""
        self.model.compile(
            optimizer=self.optimizer(optimizer, start_lr, 0.9 if optimizer == "sgd" else None),
            loss=LOSS,
        )
        keras.utils.set_random_seed(self.seed + 10_000)
        return ck.find_lr(
            self.model,
            self.data.x_train,
            self.data.y_train,
            batch_size=self.batch_size,
            start_lr=start_lr,
            end_lr=end_lr,
            num_steps=num_steps,
            verbose=1 if progress else 0,
        )

    def evaluate(self, x, y) -> tuple[float, float]:
        scores = self.model.evaluate(x, y, batch_size=1024, verbose=0, return_dict=True)
        return float(scores["loss"]), float(scores["accuracy"])

    def train(self, plan: Plan, epochs: int, on_step, on_epoch, progress=None) -> None:
        """Train ``epochs`` epochs with ``plan``; report every step and every epoch."""
        lr = ck.KerasSchedule(plan.schedule)
        momentum = lr if plan.schedule.has_momentum else plan.momentum
        self.model.compile(
            optimizer=self.optimizer(plan.optimizer, lr, momentum), loss=LOSS, metrics=["accuracy"]
        )
        keras.utils.set_random_seed(self.seed)
        self.model.fit(
            np.asarray(self.data.x_train),
            np.asarray(self.data.y_train),
            batch_size=self.batch_size,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            callbacks=[_Recorder(self, on_step, on_epoch, progress)],
        )
