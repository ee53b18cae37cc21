"""cyclr.lightning.RangeTestCallback with real Lightning on CPU."""

import copy
import math
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("lightning")
import lightning.pytorch as pl
import torch
from lightning_setup import (
    LADDER,
    Classifier,
    RateRecorder,
    Samples,
    Validated,
    same,
    state_copy,
    trainer,
)

import cyclr
from cyclr.lightning import RangeTestCallback


class Before(pl.Callback):
    """Gives the optimizer some state (one update, gradients left set), then snapshots all."""

    def on_fit_start(self, trainer, pl_module):
        self.optimizer = opt = trainer.optimizers[0]
        batch = next(iter(pl_module.train_dataloader()))
        torch.nn.functional.cross_entropy(pl_module.net(batch["x"]), batch["y"]).backward()
        opt.step()
        self.state = state_copy(pl_module, opt)
        self.grads = [p.grad.clone() for p in pl_module.parameters()]
        self.rng = torch.get_rng_state()
        self.calls = pl_module.calls


class After(pl.Callback):
    """Compares everything with Before's snapshot, right after the range test."""

    def __init__(self, before):
        self.before = before

    def on_fit_start(self, trainer, pl_module):
        old = self.before.optimizer
        self.same_state = same(state_copy(pl_module, old), self.before.state)
        self.same_grads = same([p.grad for p in pl_module.parameters()], self.before.grads)
        self.same_rng = torch.equal(torch.get_rng_state(), self.before.rng)
        self.test_calls = pl_module.calls - self.before.calls
        self.new_optimizer = trainer.optimizers[0]
        self.new_lr = self.new_optimizer.param_groups[0]["lr"]
        self.same_modes = all(not m.training for m in pl_module.net.modules())


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_range_test_at_fit_start_restores_everything_and_reconfigures(optimizer):
    module = Classifier(optimizer=optimizer, returns="dict")
    before = Before()
    after = After(before)
    callback = RangeTestCallback(LADDER, verbose=False)
    module.net.eval()  # a mode to restore: the test trains in train mode
    trainer(max_steps=1, accumulate_grad_batches=2, callbacks=[before, callback, after]).fit(module)

    result = callback.result
    assert result is not None and len(result.lrs) >= 10
    # accumulate_grad_batches batches per rung, through the module's own training_step
    assert after.test_calls == 2 * len(result.lrs)
    assert after.same_state and after.same_grads and after.same_rng and after.same_modes
    base_lr, max_lr = callback.bounds
    assert 0 < base_lr < max_lr
    assert module.hparams.base_lr == base_lr and module.hparams.max_lr == max_lr
    # configure_optimizers ran again with the bounds: a new optimizer at schedule(0) = base_lr
    assert after.new_optimizer is not before.optimizer and after.new_lr == base_lr


def test_bf16_precision_runs_the_test_under_autocast():
    module = Classifier()
    callback = RangeTestCallback(LADDER, verbose=False)
    trainer(max_steps=1, precision="bf16-mixed", callbacks=[callback]).fit(module)
    assert len(module.autocast_seen) == len(callback.result.lrs) + 1
    assert all(module.autocast_seen)


def test_on_bounds_hook_sees_the_bounds_on_the_module():
    seen = []

    def on_bounds(trainer, pl_module, bounds):
        seen.append((tuple(bounds), pl_module.hparams.base_lr, pl_module.hparams.max_lr))

    callback = RangeTestCallback(LADDER, on_bounds=on_bounds, reconfigure=False, verbose=False)
    module = Classifier()
    recorder = RateRecorder()
    trainer(max_steps=2, callbacks=[callback, recorder]).fit(module)
    ((bounds, base_lr, max_lr),) = seen
    assert bounds == (base_lr, max_lr) == tuple(callback.bounds)
    # reconfigure=False: training used the optimizer built before the test (hparams' defaults)
    assert recorder.lrs == [cyclr.CyclicSchedule(0.01, 0.1, step_size=3)(k) for k in (0, 1)]


@pytest.mark.parametrize(
    "returns, got", [("none", "returned None"), ("no-loss", "with keys ['logits']")]
)
def test_training_step_without_a_loss_is_named_and_the_model_restored(returns, got):
    module = Classifier(returns=returns)
    weights = copy.deepcopy(module.state_dict())
    with pytest.raises(ValueError, match="training_step") as error:
        trainer(max_steps=1, callbacks=[RangeTestCallback(LADDER, verbose=False)]).fit(module)
    assert got in str(error.value)
    assert same(module.state_dict(), weights)


