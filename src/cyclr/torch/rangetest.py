"""``cyclr.torch.range_test``: the learning-rate range test on a PyTorch model.

The ladder, smoothing and stopping rules are the core's
(:class:`cyclr.rangetest.RangeTest`); this module trains one batch per rung and
hands it the loss, then puts everything back as it was.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from cyclr._base import check_count
from cyclr.rangetest import RangeTest, RangeTestResult
from cyclr.torch import distributed
from cyclr.torch._snapshot import Snapshot
from cyclr.torch.scheduler import _set_value


def default_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, targets)`` from a batch that is a pair, as a ``TensorDataset`` loader gives."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    kind = type(batch).__name__
    raise ValueError(
        f"a batch must be an (inputs, targets) pair; received a {kind}"
        f"{' with keys ' + repr(sorted(batch)) if isinstance(batch, dict) else ''}"
        "; pass batch_fn=... to unpack it"
    )


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _forward(model: torch.nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, tuple):
        return model(*inputs)
    if isinstance(inputs, dict):
        return model(**inputs)
    return model(inputs)


def _batch_size(targets: Any) -> int:
    if isinstance(targets, torch.Tensor) and targets.dim() > 0:
        return int(targets.shape[0])
    return 1


def _cycle(loader: Any) -> Iterator[Any]:
    """The loader's batches, again and again; a sampler with ``set_epoch`` gets each pass's."""
    sampler = getattr(loader, "sampler", None)
    passes = 0
    while True:
        set_epoch = getattr(sampler, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(passes)
        count = 0
        for batch in loader:
            count += 1
            yield batch
        if count == 0:
            raise ValueError(f"train_loader yielded no batches; received train_loader={loader!r}")
        passes += 1


class _Trainer:
    """One optimizer update per rung, on ``accumulation_steps`` batches; validation passes."""

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Any,
        criterion: Callable[..., Any],
        batch_fn: Callable[[Any], tuple[Any, Any]],
        device: torch.device,
        accumulation_steps: int,
        amp: bool,
        val_accuracy: bool,
    ) -> None:
        self.model, self.optimizer, self.criterion = model, optimizer, criterion
        self.batch_fn, self.device, self.accumulation_steps = batch_fn, device, accumulation_steps
        self.amp, self.val_accuracy = amp, val_accuracy

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        # bfloat16 keeps float32's range: no loss scaling, so no update is ever skipped.
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def _loss(self, batch: Any) -> tuple[torch.Tensor, Any, Any]:
        inputs, targets = self.batch_fn(batch)
        inputs, targets = _to_device(inputs, self.device), _to_device(targets, self.device)
        with self._autocast():
            outputs = _forward(self.model, inputs)
            loss = self.criterion(outputs, targets)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"criterion must return a scalar loss tensor; received {shape}")
        return loss.reshape(()), outputs, targets

    def train_rung(self, batches: Iterator[Any], lr: float) -> float:
        """Train one update at ``lr``; return the mean loss of its batches (before the update)."""
        for group in self.optimizer.param_groups:
            _set_value(group, "lr", lr)
        self.optimizer.zero_grad(set_to_none=True)
        no_sync = getattr(self.model, "no_sync", None)  # DDP: all-reduce on the last only
        total = 0.0
        for k in range(self.accumulation_steps):
            last = k == self.accumulation_steps - 1
            with contextlib.nullcontext() if last or no_sync is None else no_sync():
                loss, _, _ = self._loss(next(batches))
                (loss / self.accumulation_steps).backward()
            total += float(loss.detach())
        self.optimizer.step()
        return total / self.accumulation_steps

    @torch.no_grad()
    def validate(self, loader: Any) -> tuple[float, float | None]:
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
            for m, mode in zip(self.model.modules(), modes, strict=False):
                m.training = mode
        loss_sum, correct, count = distributed.sum_across_ranks(loss_sum, correct, count)
        if count == 0:
            raise ValueError("val_loader yielded no batches")
        return loss_sum / count, (correct / count if self.val_accuracy else None)


def _progress_bar(progress: bool | None, total: int) -> Any:
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


def _optimizer_lr(optimizer: torch.optim.Optimizer, step_mode: str) -> float:
    """The lr all parameter groups share, for ``start_lr=None``."""
    lrs = [float(group["lr"]) for group in optimizer.param_groups]
    if len(set(lrs)) > 1:
        raise ValueError(
            "start_lr=None starts the ladder at the optimizer's lr, but its "
            f"parameter groups differ: received lr={lrs!r}; pass start_lr=..."
        )
    if lrs[0] <= 0 and step_mode == "exp":
        raise ValueError(
            "start_lr=None starts the ladder at the optimizer's lr, and an exp "
            f"ladder cannot start at received lr={lrs[0]!r}; pass start_lr=... "
            "or step_mode='linear'"
        )
    return lrs[0]


def range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: Callable[..., Any],
    train_loader: Iterable[Any],
    *,
    start_lr: float | None = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    step_mode: str = "exp",
    val_loader: Iterable[Any] | None = None,
    val_every: int = 1,
    val_accuracy: bool = False,
    monitor: str | None = None,
    accumulation_steps: int = 1,
    amp: bool = False,
    batch_fn: Callable[[Any], tuple[Any, Any]] | None = None,
    device: torch.device | str | None = None,
    beta: float = 0.98,
    diverge_factor: float = 4.0,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    json_path: str | os.PathLike[str] | None = None,
) -> RangeTestResult:
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

    ``result.bounds()`` was validated on SGD with 1e-4 -> 10 in 400 rungs (Adam:
    1e-5 -> 1 in 300; the ``cyclr`` command's defaults); on other ladders it moves, up
    to 2-3x (``python -m bench.ladders``), so pass those for bounds you can trust.

    Under ``torchrun`` (DDP), each rung's loss is averaged across ranks before it
    is recorded, so every rank stops at the same rung and returns the same
    result; only rank 0 shows progress and writes ``json_path``.

    Args:
      model: the model, in train or eval mode (trained in train mode), maybe DDP-wrapped.
      optimizer: its optimizer; its lr is overwritten during the test only.
      criterion: ``criterion(outputs, targets) -> scalar loss``.
      train_loader: any iterable of batches; restarted when shorter than the test
        (calling its sampler's ``set_epoch`` each pass, when it has one).
      start_lr: the first rung; ``None`` starts at the optimizer's own lr
        (torch-lr-finder's default), which every parameter group must share.
      end_lr: the last rung.
      num_steps: the rungs of the ladder.
      step_mode: ``'exp'`` (geometric ladder) or ``'linear'``.
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
      beta: the smoothing decay (see ``cyclr.rangetest.RangeTest``).
      diverge_factor: the divergence threshold (see ``cyclr.rangetest.RangeTest``).
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
    accumulation_steps, val_every, monitor = _check_arguments(
        model,
        optimizer,
        criterion,
        batch_fn,
        accumulation_steps,
        val_every,
        val_loader,
        val_accuracy,
        monitor,
    )
    if start_lr is None:
        start_lr = _optimizer_lr(optimizer, step_mode)
    recorder = RangeTest(
        start_lr,
        end_lr,
        num_steps,
        step_mode=step_mode,
        beta=beta,
        diverge_factor=diverge_factor,
        monitor=monitor,
    )
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    trainer = _Trainer(
        model,
        optimizer,
        criterion,
        batch_fn or default_batch,
        torch.device(device),
        accumulation_steps,
        bool(amp),
        bool(val_accuracy),
    )
    loaders = [train_loader] + ([] if val_loader is None else [val_loader])
    bar = _progress_bar(progress, recorder.settings.num_steps)
    try:
        with Snapshot(model, optimizer, loaders, checkpoint_dir):
            model.train()
            batches = _cycle(train_loader)
            while not recorder.done:
                rung = recorder.rungs_recorded
                lr = recorder.lr(rung)  # the next rung: the test is not done
                loss = distributed.mean_across_ranks(trainer.train_rung(batches, lr))
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


def _check_arguments(
    model: Any,
    optimizer: Any,
    criterion: Any,
    batch_fn: Any,
    accumulation_steps: Any,
    val_every: Any,
    val_loader: Any,
    val_accuracy: bool,
    monitor: str | None,
) -> tuple[int, int, str]:
    """``range_test``'s argument checks; ``(accumulation_steps, val_every, monitor)``."""
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; received model={model!r}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim.Optimizer; received optimizer={optimizer!r}"
        )
    if not callable(criterion):
        raise ValueError(f"criterion must be callable; received criterion={criterion!r}")
    if batch_fn is not None and not callable(batch_fn):
        raise ValueError(f"batch_fn must be callable; received batch_fn={batch_fn!r}")
    accumulation_steps = check_count("accumulation_steps", accumulation_steps)
    val_every = check_count("val_every", val_every)
    if val_loader is None and (val_accuracy or monitor in ("val_loss", "val_accuracy")):
        raise ValueError(
            "validation needs a val_loader; received val_loader=None with "
            f"val_accuracy={val_accuracy!r}, monitor={monitor!r}"
        )
    if monitor is None:
        monitor = "loss" if val_loader is None else "val_loss"
    return accumulation_steps, val_every, monitor
