"""``cyclr.torch.range_test``: the learning-rate range test on a PyTorch model.

The ladder, smoothing and stopping rules are the core's
(:class:`cyclr.rangetest.RangeTest`); this module trains one batch per rung and
hands it the loss, then puts everything back as it was. A rung trains through one
of three paths: ``criterion(outputs, targets)``, the model's own loss
(``criterion=None``: Hugging Face models), or the user's ``step_fn`` (an engine's
forward, backward and update).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch

from cyclr._base import check_count
from cyclr.rangetest import RangeTest, RangeTestResult
from cyclr.rangetest.settings import DEFAULT_END_LR, DEFAULT_NUM_STEPS, DEFAULT_START_LR
from cyclr.torch import distributed
from cyclr.torch._snapshot import Snapshot
from cyclr.torch.param_groups import group_ratios, set_value

#: ``amp=`` by name; ``amp=True`` is bfloat16 (no loss scaling needed)
_AMP_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
#: the loss scale at which an update a GradScaler still skips ends the test: at a scale of
#: 1 or less the float16 gradients overflow unscaled, so the rate itself is too high
MIN_LOSS_SCALE = 1.0


def default_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, targets)`` from a batch that is a pair, as a ``TensorDataset`` loader gives."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    kind = type(batch).__name__
    if isinstance(batch, Mapping):
        raise ValueError(
            f"a batch must be an (inputs, targets) pair; received a {kind} with keys "
            f"{sorted(batch)!r}; pass batch_fn=... to unpack it, or criterion=None when "
            "the model computes its own loss from the batch (Hugging Face models)"
        )
    raise ValueError(
        f"a batch must be an (inputs, targets) pair; received a {kind}; "
        "pass batch_fn=... to unpack it"
    )


def _to_device(obj: Any, device: torch.device) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, Mapping):  # dicts, and Hugging Face's BatchEncoding
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _forward(model: torch.nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, tuple):
        return model(*inputs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    return model(inputs)


def _batch_size(obj: Any) -> int:
    """The leading size of the first tensor in ``obj`` (``labels`` first in a mapping), else 1."""
    if isinstance(obj, torch.Tensor):
        return int(obj.shape[0]) if obj.dim() > 0 else 1
    if isinstance(obj, Mapping):
        values = [obj["labels"], *obj.values()] if "labels" in obj else list(obj.values())
    elif isinstance(obj, (tuple, list)):
        values = list(obj)
    else:
        return 1
    for value in values:
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return 1


def _own_loss(outputs: Any) -> Any:
    """The loss a model computed itself.

    ``outputs.loss``, ``outputs['loss']``, or the one scalar tensor of a tuple or list
    (``logits, loss = model(x, targets)``, GPT style).
    """
    loss = getattr(outputs, "loss", None)
    if loss is None and isinstance(outputs, Mapping):
        loss = outputs.get("loss")
    if loss is not None:
        return loss
    if isinstance(outputs, (tuple, list)):
        return _loss_in_sequence(outputs)
    raise ValueError(
        "criterion=None trains on the loss the model computes itself (outputs.loss, "
        "outputs['loss'], or the one scalar tensor of a tuple), but the model returned a "
        f"{type(outputs).__name__} with no loss; pass a criterion, or put the labels in the "
        "batch (batch['labels'] for Hugging Face models)"
    )


def _loss_in_sequence(outputs: tuple[Any, ...] | list[Any]) -> torch.Tensor:
    """The one one-element floating tensor of ``outputs``, refused when there are 0 or 2+."""
    scalars = [
        i
        for i, x in enumerate(outputs)
        if isinstance(x, torch.Tensor) and x.numel() == 1 and x.is_floating_point()
    ]
    if len(scalars) == 1:
        return outputs[scalars[0]]
    shapes = [tuple(x.shape) if isinstance(x, torch.Tensor) else x for x in outputs]
    found = "no one-element tensor" if not scalars else f"several, at {scalars}"
    raise ValueError(
        f"criterion=None reads the loss of a model that returns a {type(outputs).__name__} "
        f"from its one scalar tensor; received {found} among outputs of shapes {shapes} "
        "(with targets in the batch, the model was called as model(inputs, targets)); name "
        "the loss yourself: batch_fn=lambda batch: (tuple(batch), batch) (the model gets the "
        "whole batch) with criterion=lambda outputs, batch: outputs[i]"
    )


def _scalar(loss: Any, source: str) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(f"{source} must return a scalar loss tensor; received {shape}")
    return loss.reshape(())


def _step_fn_loss(value: Any, name: str = "step_fn") -> float:
    """The loss ``name`` returned, as a float: a one-element tensor or a Python number."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"{name} must return the batch's loss: a tensor with one element or a "
                f"Python float; received a tensor of shape {tuple(value.shape)}"
            )
        return float(value.detach().reshape(()))
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    hint = "; return outputs.loss" if getattr(value, "loss", None) is not None else ""
    raise TypeError(
        f"{name} must return the batch's loss: a tensor with one element or a Python "
        f"float; received a {type(value).__name__}{hint}"
    )


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
    """One optimizer update per rung, on ``accumulation_steps`` batches; validation passes.

    ``criterion`` is ``None`` on the model's-own-loss path (``step_fn`` included:
    validation then reads the model's own loss too).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: Any,
        *,
        criterion: Callable[..., Any] | None,
        batch_fn: Callable[[Any], tuple[Any, Any]],
        step_fn: Callable[[Any], Any] | None,
        val_step_fn: Callable[[Any], Any] | None,
        device: torch.device,
        accumulation_steps: int,
        amp_dtype: torch.dtype | None,
        grad_scaler: torch.amp.GradScaler | None,
        max_grad_norm: float | None,
        val_accuracy: bool,
    ) -> None:
        self.model, self.optimizer, self.criterion = model, optimizer, criterion
        self.batch_fn, self.step_fn, self.device = batch_fn, step_fn, device
        self.val_step_fn = val_step_fn
        self.accumulation_steps, self.amp_dtype = accumulation_steps, amp_dtype
        self.grad_scaler, self.max_grad_norm = grad_scaler, max_grad_norm
        self.val_accuracy = val_accuracy
        # The groups keep their ratios: a rung's lr is that of the group with ratio 1.
        self.ratios = group_ratios(optimizer.param_groups)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _loss(self, batch: Any) -> tuple[torch.Tensor, Any, Any, int]:
        """The batch's loss, the model's outputs, the targets and the batch size."""
        if self.criterion is None:
            batch = _to_device(batch, self.device)
            if isinstance(batch, list):  # a default-collated tuple
                batch = tuple(batch)
            with self._autocast():
                outputs = _forward(self.model, batch)
                loss = _own_loss(outputs)
            return _scalar(loss, "the model"), outputs, None, _batch_size(batch)
        inputs, targets = self.batch_fn(batch)
        inputs, targets = _to_device(inputs, self.device), _to_device(targets, self.device)
        with self._autocast():
            outputs = _forward(self.model, inputs)
            loss = self.criterion(outputs, targets)
        return _scalar(loss, "criterion"), outputs, targets, _batch_size(targets)

    def _val_loss(self, batch: Any) -> tuple[torch.Tensor | float, float | None, int]:
        """A validation batch's loss, its accuracy (with ``val_accuracy``), its size.

        From ``val_step_fn`` when given (a loss, or ``(loss, accuracy)`` with
        ``val_accuracy``), else from the criterion's ``(outputs, targets)``.
        """
        if self.val_step_fn is None:
            loss, outputs, targets, n = self._loss(batch)
            if not self.val_accuracy:
                return loss, None, n
            return loss, float((outputs.argmax(dim=-1) == targets).float().mean()), n
        returned = self.val_step_fn(batch)
        if not self.val_accuracy:
            return _step_fn_loss(returned, "val_step_fn"), None, _batch_size(batch)
        if not isinstance(returned, (tuple, list)) or len(returned) != 2:
            raise ValueError(
                "with val_accuracy, val_step_fn must return (loss, accuracy) for the batch; "
                f"received a {type(returned).__name__}"
            )
        accuracy = _step_fn_loss(returned[1], "val_step_fn's accuracy")
        return _step_fn_loss(returned[0], "val_step_fn's loss"), accuracy, _batch_size(batch)

    def set_lr(self, lr: float) -> None:
        """Every group's lr: the rung's ``lr`` times the group's ratio."""
        for group, ratio in zip(self.optimizer.param_groups, self.ratios, strict=True):
            set_value(group, "lr", lr * ratio)

    def train_rung(self, batches: Iterator[Any], lr: float) -> tuple[float, float | None]:
        """Train one update at ``lr``.

        Returns:
          The mean loss of its batches (before the update), and, when the
          ``GradScaler`` skipped the update (non-finite gradients), the loss scale
          it was skipped at; else ``None``.
        """
        self.set_lr(lr)
        if self.step_fn is not None:
            return _step_fn_loss(self.step_fn(next(batches))), None
        scaler = self.grad_scaler
        self.optimizer.zero_grad(set_to_none=True)
        no_sync = getattr(self.model, "no_sync", None)  # DDP: all-reduce on the last only
        total = 0.0
        for k in range(self.accumulation_steps):
            last = k == self.accumulation_steps - 1
            with contextlib.nullcontext() if last or no_sync is None else no_sync():
                loss = self._loss(next(batches))[0]
                share = loss / self.accumulation_steps
                (share if scaler is None else scaler.scale(share)).backward()
            total += float(loss.detach())
        if self.max_grad_norm is not None:
            if scaler is not None:
                scaler.unscale_(self.optimizer)  # clip the true gradients
            clip_gradients(self.model, self.optimizer, self.max_grad_norm)
        mean = total / self.accumulation_steps
        if scaler is None:
            self.optimizer.step()
            return mean, None
        scale = scaler.get_scale()
        scaler.step(self.optimizer)  # skipped when the gradients are not finite ...
        scaler.update()  # ... and then the scale backs off (backoff_factor < 1)
        return mean, (scale if scaler.get_scale() < scale else None)

    @torch.no_grad()
    def validate(self, loader: Any) -> tuple[float, float | None]:
        """Loss (and accuracy) over the whole loader, weighted by batch size, all ranks pooled.

        In eval mode, with the running averages of every BatchNorm layer that trains in
        batch-statistics mode recalibrated on the loader first (see ``range_test``).
        """
        modes = [m.training for m in self.model.modules()]
        training_norms = [m for m in self.model.modules() if _recalibrated(m)]
        self.model.eval()
        loss_sum = correct = count = 0.0
        try:
            with _recalibration(training_norms, lambda: self._recalibrate(loader)):
                loss_sum, correct, count = self._evaluate(loader)
        finally:
            for m, mode in zip(self.model.modules(), modes, strict=False):
                m.training = mode
        loss_sum, correct, count = distributed.sum_across_ranks(loss_sum, correct, count)
        if count == 0:
            raise ValueError("val_loader yielded no batches")
        return loss_sum / count, (correct / count if self.val_accuracy else None)

    def _recalibrate(self, loader: Any) -> int:
        """Forward passes over ``loader`` (the norms in train mode); the batches used."""
        used = 0
        for batch in loader:
            try:
                self._val_loss(batch)
            except ValueError as error:  # a batch of one: no variance to measure
                if "more than 1 value per channel" not in str(error):
                    raise
            else:
                used += 1
        return used

    def _evaluate(self, loader: Any) -> tuple[float, float, float]:
        loss_sum = correct = count = 0.0
        for batch in loader:
            loss, accuracy, n = self._val_loss(batch)
            loss_sum += float(loss) * n
            count += n
            if accuracy is not None:
                correct += accuracy * n
        return loss_sum, correct, count