def test_manual_optimization_is_refused_by_name():
    class Manual(Classifier):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            return None

    with pytest.raises(ValueError, match="automatic_optimization=False"):
        trainer(max_steps=1, callbacks=[RangeTestCallback(LADDER, verbose=False)]).fit(Manual())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(settings=dict(num_steps=40)), r"settings=\{'num_steps': 40\}"),
        (dict(settings=cyclr.RangeTestResult), "settings must be a cyclr.RangeTestSettings"),
        (dict(on_bounds=3), "on_bounds=3"),
    ],
)
def test_bad_settings_are_refused_when_built(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RangeTestCallback(**kwargs)


def test_float16_loss_scaling_goes_through_the_trainers_scaler_and_is_put_back():
    from lightning.pytorch.plugins.precision import MixedPrecision

    class Probe(Classifier):
        def training_step(self, batch, batch_idx):
            self.scales.append(self.trainer.precision_plugin.scaler.get_scale())
            return super().training_step(batch, batch_idx)

    module = Probe()
    module.scales = []
    # growth_interval=1: the scale doubles after every update the test makes
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=1)
    saved = copy.deepcopy(scaler.state_dict())
    callback = RangeTestCallback(LADDER, verbose=False)
    plugin = MixedPrecision("16-mixed", "cpu", scaler=scaler)
    trainer(max_steps=0, plugins=[plugin], callbacks=[callback]).fit(module)
    assert len(module.scales) == len(callback.result.lrs) and max(module.scales) > 1024.0
    assert all(module.autocast_seen)
    assert scaler.state_dict() == saved and not scaler._per_optimizer_states


def test_gradient_clipping_of_the_trainer_applies_to_the_test():
    clipped, free = (RangeTestCallback(LADDER, verbose=False) for _ in range(2))
    trainer(max_steps=0, callbacks=[free]).fit(Classifier())
    trainer(max_steps=0, gradient_clip_val=1e-6, callbacks=[clipped]).fit(Classifier())
    assert free.result.stop_reason == "diverged"
    # Updates of norm 1e-6 * lr cannot make the loss diverge on this ladder.
    assert clipped.result.stop_reason == "end_of_ladder"


def test_several_train_dataloaders_come_as_lightning_combines_them():
    class Two(Classifier):
        def train_dataloader(self):
            return {"a": super().train_dataloader(), "b": super().train_dataloader()}

        def training_step(self, batch, batch_idx):
            assert set(batch) == {"a", "b"}
            return super().training_step(batch["a"], batch_idx)

    module = Two()
    callback = RangeTestCallback(LADDER, verbose=False)
    trainer(max_steps=1, callbacks=[callback]).fit(module)
    assert module.calls == len(callback.result.lrs) + 1 and len(callback.result.lrs) >= 10


def test_a_training_step_without_batch_idx_is_called_as_lightning_calls_it():
    class NoIndex(Classifier):
        def training_step(self, batch):
            return super().training_step(batch, None)

    module = NoIndex()
    callback = RangeTestCallback(LADDER, verbose=False)
    trainer(max_steps=1, callbacks=[callback]).fit(module)
    assert module.calls == len(callback.result.lrs) + 1


def test_a_datamodules_batch_hook_shapes_the_tests_batches_too():
    class Pairs(pl.LightningDataModule):
        def train_dataloader(self):
            data = Classifier().train_dataloader().dataset
            pairs = torch.utils.data.TensorDataset(data.x, data.y)
            return torch.utils.data.DataLoader(pairs, batch_size=16)

        def on_before_batch_transfer(self, batch, dataloader_idx):
            x, y = batch
            return {"x": x, "y": y}  # what Classifier.training_step reads

    module = Classifier()
    callback = RangeTestCallback(LADDER, verbose=False)
    trainer(max_steps=1, callbacks=[callback]).fit(module, datamodule=Pairs())
    assert module.calls == len(callback.result.lrs) + 1 and len(callback.result.lrs) >= 10


def test_an_error_in_the_middle_of_the_test_restores_the_module_and_optimizer():
    class Failing(Classifier):
        def training_step(self, batch, batch_idx):
            if self.calls == 7:  # after six updates at growing rates
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    module = Failing(optimizer="adam")
    before = Before()
    module.calls = 1  # Before's update is not a training_step call

    class Check(pl.Callback):
        def on_exception(self, trainer, pl_module, exception):
            self.same = same(state_copy(pl_module, before.optimizer), before.state)

    check = Check()
    callback = RangeTestCallback(LADDER, verbose=False)
    with pytest.raises(RuntimeError, match="boom"):
        trainer(max_steps=1, callbacks=[before, callback, check]).fit(module)
    assert module.calls == 7 and check.same and callback.result is None


