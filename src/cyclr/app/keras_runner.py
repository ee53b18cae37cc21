"""Training and range tests in Keras 3 for the app, through ``cyclr.keras`` as a user would.

The lr schedule runs in the graph (:class:`cyclr.keras.KerasSchedule`); momentum or
``beta_1`` cycles through cyclr's Keras optimizers. A small callback reads back, before
each batch, the lr and momentum the optimizer is about to apply, and the batch's own loss.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np

import cyclr.keras as ck
from cyclr import steps_per_epoch
from cyclr._files import replace_atomically
from cyclr.app.keras_models import build
from cyclr.app.layout import (
    conversion_note,
    declared_layout,
    framework_layout,
    image_shape,
    in_layout,
)
from cyclr.app.monitor import ladder_start, range_test_validation
from cyclr.app.policies import Plan
from cyclr.app.usermodel import call_factory, first_line, mismatch, model_kind
from cyclr.keras import backend
from cyclr.rangetest import RangeTestResult, RangeTestSettings

LOSS = "sparse_categorical_crossentropy"


class _Recorder(keras.callbacks.Callback):
    """Per batch: the lr and momentum applied and the batch's own loss."""

    def __init__(self, on_step, progress):
        super().__init__()
        self.on_step, self.progress = on_step, progress
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


