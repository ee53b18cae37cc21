"""Training and range tests in PyTorch for the app, through ``cyclr.torch`` as a user would."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cyclr import steps_per_epoch
from cyclr.app.policies import Plan
from cyclr.app.torch_models import build
from cyclr.torch import CyclicLR, range_test


class TorchRunner:
    """Builds the model, runs range tests and trains for the ``cyclr`` commands.

    Args:
      data: a :class:`cyclr.app.data.Data`.
      model_name: see :func:`cyclr.app.torch_models.build`.
      batch_size, seed: the batch size; the seed of the weights and the batch order.
      device: where the model and the data live (``'cpu'``, ``'cuda'``; default CPU).
    """

    framework = "torch"

    def __init__(self, data, model_name: str, batch_size: int, seed: int, device=None):
        self.data, self.model_name = data, model_name
        self.batch_size, self.seed = batch_size, seed
        self.device = torch.device("cpu" if device is None else device)
        self.criterion = nn.CrossEntropyLoss()
        self._train_set: torch.utils.data.TensorDataset | None = None
        self.model = self.new_model()

    def new_model(self) -> nn.Module:
        """A freshly initialised model; the same weights for the same seed (on any device)."""
        torch.manual_seed(self.seed)
        model = build(self.model_name, self.data.input_shape, self.data.num_classes)
        self.model = model.to(self.device)
        return self.model

    def _tensors(self, x, y):
        return (
            torch.from_numpy(np.ascontiguousarray(x)).to(self.device),
            torch.from_numpy(y).to(self.device),
        )

    def train_loader(self, seed_offset: int = 0):
        """Shuffled batches of the training data, in an order fixed by the seed.

        The order is that of ``DataLoader(TensorDataset(x, y), batch_size,
        shuffle=True, generator=...)``; each batch is taken from the tensors in
        one indexing operation rather than stacked sample by sample (several
        times faster for small models), and the data is moved to the device once.
        """
        if self._train_set is None:
            self._train_set = torch.utils.data.TensorDataset(
                *self._tensors(self.data.x_train, self.data.y_train)
            )
        generator = torch.Generator().manual_seed(self.seed + seed_offset)
        # The loader and the sampler share the generator and draw from it in the same
        # order as shuffle=True does, so the batches are the same.
        batches = torch.utils.data.BatchSampler(
            torch.utils.data.RandomSampler(self._train_set, generator=generator),
            self.batch_size,
            drop_last=False,
        )
        return torch.utils.data.DataLoader(
            self._train_set, sampler=batches, batch_size=None, generator=generator
        )

    @property
    def steps_per_epoch(self) -> int:
        return steps_per_epoch(len(self.data.x_train), self.batch_size)  # len() of its loader

    def optimizer(self, name: str, lr: float, momentum) -> torch.optim.Optimizer:
        if name == "sgd":
            return torch.optim.SGD(self.model.parameters(), lr=lr, momentum=momentum or 0.0)
        betas = (0.9 if momentum is None else momentum, 0.999)
        return torch.optim.Adam(self.model.parameters(), lr=lr, betas=betas)

    def range_test(
        self,
        optimizer: str,
        start_lr: float,
        end_lr: float,
        num_steps: int,
        progress: bool | None = None,
    ):
        """A range test on the current model; it leaves the model as it found it."""
        opt = self.optimizer(optimizer, start_lr, 0.9 if optimizer == "sgd" else None)
        return range_test(
            self.model,
            opt,
            self.criterion,
            self.train_loader(seed_offset=10_000),
            start_lr=start_lr,
            end_lr=end_lr,
            num_steps=num_steps,
            progress=progress,
        )

    @torch.no_grad()
    def evaluate(self, x, y) -> tuple[float, float]:
        """Mean loss and accuracy over ``(x, y)``."""
        self.model.eval()
        xs, ys = self._tensors(x, y)
        total, correct = 0.0, 0
        for start in range(0, len(xs), 1024):
            logits = self.model(xs[start : start + 1024])
            target = ys[start : start + 1024]
            total += float(self.criterion(logits, target)) * len(target)
            correct += int((logits.argmax(1) == target).sum())
        self.model.train()
        return total / len(xs), correct / len(xs)

    def train(self, plan: Plan, epochs: int, on_step, on_epoch, progress=None) -> None:
        """Train ``epochs`` epochs with ``plan``; report every step and every epoch.

        ``on_step(step, lr, momentum, loss)`` gets the lr and momentum the
        optimizer used for that update, read back from its parameter group.
        """
        opt = self.optimizer(plan.optimizer, plan.schedule(0), plan.momentum)
        scheduler = CyclicLR(opt, plan.schedule)
        loader = self.train_loader()
        self.model.train()
        step = 0
        for epoch in range(epochs):
            for x, y in loader:
                group = opt.param_groups[0]
                lr = group["lr"]
                momentum = group["momentum"] if "momentum" in group else group["betas"][0]
                opt.zero_grad(set_to_none=True)
                loss = self.criterion(self.model(x), y)
                loss.backward()
                opt.step()
                scheduler.step()
                on_step(step, lr, momentum, loss.item())
                step += 1
                if progress is not None:
                    progress.update(1)
            val = (
                self.evaluate(self.data.x_val, self.data.y_val)
                if len(self.data.x_val)
                else (float("nan"), float("nan"))
            )
            test = self.evaluate(self.data.x_test, self.data.y_test)
            on_epoch(epoch + 1, step, *val, *test)
