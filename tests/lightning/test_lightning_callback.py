"""cyclr.lightning.RangeTestCallback with real Lightning on CPU."""

import copy

import pytest

pytest.importorskip("lightning")
import lightning.pytorch as pl
import torch
from lightning_setup import LADDER, Classifier, RateRecorder, same, state_copy, trainer

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
    callback = RangeTestCallback(**LADDER, verbose=False)
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
    callback = RangeTestCallback(**LADDER, verbose=False)
    trainer(max_steps=1, precision="bf16-mixed", callbacks=[callback]).fit(module)
    assert len(module.autocast_seen) == len(callback.result.lrs) + 1
    assert all(module.autocast_seen)


def test_on_bounds_hook_sees_the_bounds_on_the_module():
    seen = []

    def on_bounds(trainer, pl_module, bounds):
        seen.append((tuple(bounds), pl_module.hparams.base_lr, pl_module.hparams.max_lr))

    callback = RangeTestCallback(**LADDER, on_bounds=on_bounds, reconfigure=False, verbose=False)
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
        trainer(max_steps=1, callbacks=[RangeTestCallback(**LADDER, verbose=False)]).fit(module)
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
        trainer(max_steps=1, callbacks=[RangeTestCallback(**LADDER, verbose=False)]).fit(Manual())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_steps=1), "num_steps"),
        (dict(start_lr=-1.0), "start_lr"),
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
    callback = RangeTestCallback(**LADDER, verbose=False)
    plugin = MixedPrecision("16-mixed", "cpu", scaler=scaler)
    trainer(max_steps=0, plugins=[plugin], callbacks=[callback]).fit(module)
    assert len(module.scales) == len(callback.result.lrs) and max(module.scales) > 1024.0
    assert all(module.autocast_seen)
    assert scaler.state_dict() == saved and not scaler._per_optimizer_states


def test_gradient_clipping_of_the_trainer_applies_to_the_test():
    clipped, free = (RangeTestCallback(**LADDER, verbose=False) for _ in range(2))
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
    callback = RangeTestCallback(**LADDER, verbose=False)
    trainer(max_steps=1, callbacks=[callback]).fit(module)
    assert module.calls == len(callback.result.lrs) + 1 and len(callback.result.lrs) >= 10


def test_a_training_step_without_batch_idx_is_called_as_lightning_calls_it():
    class NoIndex(Classifier):
        def training_step(self, batch):
            return super().training_step(batch, None)

    module = NoIndex()
    callback = RangeTestCallback(**LADDER, verbose=False)
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
    callback = RangeTestCallback(**LADDER, verbose=False)
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
    callback = RangeTestCallback(**LADDER, verbose=False)
    with pytest.raises(RuntimeError, match="boom"):
        trainer(max_steps=1, callbacks=[before, callback, check]).fit(module)
    assert module.calls == 7 and check.same and callback.result is None
