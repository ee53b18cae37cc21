"""docs/getting-started/hf.md: its examples run as written."""

import pathlib
import re

import pytest

transformers = pytest.importorskip("transformers")

import cyclr.torch

PAGE = pathlib.Path(__file__).parents[2] / "docs" / "getting-started" / "hf.md"


def test_the_guides_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 5
    scope = {}
    exec(compile(blocks[0], str(PAGE), "exec"), scope)
    assert 0 < scope["base_lr"] < scope["max_lr"]
    scheduler = scope["trainer"].lr_scheduler
    assert scheduler.step_count == scope["trainer"].state.global_step == 16
    # The Trainer's own cosine, at the rate read for it
    exec(compile(blocks[1], str(PAGE), "exec"), scope)
    own, result = scope["trainer"].lr_scheduler, scope["result"]
    assert not isinstance(own, cyclr.torch.CyclicLR)
    rate = result.schedule("cosine", 16).peak_lr
    assert scope["trainer"].args.learning_rate == rate
    assert set(own.base_lrs) == {rate}  # both groups (decay or not)
    # warmup_steps=1 is cyclr's warm-up: the Trainer's cosine is the policy's, step for step
    cosine = result.schedule("cosine", 16)
    trainers = [rate * own.lr_lambdas[0](k) for k in range(17)]
    assert trainers == pytest.approx([cosine(k) for k in range(17)], rel=1e-12, abs=1e-15)
    # A policy's schedule through CyclicLR
    exec(compile(blocks[2], str(PAGE), "exec"), scope)
    scheduler = scope["trainer"].lr_scheduler
    assert scheduler.schedules == [scope["result"].schedule("wsd", 16, steps_per_epoch=8)]
    assert scheduler.step_count == scope["trainer"].state.global_step == 16
    exec(compile(blocks[3], str(PAGE), "exec"), scope)
    assert scope["trainer"].lr_scheduler.schedules == [scope["schedule"]]
    exec(compile(blocks[4], str(PAGE), "exec"), scope)
    assert len(scope["result"].lrs) >= 10
