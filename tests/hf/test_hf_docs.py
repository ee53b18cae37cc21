"""docs/getting-started/hf.md: its examples run as written."""

import pathlib
import re

import pytest

pytest.importorskip("transformers")

PAGE = pathlib.Path(__file__).parents[2] / "docs" / "getting-started" / "hf.md"


def test_the_guides_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 3
    scope = {}
    exec(compile(blocks[0], str(PAGE), "exec"), scope)
    assert 0 < scope["base_lr"] < scope["max_lr"]
    scheduler = scope["trainer"].lr_scheduler
    assert scheduler.step_count == scope["trainer"].state.global_step == 16
    exec(compile(blocks[1], str(PAGE), "exec"), scope)
    assert scope["trainer"].lr_scheduler.schedules == [scope["schedule"]]
    exec(compile(blocks[2], str(PAGE), "exec"), scope)
    assert len(scope["result"].lrs) >= 10
