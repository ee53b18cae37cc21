"""``cyclr.torch.range_test``: the learning-rate range test on a PyTorch model.

The ladder, smoothing and stopping rules are the core's
(:class:`cyclr.rangetest.RangeTest`); this module trains one batch per rung and
hands it the loss, then puts everything back as it was. A rung trains through one
of three paths: ``criterion(outputs, targets)``, the model's own loss
(``criterion=None``: Hugging Face models), or the user's ``step_fn`` (an engine's
forward, backward and update).

This module holds the entry point and its loop over the rungs; the argument checks
are in ``_checks``, the per-rung update in ``_trainer`` (with ``_clipping``), the
validation passes in ``_validation``, and the reading of batches in ``_batches``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from typing import Any

import torch

from cyclr._progress import progress_bar
from cyclr.rangetest import RangeTest, RangeTestResult
from cyclr.rangetest.policies import optimizer_name
from cyclr.rangetest.settings import RangeTestSettings, with_start_lr
from cyclr.torch import distributed
from cyclr.torch._batches import cycle
from cyclr.torch._batches import default_batch as default_batch
from cyclr.torch._checks import check_arguments, check_state_keeping
from cyclr.torch._clipping import clip_gradients as clip_gradients
from cyclr.torch._snapshot import Snapshot
from cyclr.torch._trainer import MIN_LOSS_SCALE as MIN_LOSS_SCALE
from cyclr.torch._trainer import Skips, Trainer

# MIN_LOSS_SCALE, clip_gradients and default_batch are imported from here by others


def _optimizer_lr(optimizer: Any, ratios: list[float], settings: RangeTestSettings) -> float:
    """The optimizer's lr on the ladder's scale (ratio 1), for ``settings.start_lr=None``.

    That of the group with the largest ratio, over its ratio: the lr of the group
    with the largest lr when the ratios come from the lrs.
    """
    groups = optimizer.param_groups
    top = max(range(len(groups)), key=lambda i: ratios[i])
    lr = float(groups[top]["lr"])
    if ratios[top] > 0:
        lr /= ratios[top]
    if lr <= 0 and settings.step_mode == "exp":
        raise ValueError(
            "settings.start_lr=None starts the ladder at the optimizer's lr, and an exp "
            f"ladder cannot start at received lr={lr!r}; pass "
            "settings=RangeTestSettings(start_lr=..., ...) or step_mode='linear'"
        )
    return lr


def range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | Any,
    criterion: Callable[..., Any] | None,
    train_loader: Iterable[Any],
    *,
    settings: RangeTestSettings | None = None,  # the ladder, smoothing, stop and reading
    # validation
    val_loader: Iterable[Any] | None = None,
    val_step_fn: Callable[[Any], Any] | None = None,
    val_accuracy: bool = False,
    # the step
    batch_fn: Callable[[Any], tuple[Any, Any]] | None = None,
    step_fn: Callable[[Any], Any] | None = None,
    accumulation_steps: int = 1,
    device: torch.device | str | None = None,
    # precision and clipping
    amp: bool | str = False,
    grad_scaler: torch.amp.GradScaler | None = None,
    max_grad_norm: float | None = None,
    # where the snapshot lives
    checkpoint_dir: str | os.PathLike[str] | None = None,
    cpu_offload: bool = False,
    # output
    progress: bool | None = None,
    json_path: str | os.PathLike[str] | None = None,
) -> RangeTestResult:
    """Run the learning-rate range test (Smith 2017) and leave model and optimizer untouched.

    Rung ``i`` sets the optimizer's lr to ``lr[i]`` of the ladder of ``settings``
    (``exp``: ``start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))``),
    trains one update and records the loss of the batch it trained on
    (the mean over ``accumulation_steps`` batches). It stops at the end of
    the ladder, on a non-finite loss, or when the smoothed loss exceeds
    ``best + (diverge_factor - 1) * |best|`` (docs/semantics.md, *The
    learning-rate range test*). Then the model's and the optimizer's
    ``state_dict()`` (the learning rates included), the gradients, train/eval
    modes, torch's random generators and a ``grad_scaler``'s state are put back
    exactly, whether the test finished, diverged or raised (an exception or
    ``KeyboardInterrupt`` is re-raised after the restore; docs/semantics.md,
    *Restore*).

    Parameter groups keep their ratios: group ``g`` trains at ``lr[i] * ratio_g``,
    ``ratio_g`` its ``lr_scale`` key (timm's layer decay) or else its initial lr
    over the largest initial lr among the groups, and the lrs recorded are those
    of ratio 1 (the group with the largest lr). One group, or groups that share
    one lr, train at ``lr[i]`` itself. ``CyclicLR(..., group_scale='initial_lr')``
    applies the same ratios, so ``result.bounds()`` drive it as they were measured.

    Each rung trains through one of three paths:

    - ``criterion(outputs, targets)``: batches are ``(inputs, targets)`` pairs
      (or ``batch_fn`` makes them so), ``outputs = model(inputs)``.
    - ``criterion=None``: the model computes its own loss, as Hugging Face models
      do when the batch holds the labels: a mapping batch goes in as
      ``model(**batch)`` (a tuple or list as ``model(*batch)``) and the loss is
      ``outputs.loss`` or ``outputs['loss']``, or the one scalar tensor of outputs
      that are a tuple or list (``logits, loss = model(x, y)``, GPT style). Where
      that is not one tensor, name it: ``batch_fn=lambda batch: (tuple(batch),
      batch)`` and ``criterion=lambda outputs, batch: outputs[1]``.
    - ``step_fn(batch) -> loss``: an engine (accelerate, Lightning Fabric,
      DeepSpeed, ...) does the forward, backward and optimizer step itself, at
      the lrs cyclr has just written into the optimizer's parameter groups;
      cyclr records the loss it returns. Accumulation, mixed precision, loss
      scaling and clipping are then the engine's: ``accumulation_steps``,
      ``amp``, ``grad_scaler``, ``max_grad_norm`` and ``batch_fn`` are refused.

    With a ``grad_scaler`` (float16), an update the scaler skips because the
    gradients overflowed is not a rung: the same lr trains again on the next
    batch, so every lr of the ladder is recorded once, at the scale the scaler
    backed off to, however large it started. An update still skipped at a loss
    scale of ``MIN_LOSS_SCALE`` (1) or less overflows float16 unscaled: the test
    stops there, as on a non-finite loss (``stop_reason='non_finite_loss'``, the
    rung's loss recorded as ``inf``), with a ``RuntimeWarning`` that names the
    scale. A loss that is itself not finite stops the test at once.

    The default ladder, 1e-5 -> 10 in 450 rungs (75 per decade, for SGD and Adam
    alike), is the one ``result.bounds()`` was validated on by training (see
    docs/results.md, *Do the suggested bounds train well?*); the reading is the same on
    ladders of 100 to 1000 rungs within the seed-to-seed noise (docs/results.md, *The
    bounds on six ladders*), a few hundred rungs give it the most room.

    Under ``torchrun`` (DDP, FSDP), each rung's loss is averaged across ranks before it
    is recorded, so every rank stops at the same rung and returns the same
    result; only rank 0 shows progress and writes ``json_path``. A sharded model
    (FSDP2's ``fully_shard``, FSDP1's ``FullyShardedDataParallel``) is saved
    and restored shard by shard: every rank keeps only its own shards of the
    parameters, gradients and optimizer state (in memory, in CPU memory with
    ``cpu_offload=True``, or in its own file in ``checkpoint_dir``), never a
    gathered full state.

    Args:
      model: the model, in train or eval mode (trained in train mode), maybe DDP-wrapped.
      optimizer: its optimizer; its lr is overwritten during the test only. A
        ``torch.optim.Optimizer``, or any object with ``param_groups``,
        ``state_dict()`` and ``load_state_dict()`` (and ``step()`` and
        ``zero_grad()`` unless ``step_fn`` steps it): accelerate's
        ``AcceleratedOptimizer``, ``schedulefree.ScheduleFreeWrapper`` (call its
        ``train()`` first, as before training).
      criterion: ``criterion(outputs, targets) -> scalar loss``; ``None`` when the
        model computes its own loss (see above), or with ``step_fn``.
      train_loader: any iterable of batches; restarted when shorter than the test
        (calling its sampler's ``set_epoch`` each pass, when it has one).

    Args: Ladder, smoothing, stop and reading: settings
      settings: a :class:`~cyclr.RangeTestSettings` (its defaults when ``None``): the
        ladder, the smoothing and the stop, ``val_every``, the ``monitor`` the
        suggestions read (``None``: ``'val_loss'`` with a ``val_loader``, else
        ``'loss'``) and ``fine_tuning`` (``result.bounds()`` reads a factor 2 lower:
        docs/results.md, *Fine-tuning: the reading a factor 2 lower*). Its
        ``start_lr=None`` starts the ladder at the optimizer's own lr
        (torch-lr-finder's default): that of the group with ratio 1. The result's
        ``settings`` are these, with ``start_lr`` and ``monitor`` filled in.

    Args: Validation
      val_loader: when given, the whole loader's loss is measured after the update
        of every rung ``i`` with ``i % settings.val_every == 0`` (NaN at the others),
        in eval mode, through ``val_step_fn``, else ``criterion`` or, when it is
        ``None`` (``step_fn`` too), the model's own loss (its batches hold the
        labels). A BatchNorm layer that trains in batch-statistics mode is measured
        with its running averages recalibrated on the loader (one more forward pass
        over it, in train mode; the averages are put back afterwards): a range
        test's averages lag the weights by about ten updates, and would make the
        validation loss rise ten times too early. A layer frozen in eval mode keeps
        its averages.
      val_step_fn: ``val_step_fn(batch) -> loss``, one validation batch's mean loss
        as the engine computes it (a Lightning module's ``validation_step``),
        called in eval mode under ``torch.no_grad()`` with the batch as
        ``val_loader`` yields it; the passes weight batches by their size. With
        ``val_accuracy`` it returns ``(loss, accuracy)``, the batch's mean of each.
        Default: ``criterion``, or the model's own loss.
      val_accuracy: also measure the validation accuracy (outputs are logits over
        their last axis, targets are class indices); needs a ``criterion``, whose
        ``(outputs, targets)`` it reads, or a ``val_step_fn`` that returns
        ``(loss, accuracy)``. A model's own loss comes with no targets cyclr could
        score (a language model's labels are shifted and masked).
        ``settings.monitor='val_accuracy'`` turns it on.

    Args: The step
      batch_fn: ``batch -> (inputs, targets)`` for batches that are not pairs;
        ``inputs`` that are a tuple are passed as ``model(*inputs)``, a mapping
        as ``model(**inputs)``. Batches are moved to ``device`` (tensors nested in
        tuples, lists and mappings).
      step_fn: ``step_fn(batch) -> loss``, one training step by an engine (see
        above): the loss is a one-element tensor or a Python float. Batches
        reach it as the loader yields them (the engine places them).
      accumulation_steps: batches per rung (their gradients summed, loss divided
        by this count); one optimizer update per rung.
      device: where batches go (with ``step_fn``: validation batches only);
        default, the device of the model's first parameter.

    Args: Precision and clipping
      amp: forward passes under ``torch.autocast`` (on CPU too): ``True`` or
        ``'bfloat16'`` for bfloat16, which keeps float32's range and needs no
        loss scaling; ``'float16'`` for float16, whose loss is scaled by
        ``grad_scaler`` (a fresh ``torch.amp.GradScaler`` for the test when
        none is given); ``False``: float32.
      grad_scaler: a ``torch.amp.GradScaler`` (float16): it scales the loss,
        unscales the gradients before clipping and steps the optimizer, skipping
        updates whose gradients overflowed (see above). Its state is put back
        afterwards.
      max_grad_norm: clip the gradients' global norm to this before each update
        (after unscaling them, with a ``grad_scaler``); under FSDP the norm of the
        whole gradient, all ranks' shards together.

    Args: Where the snapshot lives
      checkpoint_dir: keep the starting state in a temporary file in this folder
        instead of in memory (every rank its own file, removed afterwards).
      cpu_offload: keep the starting state in CPU memory instead of beside the
        model (on its GPU); not with ``checkpoint_dir``.

    Args: Output
      progress: a tqdm progress bar; ``None`` shows one when stderr is a terminal.
      json_path: write ``result.to_json()`` here (rank 0 only).

    Returns:
      The :class:`~cyclr.RangeTestResult`; ``result.bounds()`` suggests a cyclical
      schedule's ``(base_lr, max_lr)``. Its ``optimizer`` is the class name of
      ``optimizer`` (of the one it wraps: accelerate's, Lightning's), and its
      ``batchnorm`` whether ``model`` has BatchNorm layers: ``result.schedule(policy,
      ...)`` takes its peak factor for them.

    Raises:
      ValueError: naming the parameter and the value received.
      TypeError: an ``optimizer`` without ``param_groups`` (or ``state_dict``,
        ``load_state_dict``, ``step``, ``zero_grad``), or a ``step_fn`` that
        returns something other than a loss.

    >>> import torch
    >>> from torch.utils.data import DataLoader, TensorDataset
    >>> from cyclr import RangeTestSettings
    >>> torch.manual_seed(0) and None
    >>> x = torch.randn(64, 3); y = x @ torch.tensor([1.0, -2.0, 0.5])
    >>> model = torch.nn.Linear(3, 1); opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> before = model.weight.clone()
    >>> result = range_test(model, opt, lambda out, t: ((out[:, 0] - t) ** 2).mean(),
    ...                     DataLoader(TensorDataset(x, y), batch_size=16),
    ...                     settings=RangeTestSettings(1e-3, 10.0, num_steps=40))
    >>> result.stop_reason, torch.equal(model.weight, before), opt.param_groups[0]["lr"]
    ('diverged', True, 0.1)
    """
    settings, accumulation_steps, amp_dtype = check_arguments(
        model,
        optimizer,
        criterion,
        settings,
        val_loader,
        val_step_fn,
        val_accuracy,
        batch_fn,
        step_fn,
        accumulation_steps,
        amp,
        grad_scaler,
        max_grad_norm,
    )
    check_state_keeping(cpu_offload, checkpoint_dir)
    device = _device(model, device)
    trainer = Trainer(
        model,
        optimizer,
        criterion=criterion,
        batch_fn=batch_fn or default_batch,
        step_fn=step_fn,
        val_step_fn=val_step_fn,
        device=device,
        accumulation_steps=accumulation_steps,
        amp_dtype=amp_dtype,
        grad_scaler=_scaler(grad_scaler, amp_dtype, device),
        max_grad_norm=None if max_grad_norm is None else float(max_grad_norm),
        val_accuracy=bool(val_accuracy) or settings.monitor == "val_accuracy",
    )
    if settings.start_lr is None:
        settings = with_start_lr(settings, _optimizer_lr(optimizer, trainer.ratios, settings))
    recorder = RangeTest(settings)
    _run(recorder, trainer, train_loader, val_loader, progress, checkpoint_dir, cpu_offload)
    result = recorder.result(optimizer_name(optimizer), has_batchnorm(model))
    if json_path is not None and distributed.is_main_process():
        result.to_json(json_path)
    return result


def has_batchnorm(model: torch.nn.Module) -> bool:
    """Whether ``model`` (or the one a DDP or FSDP wrapper holds) has a BatchNorm layer.

    ``BatchNorm1d/2d/3d``, ``SyncBatchNorm`` and their lazy forms: what the range test
    records as :attr:`~cyclr.RangeTestResult.batchnorm`.
    """
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _device(model: torch.nn.Module, device: torch.device | str | None) -> torch.device:
    """``device``, by default that of the model's first parameter (the CPU without one)."""
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    return torch.device(device)


def _scaler(
    grad_scaler: torch.amp.GradScaler | None, amp_dtype: torch.dtype | None, device: torch.device
) -> torch.amp.GradScaler | None:
    """``grad_scaler``; for float16 without one, the test's own (nothing to restore)."""
    if amp_dtype == torch.float16 and grad_scaler is None:
        return torch.amp.GradScaler(device.type)
    return grad_scaler


def _run(
    recorder: RangeTest,
    trainer: Trainer,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None,
    progress: bool | None,
    checkpoint_dir: str | os.PathLike[str] | None,
    cpu_offload: bool,
) -> None:
    """The test between a snapshot of the starting state and its restoration, with a bar."""
    model = trainer.model
    loaders = [train_loader] + ([] if val_loader is None else [val_loader])
    bar = progress_bar(progress, recorder.settings.num_steps, distributed.is_main_process)
    try:
        with Snapshot(
            model, trainer.optimizer, loaders, checkpoint_dir, trainer.grad_scaler, cpu_offload
        ):
            model.train()
            _climb(recorder, trainer, train_loader, val_loader, bar)
    finally:
        if bar is not None:
            bar.close()


def _climb(
    recorder: RangeTest,
    trainer: Trainer,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None,
    bar: Any,
) -> None:
    """Train and record rung after rung until ``recorder`` is done.

    An update the ``GradScaler`` skipped (on any rank) is not a rung: it is trained
    again at the lower scale, until :class:`Skips` gives up on it.
    """
    batches = cycle(train_loader)
    skips = Skips()
    val_every = recorder.settings.val_every
    while not recorder.done:
        rung = recorder.rungs_recorded
        lr = recorder.lr(rung)  # the next rung: the test is not done
        loss, skipped_at = trainer.train_rung(batches, lr)
        total, skipped, scales = distributed.sum_across_ranks(
            loss, float(skipped_at is not None), skipped_at or 0.0
        )
        loss = total / distributed.world_size()
        if skipped and math.isfinite(loss):  # the scaler skipped the update: not a rung
            if skips.retry(scales / skipped):  # the same on every rank
                continue
            loss = skips.give_up(lr, rung)
        skips.reset()
        val_loss = accuracy = None
        if val_loader is not None and rung % val_every == 0:
            val_loss, accuracy = trainer.validate(val_loader)
        recorder.record(loss, val_loss=val_loss, val_accuracy=accuracy)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(lr=f"{recorder.lr(rung):.3g}", loss=f"{loss:.4g}")
