"""The README's lightning example runs as written."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "core"))

from test_readme import readme_blocks


def test_readme_lightning_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = readme_blocks("lightning")
    assert len(blocks) == 1
    scope = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    base_lr, max_lr = scope["base_lr"], scope["max_lr"]
    assert 0 < base_lr < max_lr
    # the bounds reached configure_optimizers: the trained optimizer's schedule uses them
    model = scope["model"]
    assert (model.hparams.base_lr, model.hparams.max_lr) == (base_lr, max_lr)
