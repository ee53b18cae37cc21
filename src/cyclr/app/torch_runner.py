"""Training and range tests in PyTorch for the app, through ``cyclr.torch`` as a user would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from cyclr import steps_per_epoch
from cyclr._files import replace_atomically
from cyclr.app.layout import (
    Layout,
    conversion_note,
    converts,
    framework_layout,
    image_shape,
    in_layout,
)
from cyclr.app.monitor import ladder_start, range_test_validation
from cyclr.app.policies import Plan
from cyclr.app.torch_models import build
from cyclr.app.torch_setup import (
    AMP_DTYPES,
    check_amp,
    make_optimizer,
    ordered_loader,
    resolve_device,
)
from cyclr.app.usermodel import call_factory, first_line, mismatch, model_kind
from cyclr.rangetest import RangeTestResult, RangeTestSettings
from cyclr.torch import CyclicLR, range_test


class TorchRunner:
    """Builds the model, runs range tests and trains for the ``cyclr`` commands.

    Args:
      data: a :class:`cyclr.app.data.Data`.
      model_name: a name of :func:`cyclr.app.torch_models.build`, or a factory
        ``FILE.py:NAME`` / ``module:NAME`` returning a ``torch.nn.Module`` of logits
        (see :mod:`cyclr.app.usermodel`). A factory gets images channels-first,
        ``input_shape=(C, H, W)``, and grayscale becomes RGB (or the reverse) when the
        model's first ``Conv2d`` takes the other (:mod:`cyclr.app.layout`; said in
        :attr:`notes`).
      batch_size, seed: the batch size; the seed of the weights and the batch order.
      device: where the model and the data live (``'cpu'``, ``'cuda'``, ``'cuda:1'``,
        ...); None: CUDA when PyTorch sees a GPU, else the CPU
        (:func:`cyclr.app.torch_setup.resolve_device`).
      loss: ``'crossentropy'`` (default), ``'mse'`` or ``'mae'`` (regression).
      amp: mixed precision for training: ``'bf16'`` (autocast to bfloat16, CPU or
        CUDA), ``'fp16'`` (autocast to float16 with a gradient scaler, CUDA only) or
        None (float32). The weights and the optimizer's state stay float32, so every
        optimizer allows it; range tests and evaluation run in float32.

    Raises:
      ValueError: a model that is not a ``torch.nn.Module`` or does not fit the data
        (input shape, output size), naming both; a device this machine does not have; an
        ``amp`` this device cannot run.
    """

    framework = "torch"

    def __init__(
        self,
        data,
        model_name: str,
        batch_size: int,
        seed: int,
        device=None,
        loss=None,
        amp: str | None = None,
    ):
        self.data, self.model_name = data, model_name
        self.batch_size, self.seed = batch_size, seed
        self.device = resolve_device(device)
        self.amp = check_amp(amp, self.device)
        self.loss = loss or "crossentropy"
        self.regression = self.loss in ("mse", "mae")
        self.metric = "mae" if self.regression else "accuracy"
        self.criterion: nn.Module = {"mse": nn.MSELoss(), "mae": nn.L1Loss()}.get(
            self.loss, nn.CrossEntropyLoss()
        )
        self.notes: list[str] = []
        self._train_set: torch.utils.data.TensorDataset | None = None
        # A factory's images are PyTorch's (C, H, W); the built-in models take channels-last.
        self.source = data
        self._images = (
            image_shape(data.input_shape) if model_kind(model_name) == "factory" else None
        )
        if self._images is not None:
            self.data = in_layout(data, framework_layout("torch", self._images[2]))
        self._factory_shape = tuple(self.data.input_shape)
        self.model = self.new_model()
        self._fit_channels()
        self._check_fit()

    def new_model(self) -> nn.Module:
        """A freshly initialised model; the same weights for the same seed (on any device)."""
        torch.manual_seed(self.seed)
        if model_kind(self.model_name) == "keras_file":
            raise ValueError(
                f"model={self.model_name!r} is a Keras model; run it with framework='keras'"
            )
        if model_kind(self.model_name) == "factory":
            model = call_factory(self.model_name, self._factory_shape, self.data.output_size)
            if not isinstance(model, nn.Module):
                raise ValueError(
                    f"model={self.model_name!r} returned a {type(model).__name__}, not a "
                    "torch.nn.Module (with framework='torch')"
                )
        else:
            model = build(self.model_name, self.data.input_shape, self.data.output_size)
        self.model = model.to(self.device)
        return self.model

    def _fit_channels(self) -> None:
        """Images converted to the channels the model's first ``Conv2d`` takes, and said."""
        if self._images is None:
            return
        own = self._images[2]
        first = next((m for m in self.model.modules() if isinstance(m, nn.Conv2d)), None)
        if first is None or not converts(own, first.in_channels):
            return
        layout = Layout("chw", first.in_channels)
        self.data = in_layout(self.source, layout)
        note = conversion_note(own, layout, f"the model's first Conv2d takes {first.in_channels}")
        self.notes.append(str(note))

    def _check_fit(self) -> None:
        """A forward pass on two samples: the model takes the inputs and has the outputs."""
        x, _ = self._tensors(self.data.x_train[:2], self.data.y_train[:2])
        try:
            with torch.no_grad():
                out = self.model(x)
        except Exception as exc:
            raise mismatch(
                self.model_name, self.data, f"a batch {tuple(x.shape)} fails ({first_line(exc)})"
            ) from None
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (len(x), self.data.output_size):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise mismatch(
                self.model_name,
                self.data,
                f"a batch {tuple(x.shape)} gives outputs {shape}, "
                f"expected {(len(x), self.data.output_size)}",
            )

    #: The file :meth:`save_model` writes in a run folder.
    model_filename = "model.pt"

    def save_model(self, path) -> Path:
        """The model's ``state_dict`` (``torch.save``), written atomically.

        Load it with ``model.load_state_dict(torch.load(path, weights_only=True))``.
        """
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        return replace_atomically(path, lambda tmp: torch.save(state, tmp))

    def _loss(self, outputs, target):
        if self.regression:
            return self.criterion(outputs.reshape(target.shape), target)
        return self.criterion(outputs, target)

    def _tensors(self, x, y):
        return (
            torch.from_numpy(np.ascontiguousarray(x)).to(self.device),
            torch.from_numpy(y).to(self.device),
        )

    def train_loader(self, seed_offset: int = 0) -> torch.utils.data.DataLoader:
        """Shuffled batches of the training data, in an order fixed by the seed.

        As :func:`cyclr.app.torch_setup.ordered_loader` draws them; the data is moved to
        the device once.
        """
        if self._train_set is None:
            self._train_set = torch.utils.data.TensorDataset(
                *self._tensors(self.data.x_train, self.data.y_train)
            )
        return ordered_loader(self._train_set, self.batch_size, self.seed + seed_offset)

    @property
    def steps_per_epoch(self) -> int:
        return steps_per_epoch(len(self.data.x_train), self.batch_size)  # len() of its loader

    def optimizer(
        self, name: str, lr: float, momentum, weight_decay: float = 0.0, warmup_steps: int = 0
    ) -> torch.optim.Optimizer:
        """:func:`cyclr.app.torch_setup.make_optimizer` over the model's parameters."""
        return make_optimizer(
            name, self.model.parameters(), lr, momentum, weight_decay, warmup_steps
        )

    def range_test(
        self, optimizer: str, settings: RangeTestSettings, progress: bool | None = None
    ) -> RangeTestResult:
        """A range test on the current model; it leaves the model as it found it.

        ``settings`` has its monitor chosen (:func:`cyclr.app.monitor.range_test_monitor`);
        with ``'val_loss'`` the validation batch of
        :func:`cyclr.app.monitor.range_test_validation` is measured every
        ``settings.val_every`` rungs, and the result reads it.
        """
        opt = self.optimizer(optimizer, ladder_start(settings), 0.9 if optimizer == "sgd" else None)
        # one batch, on the device already: a list of one (inputs, targets) pair
        val_loader = (
            [self._tensors(*range_test_validation(self.data))]
            if settings.monitor == "val_loss"
            else None
        )
        return range_test(
            self.model,
            opt,
            self._loss,
            self.train_loader(seed_offset=10_000),
            settings=settings,
            val_loader=val_loader,
            progress=progress,
        )

    @torch.no_grad()
    def evaluate(self, x, y) -> tuple[float, float]:
        """Mean loss and :attr:`metric` (accuracy, or mean absolute error) over ``(x, y)``."""
        self.model.eval()
        xs, ys = self._tensors(x, y)
        total, score = 0.0, 0.0
        for start in range(0, len(xs), 1024):
            outputs = self.model(xs[start : start + 1024])
            target = ys[start : start + 1024]
            total += float(self._loss(outputs, target)) * len(target)
            if self.regression:
                score += float((outputs.reshape(target.shape) - target).abs().sum())
            else:
                score += int((outputs.argmax(1) == target).sum())
        self.model.train()
        return total / len(xs), score / len(xs)

    #: The suffix of the file :meth:`save_state` writes.
    state_suffix = ".pt"

    def save_state(self, path) -> Path:
        """What a resumed run needs, written atomically.

        The model, optimizer, scheduler, random generators (the CUDA device's too) and,
        under ``amp='fp16'``, the gradient scaler. Plain tensors and numbers only, so
        that :meth:`load_state` reads it with ``torch.load(..., weights_only=True)``.
        """
        opt, scheduler, generator, scaler = self._training
        state = {
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": opt.state_dict(),
            "scheduler": scheduler.state_dict(),
            "loader_generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        if self.device.type == "cuda":  # dropout on the GPU draws from the device's generator
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        if scaler is not None:  # fp16: the loss scale it has found, not its initial one
            state["grad_scaler"] = scaler.state_dict()
        return replace_atomically(path, lambda tmp: torch.save(state, tmp))

    def load_state(self, path) -> None:
        """Restore what :meth:`save_state` wrote into the model and the training objects.

        Raises:
          ValueError: the file does not hold such a state (naming the file).
        """
        opt, scheduler, generator, scaler = self._training
        try:
            state = torch.load(path, weights_only=True, map_location=self.device)
            self.model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            generator.set_state(state["loader_generator"].cpu())
            torch.set_rng_state(state["torch_rng"].cpu())
            # A run resumed on another device or precision goes on without these.
            if self.device.type == "cuda" and "cuda_rng" in state:
                torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.device)
            if scaler is not None and "grad_scaler" in state:
                scaler.load_state_dict(state["grad_scaler"])
        except Exception as exc:
            raise ValueError(
                f"{path}: not a checkpoint of this run's model and optimizer ({first_line(exc)})"
            ) from None

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

        ``on_step(step, lr, momentum, loss)`` gets the lr and momentum the
        optimizer used for that update, read back from its parameter group.
        ``on_epoch(epoch, step, val_loss, val_metric, test_loss, test_metric)`` follows
        each epoch; ``test_each_epoch=False`` leaves the test set alone (NaN there), for a
        caller that scores it once, after training.
        ``max_steps`` ends the run after that many updates, the last epoch cut short.
        ``resume``: ``(state_file, epoch, step)`` of a checkpoint to continue from;
        ``checkpoint(epoch, step)`` is called after every epoch (it may call
        :meth:`save_state`).
        """
        opt = self.optimizer(
            plan.optimizer,
            plan.schedule(0),
            plan.momentum,
            weight_decay=plan.weight_decay,
            warmup_steps=plan.warmup_steps,
        )
        # Schedule-free optimizers evaluate at their averaged weights: .train() before
        # updates, .eval() before evaluation (and before the run's model is kept).
        modal = callable(getattr(opt, "train", None)) and callable(getattr(opt, "eval", None))
        scaler = torch.amp.GradScaler("cuda") if self.amp == "fp16" else None
        loader = self.train_loader()
        self._training = (opt, CyclicLR(opt, plan.schedule), loader.generator, scaler)
        self.model.train()
        step, first = 0, 0
        if resume is not None:
            path, first, step = resume
            self.load_state(path)
        limit = epochs * self.steps_per_epoch if max_steps is None else max_steps
        if modal:
            opt.train()  # type: ignore[attr-defined]
        for epoch in range(first, epochs):
            if step >= limit:
                break
            for x, y in loader:
                if step >= limit:
                    break
                on_step(step, *self._update(x, y))
                step += 1
                if progress is not None:
                    progress.update(1)
            if modal:
                opt.eval()  # type: ignore[attr-defined]
            on_epoch(epoch + 1, step, *self._scores(test_each_epoch))
            if checkpoint is not None:
                checkpoint(epoch + 1, step)
            if modal and epoch + 1 < epochs and step < limit:
                opt.train()  # type: ignore[attr-defined]

    def _update(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float]:
        """One update of :meth:`train` on ``(x, y)``: the lr and momentum it used, its loss."""
        opt, scheduler, _, scaler = self._training
        group = opt.param_groups[0]
        lr = group["lr"]
        momentum = group["momentum"] if "momentum" in group else group["betas"][0]
        opt.zero_grad(set_to_none=True)
        dtype = None if self.amp is None else AMP_DTYPES[self.amp]
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            loss = self._loss(self.model(x), y)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        scheduler.step()
        return lr, momentum, loss.item()

    def _scores(self, test: bool) -> tuple[float, float, float, float]:
        """Validation loss and metric, then the test set's (NaN unless ``test``)."""
        nan = (float("nan"), float("nan"))
        val = self.evaluate(self.data.x_val, self.data.y_val) if len(self.data.x_val) else nan
        tested = self.evaluate(self.data.x_test, self.data.y_test) if test else nan
        return (*val, *tested)
