"""RangeTestCallback(policy=...): the schedule for the planned run, in configure_optimizers."""

import pytest

pytest.importorskip("lightning")
import lightning.pytorch as pl
import torch
from lightning_setup import LADDER, Samples, same, trainer

import cyclr
from cyclr.lightning import RangeTestCallback, scheduler_config
from cyclr.rangetest.policies import PEAK_READINGS


class Scheduled(pl.LightningModule):
    """A small MLP trained with AdamW on the schedule the callback puts in hparams.

    ``batchnorm``: with a ``BatchNorm1d`` after its first layer.
    """

    def __init__(self, lr=1e-3, schedule=None, batchnorm=False):
        super().__init__()
        self.save_hyperparameters()
        torch.manual_seed(0)
        norm = [torch.nn.BatchNorm1d(16)] if batchnorm else []
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), *norm, torch.nn.Tanh(), torch.nn.Linear(16, 3)
        )
        self.calls = 0

    def train_dataloader(self):
        return torch.utils.data.DataLoader(Samples(), batch_size=16)

    def training_step(self, batch, batch_idx):
        self.calls += 1
        return torch.nn.functional.cross_entropy(self.net(batch["x"]), batch["y"])

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)
        if self.hparams.schedule is None:  # before the range test: the optimizer it runs on
            return opt
        schedule = cyclr.deserialize(self.hparams.schedule)
        return {"optimizer": opt, "lr_scheduler": scheduler_config(schedule, opt)}


class Rates(pl.Callback):
    """The lr and beta_1 of every optimizer step, as used by it."""

    def __init__(self):
        self.lrs, self.betas = [], []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.lrs.append(optimizer.param_groups[0]["lr"])
        self.betas.append(optimizer.param_groups[0]["betas"][0])


class StopAfter(pl.Callback):
    """Ends the fit after ``epochs`` epochs of a longer plan (the plan sets the schedule)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_train_epoch_end(self, trainer, pl_module):
        if trainer.current_epoch + 1 == self.epochs:
            trainer.should_stop = True


# 192 samples in batches of 16: 12 batches per epoch.
@pytest.mark.parametrize(
    "policy, plan, total, per_epoch",
    [
        ("cosine", dict(max_epochs=4, accumulate_grad_batches=2), 24, 6),
        ("onecycle", dict(max_epochs=4, max_steps=10), 10, 12),
        ("triangular", dict(max_epochs=16, limit_train_batches=3), 48, 3),
    ],
)
def test_the_policys_schedule_for_the_planned_run_trains(policy, plan, total, per_epoch):
    callback = RangeTestCallback(LADDER, policy=policy, verbose=False)
    rates = Rates()
    module = Scheduled()
    trainer(callbacks=[callback, rates], **plan).fit(module)

    schedule = callback.schedule
    assert callback.result.optimizer == "AdamW"  # configure_optimizers' optimizer: Adam's factor
    assert callback.result.batchnorm is False  # an MLP without BatchNorm layers
    assert schedule == callback.result.schedule(
        policy, total, steps_per_epoch=per_epoch, optimizer="adam", batchnorm=False
    )
    assert schedule == callback.result.schedule(policy, total, steps_per_epoch=per_epoch)
    assert module.hparams.schedule == cyclr.serialize(schedule)  # plain data
    assert "base_lr" not in module.hparams and "max_lr" not in module.hparams
    assert rates.lrs == [schedule(k) for k in range(total)]
    if schedule.has_momentum:  # OneCycle's momentum drives AdamW's beta_1
        assert rates.betas == [schedule.momentum(k) for k in range(total)]
    if policy == "triangular":  # a half cycle of 4 passes over the 3 batches: 2 whole cycles
        assert schedule.step_size == 12 != callback.result.schedule(policy, total).step_size


def test_a_module_with_batchnorm_layers_gets_adams_batchnorm_reading():
    callback = RangeTestCallback(LADDER, policy="wsd", verbose=False)
    module = Scheduled(batchnorm=True)
    trainer(max_epochs=2, callbacks=[callback]).fit(module)  # 12 batches an epoch
    result = callback.result
    assert (result.optimizer, result.batchnorm) == ("AdamW", True)
    top = result.bounds().max_lr
    assert callback.schedule.peak_lr == top * PEAK_READINGS["wsd"]["adam_batchnorm"]
    assert callback.schedule == result.schedule("wsd", 24, optimizer="adam", batchnorm=True)
    assert callback.schedule != result.schedule("wsd", 24, batchnorm=False)


def test_without_a_policy_the_bounds_are_handed_over_as_before():
    callback = RangeTestCallback(LADDER, verbose=False)
    module = Scheduled()
    trainer(max_steps=1, callbacks=[callback]).fit(module)
    assert callback.schedule is None and module.hparams.schedule is None
    assert (module.hparams.base_lr, module.hparams.max_lr) == tuple(callback.bounds)


def test_resuming_a_checkpoint_goes_on_with_the_same_schedule(tmp_path):
    def run(callbacks, **fit):
        module, rates = Scheduled(), Rates()
        t = trainer(max_epochs=4, callbacks=[*callbacks, rates])
        t.fit(module, **fit)
        return t, module, rates

    whole_test = RangeTestCallback(LADDER, policy="wsd", verbose=False)
    _, whole, whole_rates = run([whole_test])
    first_test = RangeTestCallback(LADDER, policy="wsd", verbose=False)
    first, _, first_rates = run([first_test, StopAfter(2)])
    path = tmp_path / "half.ckpt"
    first.save_checkpoint(path)
    resumed_test = RangeTestCallback(LADDER, policy="wsd", verbose=False)
    # Lightning's default load of its own checkpoint: weights-only, hparams included
    _, resumed, resumed_rates = run([resumed_test], ckpt_path=path)

    assert resumed.calls == len(resumed_rates.lrs) == 24  # no second test
    assert resumed_test.schedule == first_test.schedule == whole_test.schedule
    assert first_rates.lrs + resumed_rates.lrs == whole_rates.lrs
    assert len(set(whole_rates.lrs)) > 3
    assert same(resumed.state_dict(), whole.state_dict())
    again = Scheduled.load_from_checkpoint(path, weights_only=True)
    assert cyclr.deserialize(again.hparams.schedule) == whole_test.schedule


def test_a_bad_policy_or_a_run_too_short_for_one_is_named():
    with pytest.raises(ValueError, match="received policy='warmup_cosine'"):
        RangeTestCallback(policy="warmup_cosine")
    callback = RangeTestCallback(LADDER, policy="cosine", verbose=False)
    with pytest.raises(ValueError, match=r"policy='cosine'.*estimated_stepping_batches=1"):
        trainer(max_steps=1, callbacks=[callback]).fit(Scheduled())
