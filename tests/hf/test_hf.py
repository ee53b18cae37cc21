"""cyclr.hf.range_test and cyclr.torch.CyclicLR in a real transformers.Trainer on CPU."""

import copy
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("transformers")
import torch
import transformers
from hf_setup import BATCH, N_SAMPLES, Rates, Tokens, trainer

import cyclr
import cyclr.hf
from cyclr.torch import CyclicLR

LADDER = cyclr.RangeTestSettings(1e-5, 10.0, 40)


def same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


class Forwards:
    """Counts the model's forward passes and whether autocast was on in each."""

    def __init__(self, model):
        self.autocast = []
        model.register_forward_pre_hook(
            lambda module, args: self.autocast.append(torch.is_autocast_enabled("cpu"))
        )


def test_range_test_accumulates_like_the_trainer_and_restores_everything(tmp_path):
    t = trainer(tmp_path, gradient_accumulation_steps=2)
    t.create_optimizer()
    # Some optimizer state and gradients to put back: one update by hand.
    batch = next(iter(t.get_train_dataloader()))
    t.model(**batch).loss.backward()
    t.optimizer.step()
    model_state = copy.deepcopy(t.model.state_dict())
    optimizer_state = copy.deepcopy(t.optimizer.state_dict())
    grads = [p.grad.clone() for p in t.model.parameters()]
    rng = torch.get_rng_state()
    forwards = Forwards(t.model)
    t.model.eval()

    result = cyclr.hf.range_test(t, settings=LADDER)

    assert len(forwards.autocast) == 2 * len(result.lrs) and len(result.lrs) >= 10
    assert same(t.model.state_dict(), model_state)
    assert same(t.optimizer.state_dict(), optimizer_state)
    assert same([p.grad for p in t.model.parameters()], grads)
    assert torch.equal(torch.get_rng_state(), rng) and not t.model.training
    base_lr, max_lr = result.bounds()
    assert 0 < base_lr < max_lr


def test_the_bounds_drive_cyclic_lr_and_training_is_as_without_the_test(tmp_path):
    rates = Rates()
    tested = trainer(tmp_path / "a", gradient_accumulation_steps=2, callbacks=[rates])
    result = cyclr.hf.range_test(tested, settings=LADDER)
    assert tested.optimizer is None  # left as found
    optimizer = tested.create_optimizer()  # the Trainer's own, from the TrainingArguments
    assert isinstance(optimizer, torch.optim.AdamW)
    schedule = cyclr.CyclicSchedule(*result.bounds(), step_size=2)
    tested.lr_scheduler = CyclicLR(optimizer, schedule)
    tested.train()

    steps = N_SAMPLES // BATCH // 2
    assert rates.lrs == [schedule(k) for k in range(steps)]
    assert tested.lr_scheduler.step_count == steps

    # The same training without the test: bit for bit the same weights.
    plain = trainer(tmp_path / "b", gradient_accumulation_steps=2)
    plain.create_optimizer()
    plain.lr_scheduler = CyclicLR(plain.optimizer, schedule)
    plain.train()
    assert same(tested.model.state_dict(), plain.model.state_dict())
    assert not same(tested.model.state_dict(), trainer(tmp_path / "c").model.state_dict())


def test_a_learning_rate_set_after_the_test_is_the_one_train_uses(tmp_path):
    """The test leaves a Trainer without an optimizer as it found it: train() then builds
    one from the arguments as they are (before, it trained at the old rate, silently)."""
    rates = Rates()
    t = trainer(tmp_path, callbacks=[rates])
    result = cyclr.hf.range_test(t, settings=LADDER)
    assert t.optimizer is None and t.lr_scheduler is None
    _, max_lr = result.bounds()
    assert max_lr != t.args.learning_rate
    t.args.learning_rate = max_lr
    t.train()
    steps = N_SAMPLES // BATCH
    # the Trainer's own default schedule (linear decay to 0, no warm-up) from the new rate
    assert rates.lrs == pytest.approx([max_lr * (1 - k / steps) for k in range(steps)], rel=1e-12)


def test_an_optimizer_the_trainer_already_had_is_kept(tmp_path):
    t = trainer(tmp_path)
    optimizer = t.create_optimizer()
    cyclr.hf.range_test(t, settings=LADDER)
    assert t.optimizer is optimizer