class _Skips:
    """Updates a ``GradScaler`` skipped in a row at one rung: retried while it backs off.

    A skipped update changes nothing but the scale, so the rung trains again on the next
    batch at the lower scale, however large the scale started (``init_scale=2**127``).
    An update still skipped at a scale of :data:`MIN_LOSS_SCALE` or less overflows
    float16 unscaled: the rate is too high, and the test stops there.
    """

    def __init__(self) -> None:
        self.count = 0
        self.scale = math.inf

    def retry(self, scale: float) -> bool:
        """Count one skip at loss scale ``scale``; whether to train the rung again."""
        self.count += 1
        self.scale = scale
        return scale > MIN_LOSS_SCALE

    def give_up(self, lr: float, rung: int) -> float:
        """Warn that the test stops at this rung; the loss to record there (``inf``)."""
        warnings.warn(
            f"range_test: the grad_scaler skipped {self.count} updates in a row at "
            f"lr={lr:.4g} (rung {rung}), the last at loss scale {self.scale:g}: the float16 "
            "gradients overflow unscaled at this rate; the test stops here, recording "
            "loss=inf (stop_reason='non_finite_loss')",
            RuntimeWarning,
            stacklevel=3,
        )
        return math.inf

    def reset(self) -> None:
        """A rung was recorded: the next one starts with no skips."""
        self.count, self.scale = 0, math.inf


