"""``cyclr.torch.range_test``: the learning-rate range test on a PyTorch model.

The ladder, smoothing and stopping rules are the core's
(:class:`cyclr.rangetest.RangeTest`); this module trains one batch per rung and
hands it the loss, then puts everything back as it was.
"""
from __future__ import annotations

import contextlib
import copy
import os
import random
import sys
import tempfile
from typing import Callable, Optional

import numpy as np
import torch

from cyclr._base import check_count
from cyclr.rangetest import RangeTest, RangeTestResult
from cyclr.torch import distributed
from cyclr.torch.scheduler import _set_value


def default_batch(batch):
    """``(inputs, targets)`` from a batch that is a pair, as a ``TensorDataset`` loader gives."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    kind = type(batch).__name__
    raise ValueError(f"a batch must be an (inputs, targets) pair; received a {kind}"
                     f"{' with keys ' + repr(sorted(batch)) if isinstance(batch, dict) else ''}"
                     "; pass batch_fn=... to unpack it")


def _to_device(obj, device):
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _forward(model, inputs):
    if isinstance(inputs, tuple):
        return model(*inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    return model(inputs)


def _batch_size(targets) -> int:
    if isinstance(targets, torch.Tensor) and targets.dim() > 0:
        return int(targets.shape[0])
    return 1


class _Snapshot:
    """Everything the range test changes, saved on entry and put back on exit (any exit).

    The model's and the optimizer's ``state_dict()`` (in memory, or in a
    temporary file inside ``checkpoint_dir``), the parameters' ``.grad``, each
    module's train/eval mode, the random number generators (torch's global ones,
    every ``torch.Generator`` a loader or its samplers hold, NumPy's and Python's
    global ones: so the batches, augmentations and dropout masks of the training
    that follows are those it would have had without the test) and a
    ``DistributedSampler``'s epoch.
    """

    def __init__(self, model, optimizer, loaders, checkpoint_dir=None):
        self.model, self.optimizer, self.checkpoint_dir = model, optimizer, checkpoint_dir
        self.samplers = [getattr(loader, "sampler", None) for loader in loaders]
        self.generators = _generators(loaders)

    def __enter__(self):
        params = list(self.model.parameters())
        grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
        if self.checkpoint_dir is None:
            self.state = {
                "model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "optimizer": copy.deepcopy(self.optimizer.state_dict()),
                "grads": grads}
            self.path = None
        else:
            handle, self.path = tempfile.mkstemp(prefix="cyclr-range-test-", suffix=".pt",
                                                 dir=self.checkpoint_dir)
            os.close(handle)
            torch.save({"model": self.model.state_dict(),
                        "optimizer": self.optimizer.state_dict(), "grads": grads}, self.path)
            del grads
        self.modes = [m.training for m in self.model.modules()]
        self.rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        self.epochs = [getattr(s, "epoch", None) for s in self.samplers]
        self.generator_states = [g.get_state() for g in self.generators]
        self.host_rng = (np.random.get_state(), random.getstate())
        return self

    def __exit__(self, *exc_info):
        try:
            if self.path is None:
                state = self.state
            else:
                # Our own file, written a moment ago: the optimizer's state_dict may hold
                # values a weights-only load refuses (custom optimizers).
                state = torch.load(self.path, weights_only=False)
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            with torch.no_grad():
                for p, g in zip(self.model.parameters(), state["grads"]):
                    p.grad = None if g is None else g.to(p.device)
            for m, mode in zip(self.model.modules(), self.modes):
                m.training = mode
            torch.set_rng_state(self.rng)
            if self.cuda_rng is not None:
                torch.cuda.set_rng_state_all(self.cuda_rng)
            for sampler, epoch in zip(self.samplers, self.epochs):
                if epoch is not None:
                    sampler.epoch = epoch
            for generator, saved in zip(self.generators, self.generator_states):
                generator.set_state(saved)
            np.random.set_state(self.host_rng[0])
            random.setstate(self.host_rng[1])
        finally:
            if self.path is not None:
                os.remove(self.path)
        return False  # an exception (KeyboardInterrupt included) goes on up


def _generators(loaders) -> list:
    """Every distinct ``torch.Generator`` held by the loaders and their samplers."""
    found = []
    for loader in loaders:
        sampler = getattr(loader, "sampler", None)
        batch_sampler = getattr(loader, "batch_sampler", None)
        for owner in (loader, sampler, batch_sampler, getattr(batch_sampler, "sampler", None),
                      getattr(sampler, "sampler", None)):
            g = getattr(owner, "generator", None)
            if isinstance(g, torch.Generator) and all(g is not f for f in found):
                found.append(g)
    return found


def _cycle(loader):
    """The loader's batches, again and again; a sampler with ``set_epoch`` gets each pass's."""
    sampler = getattr(loader, "sampler", None)
    passes = 0
    while True:
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(passes)
        count = 0
        for batch in loader:
            count += 1
            yield batch
        if count == 0:
            raise ValueError(f"train_loader yielded no batches; received "
                             f"train_loader={loader!r}")
        passes += 1


class _Trainer:
    """One optimizer update per rung, on ``accumulation_steps`` batches; validation passes."""

    def __init__(self, model, optimizer, criterion, batch_fn, device, accumulation_steps, amp,
                 val_accuracy):
        self.model, self.optimizer, self.criterion = model, optimizer, criterion
        self.batch_fn, self.device, self.accumulation_steps = batch_fn, device, accumulation_steps
        self.amp, self.val_accuracy = amp, val_accuracy

    def _autocast(self):
        # bfloat16 keeps float32's range: no loss scaling, so no update is ever skipped.
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def _loss(self, batch):
        inputs, targets = self.batch_fn(batch)
        inputs, targets = _to_device(inputs, self.device), _to_device(targets, self.device)
        with self._autocast():
            outputs = _forward(self.model, inputs)
            loss = self.criterion(outputs, targets)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"criterion must return a scalar loss tensor; received {shape}")
        return loss.reshape(()), outputs, targets

    def train_rung(self, batches, lr: float) -> float:
        """Train one update at ``lr``; return the mean loss of its batches (before the update)."""
        for group in self.optimizer.param_groups:
            _set_value(group, "lr", lr)
        self.optimizer.zero_grad(set_to_none=True)
        no_sync = getattr(self.model, "no_sync", None)  # DDP: all-reduce on the last only
        total = 0.0
        for k in range(self.accumulation_steps):
            last = k == self.accumulation_steps - 1
            with (contextlib.nullcontext() if last or no_sync is None else no_sync()):
                loss, _, _ = self._loss(next(batches))
                (loss / self.accumulation_steps).backward()
            total += float(loss.detach())
        self.optimizer.step()
        return total / self.accumulation_steps

    @torch.no_grad()
    def validate(self, loader) -> tuple[float, Optional[float]]:
        """Loss (and accuracy) over the whole loader, weighted by batch size, all ranks pooled."""
        modes = [m.training for m in self.model.modules()]
        self.model.eval()
        loss_sum = correct = count = 0.0
        try:
            for batch in loader:
                loss, outputs, targets = self._loss(batch)
                n = _batch_size(targets)
                loss_sum += float(loss) * n
                count += n
                if self.val_accuracy:
                    correct += float((outputs.argmax(dim=-1) == targets).sum())
        finally:
            for m, mode in zip(self.model.modules(), modes):
                m.training = mode
        loss_sum, correct, count = distributed.sum_across_ranks(loss_sum, correct, count)
        if count == 0:
            raise ValueError("val_loader yielded no batches")
        return loss_sum / count, (correct / count if self.val_accuracy else None)


def _progress_bar(progress: Optional[bool], total: int):
    if progress is False or not distributed.is_main_process():
        return None
    if progress is None:
        if not sys.stderr.isatty():
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
    else:
        from tqdm.auto import tqdm  # progress=True asks for it: an ImportError says what's missing
    return tqdm(total=total, desc="range test", unit="rung", leave=False)


def range_test(model: torch.nn.Module, optimizer: torch.optim.Optimizer, criterion: Callable,
               train_loader, *, start_lr: float = 1e-7, end_lr: float = 10.0,
               num_steps: int = 100, step_mode: str = "exp", val_loader=None,
               val_every: int = 1, val_accuracy: bool = False, monitor: Optional[str] = None,
               accumulation_steps: int = 1, amp: bool = False,
               batch_fn: Optional[Callable] = None, device=None, beta: float = 0.98,
               diverge_factor: float = 4.0, checkpoint_dir=None,
               progress: Optional[bool] = None, json_path=None) -> RangeTestResult:
    """Run the learning-rate range test (Smith 2017) and leave model and optimizer untouched.

    Rung ``i`` sets every parameter group's lr to ``lr[i]`` of the ladder
    (``exp``: ``start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))``),
    trains one update and records the loss of the batch it trained on
    (the mean over ``accumulation_steps`` batches). It stops at the end of
    the ladder, on a non-finite loss, or when the smoothed loss exceeds
    ``best + (diverge_factor - 1) * |best|`` (SPEC.md). Then the model's and
    the optimizer's ``state_dict()`` (the learning rates included), the
    gradients, train/eval modes and torch's random generators are put back
    exactly, whether the test finished, diverged or raised (an exception or
    ``KeyboardInterrupt`` is re-raised after the restore).

    Under ``torchrun`` (DDP), each rung's loss is averaged across ranks before it
    is recorded, so every rank stops at the same rung and returns the same
    result; only rank 0 shows progress and writes ``json_path``.

    Args:
      model: the model, in train or eval mode (trained in train mode), maybe DDP-wrapped.
      optimizer: its optimizer; its lr is overwritten during the test only.
      criterion: ``criterion(outputs, targets) -> scalar loss``.
      train_loader: any iterable of batches; restarted when shorter than the test
        (calling its sampler's ``set_epoch`` each pass, when it has one).
      start_lr, end_lr, num_steps, step_mode: the ladder (``'exp'`` or ``'linear'``).
      val_loader: when given, the whole loader's loss is measured after the update
        of every ``val_every``-th rung (NaN at the others).
      val_every: measure the validation loss every this many rungs (from rung 0).
      val_accuracy: also measure the validation accuracy (outputs are logits over
        their last axis, targets are class indices).
      monitor: the curve the suggestions read: ``'loss'`` (default without a
        ``val_loader``), ``'val_loss'`` (default with one) or ``'val_accuracy'``.
      accumulation_steps: batches per rung (their gradients summed, loss divided
        by this count); one optimizer update per rung.
      amp: forward passes under ``torch.autocast`` with bfloat16 (on CPU too);
        bfloat16 needs no loss scaling.
      batch_fn: ``batch -> (inputs, targets)`` for batches that are not pairs;
        ``inputs`` that are a tuple are passed as ``model(*inputs)``, a dict as
        ``model(**inputs)``. Batches are moved to ``device`` (tensors nested in
        tuples, lists and dicts).
      device: where batches go; default, the device of the model's first parameter.
      beta, diverge_factor: smoothing and divergence (see ``cyclr.rangetest.RangeTest``).
      checkpoint_dir: keep the starting state in a temporary file in this folder
        instead of in memory (every rank its own file, removed afterwards).
      progress: a tqdm progress bar; ``None`` shows one when stderr is a terminal.
      json_path: write ``result.to_json()`` here (rank 0 only).

    Returns:
      The :class:`~cyclr.RangeTestResult`; ``result.bounds()`` suggests a cyclical
      schedule's ``(base_lr, max_lr)``.

    Raises:
      ValueError: naming the parameter and the value received.

    >>> import torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> torch.manual_seed(0) and None
    >>> x = torch.randn(64, 3); y = x @ torch.tensor([1.0, -2.0, 0.5])
    >>> model = torch.nn.Linear(3, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> before = model.weight.clone()
    >>> result = range_test(model, opt, lambda out, t: ((out[:, 0] - t) ** 2).mean(),
    ...                     DataLoader(TensorDataset(x, y), batch_size=16),
    ...                     start_lr=1e-3, end_lr=10.0, num_steps=40)
    >>> result.stop_reason, torch.equal(model.weight, before), opt.param_groups[0]["lr"]
    ('diverged', True, 0.1)
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; received model={model!r}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer; received "
                         f"optimizer={optimizer!r}")
    if not callable(criterion):
        raise ValueError(f"criterion must be callable; received criterion={criterion!r}")
    if batch_fn is not None and not callable(batch_fn):
        raise ValueError(f"batch_fn must be callable; received batch_fn={batch_fn!r}")
    accumulation_steps = check_count("accumulation_steps", accumulation_steps)
    val_every = check_count("val_every", val_every)
    if val_loader is None and (val_accuracy or monitor in ("val_loss", "val_accuracy")):
        raise ValueError("validation needs a val_loader; received val_loader=None with "
                         f"val_accuracy={val_accuracy!r}, monitor={monitor!r}")
    if monitor is None:
        monitor = "loss" if val_loader is None else "val_loss"
    recorder = RangeTest(start_lr, end_lr, num_steps, step_mode=step_mode, beta=beta,
                         diverge_factor=diverge_factor, monitor=monitor)
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    trainer = _Trainer(model, optimizer, criterion, batch_fn or default_batch,
                       torch.device(device), accumulation_steps, bool(amp), bool(val_accuracy))
    loaders = [train_loader] + ([] if val_loader is None else [val_loader])
    bar = _progress_bar(progress, recorder.settings.num_steps)
    try:
        with _Snapshot(model, optimizer, loaders, checkpoint_dir):
            model.train()
            batches = _cycle(train_loader)
            while not recorder.done:
                rung = recorder.step
                loss = distributed.mean_across_ranks(trainer.train_rung(batches, recorder.next_lr))
                val_loss = accuracy = None
                if val_loader is not None and rung % val_every == 0:
                    val_loss, accuracy = trainer.validate(val_loader)
                recorder.record(loss, val_loss=val_loss, val_accuracy=accuracy)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(lr=f"{recorder.lr(rung):.3g}", loss=f"{loss:.4g}")
    finally:
        if bar is not None:
            bar.close()
    result = recorder.result()
    if json_path is not None and distributed.is_main_process():
        result.to_json(json_path)
    return result
