"""The README's Keras example runs as written on this process's backend."""

import pathlib
import sys

import pytest

pytest.importorskip("keras")
sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "core"))

from test_readme import readme_blocks


def test_readme_keras_example_runs():
    blocks = readme_blocks("keras")
    assert len(blocks) == 1
    scope = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert 0 < scope["base_lr"] < scope["max_lr"]
    assert len(scope["clr"].history["lr"]) == 2 * 16
