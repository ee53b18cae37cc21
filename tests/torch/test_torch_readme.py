"""The README's PyTorch example runs as written."""

import pathlib
import sys

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "core"))

from test_readme import readme_blocks


def test_readme_torch_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = readme_blocks("torch")
    assert len(blocks) == 1
    scope = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert scope["scheduler"].last_epoch == 16  # one pass over 256 samples at batch 16
