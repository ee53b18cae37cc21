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
    assert len(blocks) == 4
    scope = {}
    exec(compile(blocks[0], str(PAGE), "exec"), scope)
    assert 0 < scope["base_lr"] < scope["max_lr"]
    scheduler = scope["trainer"].lr_scheduler
    assert scheduler.step_count == scope["trainer"].state.global_step == 16
    # The Trainer's own scheduler, on a Trainer as fresh as the guide's
    scope["trainer"] = transformers.Trainer(
        model=scope["model"],
        args=scope["args"],
        train_dataset=scope["train"],
        data_collator=transformers.default_data_collator,
    )
    exec(compile(blocks[1], str(PAGE), "exec"), scope)
    own = scope["trainer"].lr_scheduler
    assert not isinstance(own, cyclr.torch.CyclicLR)
    assert set(own.base_lrs) == {scope["result"].bounds().max_lr}  # both groups (decay or not)
    exec(compile(blocks[2], str(PAGE), "exec"), scope)
    assert scope["trainer"].lr_scheduler.schedules == [scope["schedule"]]
    exec(compile(blocks[3], str(PAGE), "exec"), scope)
    assert len(scope["result"].lrs) >= 10