class KerasRunner:
    """Builds the model, runs range tests and trains for the ``cyclr`` commands.

    Args:
      data: a :class:`cyclr.app.data.Data`.
      model_name: a name of :func:`cyclr.app.keras_models.build`, a saved model
        ``FILE.keras`` (its weights are where training starts), or a factory
        ``FILE.py:NAME`` / ``module:NAME`` returning a Keras model. A user's model gets
        images channels-last with their channel axis, ``(H, W, C)`` (a factory is called
        with that ``input_shape``), or in the layout its input declares: the channel axis
        dropped or moved first, grayscale made RGB or the reverse (:mod:`cyclr.app.layout`;
        a conversion is said in :attr:`notes`).
      batch_size, seed: the batch size; the seed of the weights and the batch order.
      loss: ``'crossentropy'``, ``'mse'``, ``'mae'``; None: a saved model's own loss,
        else cross-entropy.

    Raises:
      ValueError: a model that cannot be loaded, is not a Keras model, or does not fit
        the data (input shape, output size), naming both.
    """

    framework = "keras"

    def __init__(self, data, model_name: str, batch_size: int, seed: int, loss=None):
        self.data, self.model_name = data, model_name
        self.batch_size, self.seed = batch_size, seed
        self.kind = model_kind(model_name)
        self.regression = loss in ("mse", "mae")
        self.metric = "mae" if self.regression else "accuracy"
        self.notes: list[str] = []
        # A user's model takes Keras's (H, W, C); the built-in models take (H, W) too.
        self.source = data
        self._images = None if self.kind == "builtin" else image_shape(data.input_shape)
        if self._images is not None:
            self.data = in_layout(data, framework_layout("keras", self._images[2]))
        self._factory_shape = tuple(self.data.input_shape)
        self.model = self.new_model()
        self._fit_layout()
        self._check_fit()
        self.loss = self._resolve_loss(loss)

    def new_model(self):
        """A freshly initialised model; the same weights for the same seed.

        A saved model is loaded again from its file (``safe_mode=True``): its weights
        are the start of every run.
        """
        keras.utils.set_random_seed(self.seed)
        if self.kind == "keras_file":
            self.model = self._load_saved()
        elif self.kind == "factory":
            model = call_factory(self.model_name, self._factory_shape, self.data.output_size)
            if not isinstance(model, keras.Model):
                raise ValueError(
                    f"model={self.model_name!r} returned a {type(model).__name__}, not a Keras "
                    "model (with framework='keras'; a torch.nn.Module needs framework='torch')"
                )
            self.model = model
        elif self.regression:
            raise ValueError(
                f"model={self.model_name!r} ends in a softmax over classes; a regression loss "
                "needs your own model (model='FILE.keras' or 'FILE.py:FUNCTION')"
            )
        else:
            self.model = build(self.model_name, self.data.input_shape, self.data.num_classes)
        return self.model

    def _load_saved(self):
        path = Path(self.model_name)
        if not path.is_file():
            raise ValueError(f"model={self.model_name!r}: no such file")
        try:
            return keras.models.load_model(path, safe_mode=True)
        except Exception as exc:
            raise ValueError(
                f"model={self.model_name!r}: not a loadable Keras model ({first_line(exc)})"
            ) from None

    def _declared(self) -> tuple | None:
        """The input shape the model declares (no batch axis), or None."""
        shape = getattr(self.model, "input_shape", None) if self.model.built else None
        if isinstance(shape, tuple) and shape and not isinstance(shape[0], tuple):
            return tuple(shape[1:])
        return None

    def _fit_layout(self) -> None:
        """Images in the layout the model's input declares; a change of pixels is said."""
        have = self._declared()
        if self._images is None or have is None:
            return
        layout = declared_layout(self._images, have)
        if layout is None or layout.shape(*self._images[:2]) == self.data.input_shape:
            return
        self.data = in_layout(self.source, layout)
        note = conversion_note(self._images[2], layout, f"the model takes inputs {have}")
        if note is not None:
            self.notes.append(note)

    def _check_fit(self) -> None:
        """The model's input shape and output size against the data's."""
        want = tuple(self.data.input_shape)
        have = self._declared()
        fits = have is None or (
            len(have) == len(want) and all(h in (None, w) for h, w in zip(have, want, strict=True))
        )
        if not fits:
            raise mismatch(self.model_name, self.data, f"it takes inputs {have}")
        try:
            out = self.model(np.asarray(self.data.x_train[:2]), training=False)
        except Exception as exc:
            raise mismatch(
                self.model_name,
                self.data,
                f"a batch {(2, *want)} fails ({first_line(exc)})",
            ) from None
        got = tuple(int(d) for d in keras.ops.shape(out))
        if got != (2, self.data.output_size):
            raise mismatch(
                self.model_name,
                self.data,
                f"a batch {(2, *want)} gives outputs {got}, expected {(2, self.data.output_size)}",
            )
        self._probe = backend.to_numpy(out)

    def _resolve_loss(self, loss):
        """The Keras loss to compile with, and a note on where it came from."""
        if loss == "mse":
            return "mean_squared_error"
        if loss == "mae":
            return "mean_absolute_error"
        own = getattr(self.model, "loss", None) if self.kind == "keras_file" else None
        if loss is None and own is not None:
            if own == "categorical_crossentropy":
                own = "sparse_categorical_crossentropy"  # the data has class indices
            self.notes.append(f"using the saved model's loss {_loss_name(own)}")
            return own
        if self.kind == "builtin":
            return LOSS
        probs = self._probe
        is_probability = bool(
            np.all(probs >= 0) and np.all(probs <= 1) and np.allclose(probs.sum(-1), 1, atol=1e-3)
        )
        chosen = keras.losses.SparseCategoricalCrossentropy(from_logits=not is_probability)
        what = "probabilities" if is_probability else "logits"
        how = "has no loss" if self.kind == "keras_file" else "is not compiled"
        self.notes.append(
            f"the model {how}: compiling it with sparse categorical cross-entropy "
            f"(its outputs are {what})"
        )
        return chosen

    #: The file :meth:`save_model` writes in a run folder.
    model_filename = "model.keras"

    def save_model(self, path) -> Path:
        """The trained model, compiled, as a ``.keras`` file, written atomically."""
        return replace_atomically(path, self.model.save)

    def _metrics(self) -> list[str]:
        return ["mae"] if self.regression else ["accuracy"]

    @property
    def steps_per_epoch(self) -> int:
        return steps_per_epoch(len(self.data.x_train), self.batch_size)

    def optimizer(self, name: str, learning_rate, momentum):
        """cyclr's Keras SGD or Adam; ``momentum`` a float or a schedule with momentum."""
        if name == "sgd":
            return ck.SGD(learning_rate=learning_rate, momentum=momentum or 0.0)
        return ck.Adam(learning_rate=learning_rate, beta_1=0.9 if momentum is None else momentum)

    def range_test(
        self, optimizer: str, settings: RangeTestSettings, progress: bool | None = None
    ) -> RangeTestResult:
        """A range test on the current model; it leaves weights and optimizer as they were.

        ``settings`` has its monitor chosen (:func:`cyclr.app.monitor.range_test_monitor`);
        with ``'val_loss'`` the validation batch of
        :func:`cyclr.app.monitor.range_test_validation` is evaluated every
        ``settings.val_every`` rungs, and the result reads it.
        """
        start_lr = ladder_start(settings)
        self.model.compile(
            optimizer=self.optimizer(optimizer, start_lr, 0.9 if optimizer == "sgd" else None),
            loss=self.loss,
        )
        validation = None
        if settings.monitor == "val_loss":
            x_val, y_val = range_test_validation(self.data)
            validation = (np.asarray(x_val), np.asarray(y_val))
        keras.utils.set_random_seed(self.seed + 10_000)
        return ck.find_lr(
            self.model,
            self.data.x_train,
            self.data.y_train,
            settings=settings,
            batch_size=self.batch_size,
            validation_data=validation,
            validation_batch_size=None if validation is None else len(validation[0]),  # 1 batch
            verbose=1 if progress else 0,
        )

    def evaluate(self, x, y) -> tuple[float, float]:
        """Mean loss and :attr:`metric` (accuracy, or mean absolute error) over ``(x, y)``."""
        scores = self.model.evaluate(x, y, batch_size=1024, verbose=0, return_dict=True)
        return float(scores["loss"]), float(scores[self.metric])

    #: The suffix of the file :meth:`save_state` writes.
    state_suffix = ".npz"

    def save_state(self, path) -> Path:
        """Model weights and optimizer variables (its step too) as an ``.npz``, atomically.

        Plain arrays only: :meth:`load_state` reads them with ``allow_pickle=False``.
        """
        backend.sync(self.model)
        arrays = {f"weight_{i}": w for i, w in enumerate(self.model.get_weights())}
        for i, v in enumerate(self.model.optimizer.variables):
            arrays[f"optimizer_{i}"] = backend.to_numpy(v)

        def write(tmp: str) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        return replace_atomically(path, write)

    def load_state(self, path) -> None:
        """Restore what :meth:`save_state` wrote (after :meth:`train` compiled the model).

        Raises:
          ValueError: the file does not hold this model's and optimizer's variables.
        """
        opt = self.model.optimizer
        try:
            with np.load(path, allow_pickle=False) as archive:
                weights = [archive[f"weight_{i}"] for i in range(len(self.model.weights))]
                self.model.set_weights(weights)
                opt.build(self.model.trainable_variables)
                names = [f"optimizer_{i}" for i in range(len(opt.variables))]
                if set(names) | {f"weight_{i}" for i in range(len(weights))} != set(archive.files):
                    raise ValueError(
                        f"{len(archive.files)} arrays for {len(weights) + len(names)} variables"
                    )
                for variable, name in zip(opt.variables, names, strict=True):
                    variable.assign(archive[name])
        except Exception as exc:
            raise ValueError(
                f"{path}: not a checkpoint of this run's model and optimizer ({first_line(exc)})"
            ) from None

    def _epoch_order(self, epoch: int, steps: int) -> np.ndarray:
        """The samples of ``epoch`` shuffled by ``(seed, epoch)``, cut to ``steps`` batches.

        The order depends on nothing else, so a resumed run shuffles as an uninterrupted one.
        """
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.data.x_train))
        return order[: steps * self.batch_size]

    def train(
        self,
        plan: Plan,
        epochs: int,
        on_step,
        on_epoch,
        progress=None,
        max_steps=None,
        resume=None,
        checkpoint=None,
        test_each_epoch: bool = True,
    ) -> None:
        """Train ``epochs`` epochs with ``plan``; report every step and every epoch.

        Each epoch is one ``fit`` on the training data shuffled by ``(seed, epoch)``;
        Keras's RNG is seeded the same way, so an epoch does the same whether the run
        was resumed or not. ``max_steps`` ends the run after that many updates, the last
        epoch cut short. ``resume``: ``(state_file, epoch, step)`` of a checkpoint to
        continue from; ``checkpoint(epoch, step)`` is called after every epoch.
        ``test_each_epoch=False`` leaves the test set alone (NaN in ``on_epoch``), for a
        caller that scores it once, after training.
        """
        lr = ck.KerasSchedule(plan.schedule)
        momentum = lr if plan.schedule.has_momentum else plan.momentum
        self.model.compile(
            optimizer=self.optimizer(plan.optimizer, lr, momentum),
            loss=self.loss,
            metrics=self._metrics(),
        )
        recorder = _Recorder(on_step, progress)
        first = 0
        if resume is not None:
            path, first, recorder.step = resume
            self.load_state(path)
        x, y = np.asarray(self.data.x_train), np.asarray(self.data.y_train)
        spe = self.steps_per_epoch
        limit = epochs * spe if max_steps is None else max_steps
        data = self.data
        for epoch in range(first, epochs):
            steps = min(spe, limit - recorder.step)
            if steps <= 0:
                break
            keras.utils.set_random_seed(self.seed + epoch)
            order = self._epoch_order(epoch, steps)
            self.model.fit(
                x[order],
                y[order],
                batch_size=self.batch_size,
                epochs=1,
                shuffle=False,
                verbose=0,
                callbacks=[recorder],
            )
            val = self.evaluate(data.x_val, data.y_val) if len(data.x_val) else (math.nan,) * 2
            test = self.evaluate(data.x_test, data.y_test) if test_each_epoch else (math.nan,) * 2
            if keras.backend.backend() == "torch":
                self.model.train()  # evaluate leaves torch modules in eval mode
            on_epoch(epoch + 1, recorder.step, *val, *test)
            if checkpoint is not None:
                checkpoint(epoch + 1, recorder.step)


def _loss_name(loss) -> str:
    if isinstance(loss, str):
        return loss
    return getattr(loss, "name", None) or type(loss).__name__