# -- the validation curve ------------------------------------------------------------------


def plain_range_test(module, val_batches):
    """The same test through cyclr.torch.range_test on the bare network: the reference."""
    twin = copy.deepcopy(module)
    optimizer = twin.configure_optimizers()["optimizer"]  # its scheduler sets the momentum
    return cyclr.torch.range_test(
        twin.net,
        optimizer,
        torch.nn.functional.cross_entropy,
        module.train_dataloader(),
        settings=LADDER,  # val_every=2, the callback's too
        batch_fn=lambda batch: (batch["x"], batch["y"]),
        val_loader=val_batches,
    )


@pytest.mark.parametrize("val_batches", [1, 2])
def test_with_a_validation_step_the_bounds_read_the_validation_loss(val_batches):
    module = Validated()
    reference = plain_range_test(module, list(module.val_dataloader())[:val_batches])
    callback = RangeTestCallback(LADDER, val_batches=val_batches, verbose=False)
    trainer(max_steps=0, num_sanity_val_steps=0, callbacks=[callback]).fit(module)
    result = callback.result
    assert result.settings.monitor == "val_loss"
    assert result.losses.tolist() == pytest.approx(reference.losses.tolist(), rel=1e-6)
    np.testing.assert_allclose(result.val_losses, reference.val_losses, rtol=1e-6)
    assert np.isnan(result.val_losses[1]) and not np.isnan(result.val_losses[2])
    assert tuple(callback.bounds) == tuple(result.bounds()) == tuple(reference.bounds())
    # each pass: the BatchNorm recalibrated (train mode) on the batches, then eval mode
    passes = math.ceil(len(result.lrs) / 2)
    assert (
        module.val_modes
        == ([(True, False)] * val_batches + [(False, False)] * val_batches) * passes
    )


def test_fine_tuning_reads_the_same_curve_for_fine_tuning():
    from cyclr.rangetest import BoundsSettings

    module = Validated()
    reference = plain_range_test(module, list(module.val_dataloader())[:1])
    callback = RangeTestCallback(replace(LADDER, fine_tuning=True), verbose=False)
    trainer(max_steps=0, num_sanity_val_steps=0, callbacks=[callback]).fit(module)
    result = callback.result
    assert result.settings.fine_tuning and result.settings.monitor == "val_loss"
    np.testing.assert_allclose(result.val_losses, reference.val_losses, rtol=1e-6)
    expected = reference.bounds(settings=BoundsSettings(fine_tuning=True))
    assert tuple(callback.bounds) == pytest.approx(tuple(expected), rel=1e-9)
    assert callback.bounds.max_lr < reference.bounds().max_lr
    assert (module.hparams.base_lr, module.hparams.max_lr) == tuple(callback.bounds)


def test_a_validation_step_that_returns_its_loss_needs_no_log():
    module = Validated(logs=None, returns_val=True)
    callback = RangeTestCallback(LADDER, verbose=False)
    trainer(max_steps=0, num_sanity_val_steps=0, callbacks=[callback]).fit(module)
    reference = plain_range_test(Validated(), list(module.val_dataloader())[:1])
    np.testing.assert_allclose(callback.result.val_losses, reference.val_losses, rtol=1e-6)


def test_the_logged_name_is_val_metric_and_a_wrong_one_is_named():
    module = Validated(logs="val/loss")
    weights = copy.deepcopy(module.state_dict())
    with pytest.raises(ValueError, match=r"logged 'val_loss' \(it logged \['val/loss'\]\)"):
        trainer(
            max_steps=0,
            num_sanity_val_steps=0,
            callbacks=[RangeTestCallback(LADDER, verbose=False)],
        ).fit(module)
    assert same(module.state_dict(), weights)
    callback = RangeTestCallback(LADDER, val_metric="val/loss", verbose=False)
    trainer(max_steps=0, num_sanity_val_steps=0, callbacks=[callback]).fit(
        Validated(logs="val/loss")
    )
    assert callback.result.settings.monitor == "val_loss"