def clip_gradients(model: torch.nn.Module, optimizer: Any, max_norm: float) -> None:
    """Scale the gradients of ``optimizer``'s parameters to a global norm of ``max_norm``.

    Under ``FullyShardedDataParallel`` (FSDP1) each rank's parameters are flat shards,
    whose own norm is not the gradient's: the root module's ``clip_grad_norm_`` reduces the
    norm across ranks, and FSDP1 submodules under a plain root are clipped by
    :func:`_clip_fsdp1_submodules` the same way. ``fully_shard`` (FSDP2) gradients are
    DTensors, whose norm ``clip_grad_norm_`` already computes over the whole gradient.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if torch.distributed.is_available():  # a build without it has no FSDP either
        from torch.distributed.fsdp import FullyShardedDataParallel

        if isinstance(model, FullyShardedDataParallel):
            model.clip_grad_norm_(max_norm)
            return
        wrapped = [m for m in model.modules() if isinstance(m, FullyShardedDataParallel)]
        if wrapped:
            _clip_fsdp1_submodules(wrapped, params, max_norm)
            return
    torch.nn.utils.clip_grad_norm_(params, max_norm)


def _clip_fsdp1_submodules(wrapped: list[Any], params: list[Any], max_norm: float) -> None:
    """Clip ``params`` by the whole gradient's norm when FSDP1 wraps submodules, not the root.

    What the root's ``clip_grad_norm_`` does, without a root: the squared norms of the
    sharded gradients (a parameter's innermost FSDP1 module shards it unless it is
    ``NO_SHARD``) are summed over the ranks of its process group, those of the other
    parameters (``NO_SHARD``, or no FSDP1 module: replicated, as FSDP1 takes them) are
    added once, and every gradient is scaled by ``max_norm / (norm + 1e-6)`` when that
    is below 1, as ``torch.nn.utils.clip_grad_norm_`` does (the norm in float64).
    """
    from torch.distributed.fsdp import ShardingStrategy

    owner = {}  # id(parameter) -> its innermost FSDP1 module
    for module in wrapped:  # outer modules first: an inner one overwrites them
        for p in module.parameters():
            owner[id(p)] = module
    sharded = [
        p
        for p in params
        if id(p) in owner and owner[id(p)].sharding_strategy != ShardingStrategy.NO_SHARD
    ]
    if not sharded:  # every gradient whole on every rank
        torch.nn.utils.clip_grad_norm_(params, max_norm)
        return
    device = owner[id(sharded[0])].compute_device

    def squares(chosen: list[Any]) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64, device=device)
        for p in chosen:
            if p.grad is not None:
                total += torch.linalg.vector_norm(p.grad, dtype=torch.float64).to(device) ** 2
        return total

    # One sum per process group, in the parameters' order (the same on every rank)
    by_group: dict[int, tuple[Any, list[Any]]] = {}
    for p in sharded:
        group = owner[id(p)].process_group
        by_group.setdefault(id(group), (group, []))[1].append(p)
    total = torch.zeros((), dtype=torch.float64, device=device)
    for group, chosen in by_group.values():
        part = squares(chosen)
        torch.distributed.all_reduce(part, group=group)
        total += part
    # whole gradients count once: reduced, they would count once per rank
    sharded_ids = {id(p) for p in sharded}
    total += squares([p for p in params if id(p) not in sharded_ids])
    coefficient = torch.clamp(max_norm / (total.sqrt() + 1e-6), max=1.0)
    for p in params:
        if p.grad is not None:
            p.grad.mul_(coefficient.to(p.grad.device, p.grad.dtype))


def _recalibrated(module: torch.nn.Module) -> bool:
    """A BatchNorm layer whose running averages move in training: recalibrated to validate."""
    return (
        isinstance(module, torch.nn.modules.batchnorm._BatchNorm)
        and module.training
        and module.track_running_stats
        and module.running_mean is not None
    )


@contextlib.contextmanager
def _recalibration(norms: list[Any], forward: Callable[[], int]) -> Iterator[None]:
    """Replace ``norms``' running averages by their means over ``forward``'s batches.

    The averages of a range test lag the weights by about ``1 / momentum`` updates, and
    most where the rate climbs fastest, which is where the bounds are read: the
    validation loss in eval mode would rise too early. ``forward`` runs the validation
    batches with the norms in train mode and ``momentum=None`` (an equal-weight mean
    over the batches, as ``torch.optim.swa_utils.update_bn``); afterwards every buffer
    and momentum is put back, so training goes on with its own averages.
    """
    if not norms:
        yield
        return
    names = ("running_mean", "running_var", "num_batches_tracked")
    saved = [(m.momentum, [getattr(m, name).clone() for name in names]) for m in norms]

    def put_back() -> None:
        for m, (momentum, buffers) in zip(norms, saved, strict=True):
            m.momentum = momentum
            for name, buffer in zip(names, buffers, strict=True):
                getattr(m, name).copy_(buffer)

    try:
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        used = forward()
        for m in norms:
            m.eval()
        if not used:  # every batch held one example: keep the running averages
            put_back()
        yield
    finally:
        put_back()


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


def _optimizer_lr(optimizer: Any, ratios: list[float], step_mode: str) -> float:
    """The optimizer's lr on the ladder's scale (ratio 1), for ``start_lr=None``.

    That of the group with the largest ratio, over its ratio: the lr of the group
    with the largest lr when the ratios come from the lrs.
    """
    groups = optimizer.param_groups
    top = max(range(len(groups)), key=lambda i: ratios[i])
    lr = float(groups[top]["lr"])
    if ratios[top] > 0:
        lr /= ratios[top]
    if lr <= 0 and step_mode == "exp":
        raise ValueError(
            "start_lr=None starts the ladder at the optimizer's lr, and an exp "
            f"ladder cannot start at received lr={lr!r}; pass start_lr=... "
            "or step_mode='linear'"
        )
    return lr


def range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | Any,
    criterion: Callable[..., Any] | None,
    train_loader: Iterable[Any],
    *,
    start_lr: float | None = DEFAULT_START_LR,
    end_lr: float = DEFAULT_END_LR,
    num_steps: int = DEFAULT_NUM_STEPS,
    step_mode: str = "exp",
    val_loader: Iterable[Any] | None = None,
    val_every: int = 1,
    val_accuracy: bool = False,
    monitor: str | None = None,
    fine_tuning: bool = False,
    accumulation_steps: int = 1,
    amp: bool | str = False,
    grad_scaler: torch.amp.GradScaler | None = None,
    max_grad_norm: float | None = None,
    batch_fn: Callable[[Any], tuple[Any, Any]] | None = None,
    step_fn: Callable[[Any], Any] | None = None,
    val_step_fn: Callable[[Any], Any] | None = None,
    device: torch.device | str | None = None,
    beta: float = 0.98,
    diverge_factor: float = 4.0,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    cpu_offload: bool = False,
    progress: bool | None = None,
    json_path: str | os.PathLike[str] | None = None,
) -> RangeTestResult:
    """Run the learning-rate range test (Smith 2017) and leave model and optimizer untouched.

    Rung ``i`` sets the optimizer's lr to ``lr[i]`` of the ladder
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
      start_lr: the first rung; ``None`` starts at the optimizer's own lr
        (torch-lr-finder's default): that of the group with ratio 1.
      end_lr: the last rung.
      num_steps: the rungs of the ladder.
      step_mode: ``'exp'`` (geometric ladder) or ``'linear'``.
      val_loader: when given, the whole loader's loss is measured after the update
        of every ``val_every``-th rung (NaN at the others), in eval mode, through
        ``val_step_fn``, else ``criterion`` or, when it is ``None`` (``step_fn``
        too), the model's own loss (its batches hold the labels). A BatchNorm layer that
        trains in batch-statistics mode is measured with its running averages
        recalibrated on the loader (one more forward pass over it, in train mode;
        the averages are put back afterwards): a range test's averages lag the
        weights by about ten updates, and would make the validation loss rise
        ten times too early. A layer frozen in eval mode keeps its averages.
      val_every: measure the validation loss every this many rungs (from rung 0).
      val_accuracy: also measure the validation accuracy (outputs are logits over
        their last axis, targets are class indices); needs a ``criterion``, whose
        ``(outputs, targets)`` it reads, or a ``val_step_fn`` that returns
        ``(loss, accuracy)``. A model's own loss comes with no targets cyclr could
        score (a language model's labels are shifted and masked).
        ``monitor='val_accuracy'`` turns it on.
      monitor: the curve the suggestions read: ``'loss'`` (default without a
        ``val_loader``), ``'val_loss'`` (default with one) or ``'val_accuracy'``.
      fine_tuning: the model starts from trained weights and all of it trains:
        ``result.bounds()`` reads a factor 2 lower (``BoundsSettings(fine_tuning=True)``,
        measured on four fine-tunings: docs/results.md, *Fine-tuning: the reading a
        factor 2 lower*).
      accumulation_steps: batches per rung (their gradients summed, loss divided
        by this count); one optimizer update per rung.
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
      batch_fn: ``batch -> (inputs, targets)`` for batches that are not pairs;
        ``inputs`` that are a tuple are passed as ``model(*inputs)``, a mapping
        as ``model(**inputs)``. Batches are moved to ``device`` (tensors nested in
        tuples, lists and mappings).
      step_fn: ``step_fn(batch) -> loss``, one training step by an engine (see
        above): the loss is a one-element tensor or a Python float. Batches
        reach it as the loader yields them (the engine places them).
      val_step_fn: ``val_step_fn(batch) -> loss``, one validation batch's mean loss
        as the engine computes it (a Lightning module's ``validation_step``),
        called in eval mode under ``torch.no_grad()`` with the batch as
        ``val_loader`` yields it; the passes weight batches by their size. With
        ``val_accuracy`` it returns ``(loss, accuracy)``, the batch's mean of each.
        Default: ``criterion``, or the model's own loss.
      device: where batches go (with ``step_fn``: validation batches only);
        default, the device of the model's first parameter.
      beta: the smoothing decay (see ``cyclr.rangetest.RangeTest``).
      diverge_factor: the divergence threshold (see ``cyclr.rangetest.RangeTest``).
      checkpoint_dir: keep the starting state in a temporary file in this folder
        instead of in memory (every rank its own file, removed afterwards).
      cpu_offload: keep the starting state in CPU memory instead of beside the
        model (on its GPU); not with ``checkpoint_dir``.
      progress: a tqdm progress bar; ``None`` shows one when stderr is a terminal.
      json_path: write ``result.to_json()`` here (rank 0 only).

    Returns:
      The :class:`~cyclr.RangeTestResult`; ``result.bounds()`` suggests a cyclical
      schedule's ``(base_lr, max_lr)``.

    Raises:
      ValueError: naming the parameter and the value received.
      TypeError: an ``optimizer`` without ``param_groups`` (or ``state_dict``,
        ``load_state_dict``, ``step``, ``zero_grad``), or a ``step_fn`` that
        returns something other than a loss.

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
    checked = _check_arguments(
        model,
        optimizer,
        criterion,
        batch_fn,
        step_fn,
        val_step_fn,
        accumulation_steps,
        val_every,
        val_loader,
        val_accuracy,
        monitor,
        amp,
        grad_scaler,
        max_grad_norm,
    )
    accumulation_steps, val_every, monitor, amp_dtype = checked
    val_accuracy = bool(val_accuracy) or monitor == "val_accuracy"
    if not isinstance(cpu_offload, bool):
        raise ValueError(f"cpu_offload must be True or False; received cpu_offload={cpu_offload!r}")
    if cpu_offload and checkpoint_dir is not None:
        raise ValueError(
            "give cpu_offload=True or checkpoint_dir, not both (the state goes to CPU memory "
            f"or to a file); received cpu_offload=True and checkpoint_dir={checkpoint_dir!r}"
        )
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    device = torch.device(device)
    if amp_dtype == torch.float16 and grad_scaler is None:
        grad_scaler = torch.amp.GradScaler(device.type)  # the test's own: nothing to restore
    trainer = _Trainer(
        model,
        optimizer,
        criterion=criterion,
        batch_fn=batch_fn or default_batch,
        step_fn=step_fn,
        val_step_fn=val_step_fn,
        device=device,
        accumulation_steps=accumulation_steps,
        amp_dtype=amp_dtype,
        grad_scaler=grad_scaler,
        max_grad_norm=None if max_grad_norm is None else float(max_grad_norm),
        val_accuracy=val_accuracy,
    )
    if start_lr is None:
        start_lr = _optimizer_lr(optimizer, trainer.ratios, step_mode)
    recorder = RangeTest(
        start_lr,
        end_lr,
        num_steps,
        step_mode=step_mode,
        beta=beta,
        diverge_factor=diverge_factor,
        monitor=monitor,
        fine_tuning=fine_tuning,
    )
    loaders = [train_loader] + ([] if val_loader is None else [val_loader])
    bar = _progress_bar(progress, recorder.settings.num_steps)
    try:
        with Snapshot(model, optimizer, loaders, checkpoint_dir, grad_scaler, cpu_offload):
            model.train()
            batches = _cycle(train_loader)
            skips = _Skips()
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
    finally:
        if bar is not None:
            bar.close()
    result = recorder.result()
    if json_path is not None and distributed.is_main_process():
        result.to_json(json_path)
    return result


def _check_optimizer(optimizer: Any, steps: bool) -> None:
    """An optimizer, or an engine's wrapper of one: ``param_groups`` and its state."""
    kind = f"{type(optimizer).__module__}.{type(optimizer).__qualname__}"
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, Sequence) or not groups:
        raise TypeError(
            "optimizer must be a torch.optim.Optimizer or an object with param_groups "
            f"(as accelerate's AcceleratedOptimizer); received optimizer of type {kind} "
            "without param_groups"
        )
    needed = ["state_dict", "load_state_dict"] + (["step", "zero_grad"] if steps else [])
    missing = [name for name in needed if not callable(getattr(optimizer, name, None))]
    if missing:
        raise TypeError(
            f"optimizer needs {', '.join(m + '()' for m in missing)} (the test restores its "
            f"state{' and steps it' if steps else ''}); received optimizer of type {kind}"
        )


def _amp_dtype(amp: Any) -> torch.dtype | None:
    if isinstance(amp, str) and amp in _AMP_DTYPES:
        return _AMP_DTYPES[amp]
    if not isinstance(amp, str) and amp in (True, False):
        return torch.bfloat16 if amp else None
    raise ValueError(
        f"amp must be False, True (bfloat16), 'bfloat16' or 'float16'; received amp={amp!r}"
    )


def _check_arguments(
    model: Any,
    optimizer: Any,
    criterion: Any,
    batch_fn: Any,
    step_fn: Any,
    val_step_fn: Any,
    accumulation_steps: Any,
    val_every: Any,
    val_loader: Any,
    val_accuracy: bool,
    monitor: str | None,
    amp: Any,
    grad_scaler: Any,
    max_grad_norm: Any,
) -> tuple[int, int, str, torch.dtype | None]:
    """``range_test``'s argument checks; ``(accumulation_steps, val_every, monitor, amp dtype)``."""
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; received model={model!r}")
    if step_fn is not None and not callable(step_fn):
        raise ValueError(f"step_fn must be callable; received step_fn={step_fn!r}")
    _check_optimizer(optimizer, steps=step_fn is None)
    if criterion is not None and not callable(criterion):
        raise ValueError(f"criterion must be callable or None; received criterion={criterion!r}")
    if batch_fn is not None and not callable(batch_fn):
        raise ValueError(f"batch_fn must be callable; received batch_fn={batch_fn!r}")
    accumulation_steps = check_count("accumulation_steps", accumulation_steps)
    val_every = check_count("val_every", val_every)
    amp_dtype = _amp_dtype(amp)
    if grad_scaler is not None and not isinstance(grad_scaler, torch.amp.GradScaler):
        raise ValueError(
            f"grad_scaler must be a torch.amp.GradScaler; received grad_scaler={grad_scaler!r}"
        )
    if max_grad_norm is not None and (
        isinstance(max_grad_norm, bool)
        or not isinstance(max_grad_norm, numbers.Real)
        or not 0 < float(max_grad_norm) < math.inf
    ):
        raise ValueError(
            "max_grad_norm must be a positive number or None; "
            f"received max_grad_norm={max_grad_norm!r}"
        )
    if step_fn is not None:
        if criterion is not None:
            raise ValueError(
                "give step_fn or criterion, not both: step_fn computes the loss itself; "
                f"received criterion={criterion!r} and step_fn={step_fn!r}"
            )
        engine_owned = {
            "accumulation_steps": accumulation_steps if accumulation_steps != 1 else None,
            "amp": amp if amp_dtype is not None else None,
            "grad_scaler": grad_scaler,
            "max_grad_norm": max_grad_norm,
            "batch_fn": batch_fn,
        }
        given = ", ".join(f"{k}={v!r}" for k, v in engine_owned.items() if v is not None)
        if given:
            raise ValueError(
                "with step_fn, accumulation, mixed precision, loss scaling, clipping and "
                "unpacking the batch are the engine's (step_fn does the whole step): "
                f"received step_fn with {given}"
            )
    elif criterion is None and batch_fn is not None:
        raise ValueError(
            "batch_fn makes the (inputs, targets) a criterion reads; with criterion=None the "
            f"batch goes to the model as it is; received batch_fn={batch_fn!r}"
        )
    if val_step_fn is not None and not callable(val_step_fn):
        raise ValueError(
            f"val_step_fn must be callable or None; received val_step_fn={val_step_fn!r}"
        )
    if val_loader is None and (
        val_accuracy or monitor in ("val_loss", "val_accuracy") or val_step_fn is not None
    ):
        raise ValueError(
            "validation needs a val_loader; received val_loader=None with "
            f"val_accuracy={val_accuracy!r}, monitor={monitor!r}, val_step_fn={val_step_fn!r}"
        )
    if val_step_fn is None and criterion is None and val_accuracy:
        raise ValueError(
            "val_accuracy reads the criterion's (outputs, targets); the model's own loss "
            "gives no targets to score; received criterion=None with "
            f"val_accuracy={val_accuracy!r}, monitor={monitor!r}"
        )
    if monitor is None:
        monitor = "loss" if val_loader is None else "val_loss"
    return accumulation_steps, val_every, monitor, amp_dtype
