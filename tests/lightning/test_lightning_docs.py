"""docs/getting-started/lightning.md: its examples run as written."""

import pathlib
import re

import numpy as np
import pytest

import cyclr

pytest.importorskip("lightning")

PAGE = pathlib.Path(__file__).parents[2] / "docs" / "getting-started" / "lightning.md"


def test_the_guides_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 4
    scope = {}
    exec(compile(blocks[0], str(PAGE), "exec"), scope)
    model, finder = scope["model"], scope["finder"]
    assert 0 < scope["base_lr"] < scope["max_lr"]
    assert (model.hparams.base_lr, model.hparams.max_lr) == tuple(finder.bounds)
    assert scope["trainer"].lr_scheduler_configs[0].scheduler.step_count == 4 * 16
    exec(compile(blocks[1], str(PAGE), "exec"), scope)
    result = scope["finder"].result
    assert result.settings.monitor == "val_loss"
    assert (result.val_losses[::2] > 0).all() and np.isnan(result.val_losses[1::2]).all()
    assert (scope["model"].hparams.base_lr, scope["model"].hparams.max_lr) == tuple(result.bounds())
    exec(compile(blocks[2], str(PAGE), "exec"), scope)
    finder, model = scope["finder"], scope["model"]
    schedule = finder.result.schedule("cosine", 4 * 16, steps_per_epoch=16)
    assert finder.schedule == schedule and isinstance(schedule, cyclr.WarmupCosine)
    assert model.hparams.schedule == cyclr.serialize(schedule)
    (config,) = scope["trainer"].lr_scheduler_configs
    assert config.scheduler.schedules == [schedule] and config.scheduler.step_count == 64
    exec(compile(blocks[3], str(PAGE), "exec"), scope)
    assert scope["monitor"] in scope["trainer"].callbacks
