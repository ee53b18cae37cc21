"""The README's hf example runs as written."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "core"))

from test_readme import readme_blocks


def test_readme_hf_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = readme_blocks("hf")
    assert len(blocks) == 1
    scope = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    base_lr, max_lr = scope["base_lr"], scope["max_lr"]
    assert 0 < base_lr < max_lr
    # the Trainer stepped cyclr's scheduler once per optimizer update: 256 samples at 16 per
    # batch, 2 batches per update, 2 epochs
    assert scope["trainer"].lr_scheduler.last_epoch == 16