def test_cyclic_lr_in_optimizers_counts_updates_not_micro_batches(tmp_path):
    model_for_opt = trainer(tmp_path).model
    opt = torch.optim.AdamW(model_for_opt.parameters(), lr=0.0)
    schedule = cyclr.CyclicSchedule(1e-4, 1e-3, step_size=2, base_momentum=0.85, max_momentum=0.95)
    rates = Rates()
    t = transformers.Trainer(
        model=model_for_opt,
        args=trainer(tmp_path).args,
        train_dataset=trainer(tmp_path).train_dataset,
        data_collator=trainer(tmp_path).data_collator,
        optimizers=(opt, CyclicLR(opt, schedule)),
        callbacks=[rates],
    )
    t.args.gradient_accumulation_steps = 2
    forwards = Forwards(t.model)
    t.train()
    steps = N_SAMPLES // BATCH // 2
    assert len(forwards.autocast) == 2 * steps
    assert rates.lrs == [schedule(k) for k in range(steps)]
    assert rates.betas == [schedule.momentum(k) for k in range(steps)]
    assert rates.lrs[2] == 1e-3  # the top after step_size=2 updates (4 micro-batches)


def test_bf16_runs_the_test_under_the_accelerators_autocast(tmp_path):
    t = trainer(tmp_path, bf16=True)
    forwards = Forwards(t.model)
    result = cyclr.hf.range_test(t, settings=LADDER)
    assert len(forwards.autocast) == len(result.lrs) and all(forwards.autocast)


def test_a_model_without_labels_needs_a_criterion(tmp_path):
    t = trainer(tmp_path, labels=False)
    weights = copy.deepcopy(t.model.state_dict())
    with pytest.raises(ValueError, match="the model returned no loss") as error:
        cyclr.hf.range_test(t, settings=LADDER)
    message = str(error.value)
    assert "['attention_mask', 'input_ids'] (label_names=['labels'])" in message
    assert "criterion=None" in message
    assert same(t.model.state_dict(), weights)

    def criterion(outputs, batch):
        target = (batch["input_ids"] == 3).any(dim=1).long()
        return torch.nn.functional.cross_entropy(outputs.logits, target)

    result = cyclr.hf.range_test(t, criterion=criterion, settings=LADDER)
    assert len(result.lrs) >= 10 and result.losses[0] == pytest.approx(0.69, abs=0.05)
    assert same(t.model.state_dict(), weights)


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"trainer must be a transformers\.Trainer"):
        cyclr.hf.range_test(object())
    with pytest.raises(ValueError, match="criterion=3"):
        cyclr.hf.range_test(trainer(tmp_path), criterion=3)
    with pytest.raises(ValueError, match=r"settings must be a cyclr\.RangeTestSettings; received"):
        cyclr.hf.range_test(trainer(tmp_path), settings={"num_steps": 40})
    with pytest.raises(ValueError, match=r"no accuracy; received settings\.monitor='val_acc"):
        cyclr.hf.range_test(trainer(tmp_path), settings=replace(LADDER, monitor="val_accuracy"))


def test_max_grad_norm_of_the_arguments_applies_to_the_test(tmp_path):
    free = cyclr.hf.range_test(trainer(tmp_path / "a"), settings=LADDER)
    clipped = cyclr.hf.range_test(trainer(tmp_path / "b", max_grad_norm=1e-9), settings=LADDER)
    assert free.stop_reason == "diverged"
    # Updates of norm 1e-9 * lr (Adam: its normalized step) cannot make the loss diverge.
    assert clipped.stop_reason == "end_of_ladder"