def test_monitor_loss_skips_validation_and_val_loss_without_a_validation_step_is_refused(capsys):
    module = Validated()
    callback = RangeTestCallback(replace(LADDER, monitor="loss"), verbose=False)
    trainer(max_steps=0, num_sanity_val_steps=0, callbacks=[callback]).fit(module)
    assert callback.result.val_losses is None and module.val_modes == []
    with pytest.raises(ValueError, match="monitor='val_loss' needs a validation_step"):
        trainer(
            max_steps=0,
            callbacks=[RangeTestCallback(replace(LADDER, monitor="val_loss"))],
        ).fit(Classifier())
    # the default falls back to the training loss and says so
    callback = RangeTestCallback(LADDER, verbose=False)
    trainer(max_steps=0, limit_val_batches=0, callbacks=[callback]).fit(Validated())
    assert callback.result.settings.monitor == "loss" and callback.result.val_losses is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(accuracy_metric=""), "accuracy_metric=''"),
        (dict(val_batches=1.5), "val_batches=1.5"),
        (dict(val_metric=""), "val_metric=''"),
    ],
)
def test_bad_validation_settings_are_refused_when_built(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RangeTestCallback(**kwargs)


def test_with_validation_everything_is_put_back_too():
    class Shuffled(Validated):
        def val_dataloader(self):  # draws its order from torch's global generator
            return torch.utils.data.DataLoader(Samples(48, seed=5), batch_size=16, shuffle=True)

    module = Shuffled(optimizer="adam")
    before = Before()
    after = After(before)
    module.net.eval()
    callback = RangeTestCallback(LADDER, verbose=False)
    trainer(max_steps=1, num_sanity_val_steps=0, callbacks=[before, callback, after]).fit(module)
    assert callback.result.settings.monitor == "val_loss"
    assert after.same_state and after.same_grads and after.same_rng and after.same_modes


def test_with_several_validation_loaders_the_first_is_read_as_lightning_calls_the_step():
    class Two(Validated):
        def val_dataloader(self):
            return [super().val_dataloader(), []]

        def validation_step(self, batch, batch_idx, dataloader_idx=None):
            assert dataloader_idx == 0  # Lightning passes it with several loaders
            return super().validation_step(batch, batch_idx)

    one, two = (RangeTestCallback(LADDER, verbose=False) for _ in range(2))
    trainer(max_steps=0, num_sanity_val_steps=0, callbacks=[one]).fit(Validated())
    trainer(max_steps=0, num_sanity_val_steps=0, callbacks=[two]).fit(Two())
    np.testing.assert_array_equal(two.result.val_losses, one.result.val_losses)


class Scored(Validated):
    """Logs its accuracy beside its loss, as Lightning examples do."""

    def validation_step(self, batch, batch_idx):
        out = self.net(batch["x"])
        self.log("val_loss", torch.nn.functional.cross_entropy(out, batch["y"]))
        self.log("val_acc", (out.argmax(dim=-1) == batch["y"]).float().mean())


def test_monitor_val_accuracy_reads_the_accuracy_validation_step_logs():
    module = Scored()
    twin = copy.deepcopy(module)
    optimizer = twin.configure_optimizers()["optimizer"]
    reference = cyclr.torch.range_test(
        twin.net,
        optimizer,
        torch.nn.functional.cross_entropy,
        module.train_dataloader(),
        settings=replace(LADDER, monitor="val_accuracy"),
        batch_fn=lambda batch: (batch["x"], batch["y"]),
        val_loader=list(module.val_dataloader())[:1],
        val_accuracy=True,
    )
    callback = RangeTestCallback(
        replace(LADDER, monitor="val_accuracy"),
        accuracy_metric="val_acc",
        verbose=False,
    )
    trainer(max_steps=0, num_sanity_val_steps=0, callbacks=[callback]).fit(module)
    result = callback.result
    assert result.settings.monitor == "val_accuracy"
    np.testing.assert_allclose(result.val_accuracies, reference.val_accuracies, rtol=1e-6)
    np.testing.assert_allclose(result.val_losses, reference.val_losses, rtol=1e-6)
    assert np.nanmax(result.val_accuracies) > np.nanmin(result.val_accuracies)
    # the default name is refused by name when the step logs another
    with pytest.raises(ValueError, match=r"logs as 'val_accuracy', but it logged \['val_acc'"):
        trainer(
            max_steps=0,
            num_sanity_val_steps=0,
            callbacks=[RangeTestCallback(replace(LADDER, monitor="val_accuracy"), verbose=False)],
        ).fit(Scored())
