"""cyclr.lightning.scheduler_config: per optimizer step, resumable, seen by LearningRateMonitor."""

import csv

import pytest

pytest.importorskip("lightning")
import lightning.pytorch as pl
import torch
from lightning_setup import BATCH, LADDER, N_SAMPLES, Classifier, RateRecorder, same, trainer

import cyclr
from cyclr.lightning import RangeTestCallback, scheduler_config
from cyclr.torch import CyclicLR


def test_with_accumulation_the_cycle_counts_optimizer_steps_not_batches():
    module = Classifier()
    recorder = RateRecorder()
    trainer(max_epochs=1, accumulate_grad_batches=2, callbacks=[recorder]).fit(module)
    steps = N_SAMPLES // BATCH // 2
    schedule = module.schedule()
    assert recorder.batches == 2 * steps and len(recorder.lrs) == steps
    assert recorder.lrs == [schedule(k) for k in range(steps)]
    assert recorder.momenta == [schedule.momentum(k) for k in range(steps)]
    assert recorder.lrs[3] == 0.1  # the top after step_size=3 updates (6 batches)


def test_resume_from_a_checkpoint_continues_the_cycle(tmp_path):
    def run(max_epochs, callbacks, **fit):
        # Unshuffled: a resumed Lightning fit restarts a shuffling loader's generator
        # (the data order is Lightning's matter, not the schedule's).
        module = Classifier()
        recorder = RateRecorder()
        t = trainer(max_epochs=max_epochs, callbacks=[*callbacks, recorder])
        t.fit(module, **fit)
        return t, module, recorder

    whole_test = RangeTestCallback(LADDER, verbose=False)
    _, whole, whole_rates = run(4, [whole_test])

    first_test = RangeTestCallback(LADDER, verbose=False)
    first_trainer, _, first_rates = run(2, [first_test])
    path = tmp_path / "half.ckpt"
    first_trainer.save_checkpoint(path)

    resumed_test = RangeTestCallback(LADDER, verbose=False)
    _, resumed, resumed_rates = run(4, [resumed_test], ckpt_path=path)

    # The resumed fit took the result from the checkpoint: no new test, the same bounds.
    assert resumed.calls == len(resumed_rates.lrs)
    assert resumed_test.result == first_test.result == whole_test.result
    assert tuple(resumed_test.bounds) == tuple(whole_test.bounds)
    assert len(first_rates.lrs) == len(resumed_rates.lrs) == 2 * N_SAMPLES // BATCH
    assert first_rates.lrs + resumed_rates.lrs == whole_rates.lrs
    assert first_rates.momenta + resumed_rates.momenta == whole_rates.momenta
    # not a flat line: the cycle went up and down
    assert len(set(whole_rates.lrs)) > 3
    assert same(resumed.state_dict(), whole.state_dict())


@pytest.mark.parametrize("name, column", [(None, "lr-SGD"), ("cyclic", "cyclic")])
def test_learning_rate_monitor_logs_the_cycle_and_its_momentum(tmp_path, name, column):
    class Named(Classifier):
        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.0, momentum=0.9)
            return {
                "optimizer": opt,
                "lr_scheduler": scheduler_config(self.schedule(), opt, name=name),
            }

    module = Named()
    logger = pl.loggers.CSVLogger(tmp_path, name="run")
    monitor = pl.callbacks.LearningRateMonitor(logging_interval="step", log_momentum=True)
    t = trainer(max_steps=8, logger=logger, log_every_n_steps=1, callbacks=[monitor])
    t.fit(module)
    with open(logger.log_dir + "/metrics.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get(column)]
    schedule = module.schedule()
    assert [int(r["step"]) for r in rows] == list(range(8))
    assert [float(r[column]) for r in rows] == pytest.approx([schedule(k) for k in range(8)])
    assert [float(r[f"{column}-momentum"]) for r in rows] == pytest.approx(
        [schedule.momentum(k) for k in range(8)]
    )


def test_a_built_cyclic_lr_and_a_onecycle_go_in_as_they_are():
    opt = torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.0)
    one = cyclr.OneCycle(0.01, total_steps=100)
    config = scheduler_config(one, opt)
    assert isinstance(config["scheduler"], CyclicLR)
    assert opt.param_groups[0]["lr"] == one(0) and opt.param_groups[0]["betas"][0] == 0.95
    built = CyclicLR(opt, one)
    assert scheduler_config(built)["scheduler"] is built
    assert scheduler_config(built, opt, name="x") == {
        "scheduler": built,
        "interval": "step",
        "frequency": 1,
        "name": "x",
    }


def test_bad_input_is_named():
    opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.0)
    other = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.0)
    schedule = cyclr.CyclicSchedule(0.1, 1.0, step_size=2)
    with pytest.raises(ValueError, match="optimizer=None"):
        scheduler_config(schedule)
    with pytest.raises(ValueError, match="CyclicLR's own optimizer"):
        scheduler_config(CyclicLR(opt, schedule), other)
    with pytest.raises(ValueError, match="group_scale"):
        scheduler_config(CyclicLR(opt, schedule), group_scale=[1.0])
    with pytest.raises(ValueError, match="name=3"):
        scheduler_config(schedule, opt, name=3)
    with pytest.raises(ValueError, match="schedule"):
        scheduler_config(0.1, opt)


def test_without_lightning_the_import_names_the_extra(monkeypatch):
    import sys

    from cyclr import _extras

    monkeypatch.setattr(_extras, "_absent", lambda name: name == "lightning")
    for name in [m for m in sys.modules if m.startswith("cyclr.lightning")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(_extras.MissingExtra, match=r'pip install "cyclr\[lightning\]"'):
        __import__("cyclr.lightning")


def test_the_docstring_example_runs():
    import doctest

    import cyclr.lightning.scheduler

    found = doctest.testmod(cyclr.lightning.scheduler)
    assert found.attempted > 0 and found.failed == 0