@pytest.mark.parametrize("absent", ["transformers", "accelerate"])
def test_without_transformers_or_accelerate_the_import_names_the_extra(monkeypatch, absent):
    import sys

    from cyclr import _extras

    monkeypatch.setattr(_extras, "_absent", lambda name: name == absent)
    for name in [m for m in sys.modules if m.startswith("cyclr.hf")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(_extras.MissingExtra, match=rf'needs {absent},.*"cyclr\[hf\]"'):
        __import__("cyclr.hf")


def test_resuming_from_a_trainer_checkpoint_continues_the_cycle(tmp_path):
    schedule = cyclr.CyclicSchedule(1e-4, 1e-3, step_size=4)

    def run(out, resume=None, **kwargs):
        rates = Rates()
        t = trainer(
            out, gradient_accumulation_steps=2, num_train_epochs=2, callbacks=[rates], **kwargs
        )
        t.create_optimizer()
        t.lr_scheduler = CyclicLR(t.optimizer, schedule)
        t.train(resume_from_checkpoint=resume)
        return t, rates

    whole, whole_rates = run(tmp_path / "whole")
    _, first_rates = run(tmp_path / "half", save_strategy="steps", save_steps=6, max_steps=6)
    # The Trainer reloads CyclicLR's plain-data state_dict from its checkpoint.
    rest, rest_rates = run(tmp_path / "rest", resume=str(tmp_path / "half" / "checkpoint-6"))
    assert len(first_rates.lrs) == len(rest_rates.lrs) == 6
    assert first_rates.lrs + rest_rates.lrs == whole_rates.lrs == [schedule(k) for k in range(12)]
    assert rest.lr_scheduler.step_count == 12
    assert same(rest.model.state_dict(), whole.model.state_dict())


def test_an_error_in_the_middle_of_the_test_restores_model_and_optimizer(tmp_path):
    t = trainer(tmp_path)
    t.create_optimizer()
    model_state = copy.deepcopy(t.model.state_dict())
    optimizer_state = copy.deepcopy(t.optimizer.state_dict())
    calls = []

    def criterion(outputs, batch):
        calls.append(1)
        if len(calls) == 6:  # after five updates
            raise RuntimeError("boom")
        return outputs.loss

    with pytest.raises(RuntimeError, match="boom"):
        cyclr.hf.range_test(t, criterion=criterion, settings=LADDER)
    assert same(t.model.state_dict(), model_state)
    assert same(t.optimizer.state_dict(), optimizer_state)


def test_the_accelerators_loss_scaler_scales_the_test_and_is_put_back(tmp_path):
    t = trainer(tmp_path)
    # growth_interval=1: the scale doubles after every update the test makes
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=1)
    t.accelerator.scaler = scaler
    saved = copy.deepcopy(scaler.state_dict())
    scales = []

    def criterion(outputs, batch):
        scales.append(scaler.get_scale())
        return outputs.loss

    result = cyclr.hf.range_test(t, criterion=criterion, settings=LADDER)
    assert len(scales) == len(result.lrs) and max(scales) > 1024.0
    assert scaler.state_dict() == saved and not scaler._per_optimizer_states


def test_an_eval_dataset_is_measured_and_read_for_the_bounds(tmp_path):
    t = trainer(tmp_path)
    t.eval_dataset = Tokens(n=32, seed=1)
    result = cyclr.hf.range_test(t, settings=LADDER)
    assert result.settings.monitor == "val_loss"
    # every settings.val_every-th rung, 2 by default
    measured = ~np.isnan(result.val_losses)
    assert measured[::2].all() and not measured[1::2].any()
    # the default reading is the validation curve's; the training loss is still there
    assert result.bounds() == result.bounds(monitor="val_loss")
    assert result.bounds(monitor="loss").max_lr > 0
    spaced = cyclr.hf.range_test(t, settings=replace(LADDER, val_every=5))
    measured = ~np.isnan(spaced.val_losses)
    assert measured.tolist() == [i % 5 == 0 for i in range(len(spaced.lrs))]
    # monitor='loss': no passes over the eval_dataset, the training loss read
    plain = cyclr.hf.range_test(t, settings=replace(LADDER, monitor="loss"))
    assert plain.val_losses is None and plain.settings.monitor == "loss"
    assert plain.losses[0] == result.losses[0]  # the same test, less the passes


def test_fine_tuning_reads_the_same_curve_a_factor_two_lower(tmp_path):
    from cyclr.rangetest.bounds import FINE_TUNING_DECADES

    t = trainer(tmp_path)
    t.eval_dataset = Tokens(n=32, seed=1)
    plain = cyclr.hf.range_test(t, settings=LADDER)
    tuned = cyclr.hf.range_test(t, settings=replace(LADDER, fine_tuning=True))  # t as it was
    assert tuned.settings.fine_tuning and not plain.settings.fine_tuning
    np.testing.assert_array_equal(tuned.val_losses, plain.val_losses)
    lowered = 10.0**FINE_TUNING_DECADES
    assert tuned.bounds().max_lr == pytest.approx(plain.bounds().max_lr / lowered, rel=1e-12)
    assert tuned.bounds().base_lr == pytest.approx(plain.bounds().base_lr / lowered, rel=1e-12)
