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
    assert len(blocks) == 2
    scope = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert scope["scheduler"].last_epoch == 16  # one pass over 256 samples at batch 16


def test_readme_schedule_per_policy_example_runs(tmp_path, monkeypatch, capsys):
    from cyclr import WarmupConstant, WarmupCosine
    from cyclr.rangetest.policies import PEAK_READINGS

    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(readme_blocks("torch")[1], "README.md", "exec"), scope)
    result, top = scope["result"], scope["result"].bounds().max_lr
    assert result.optimizer == "AdamW"  # the range test recorded it: the Adam family's factors
    assert result.batchnorm is False  # and that its Linear model has no BatchNorm layers
    assert scope["scheduler"].last_epoch == 5 * 32  # five passes over 512 samples at batch 16
    cosine = scope["schedule"]
    assert isinstance(cosine, WarmupCosine) and cosine.total_steps == 160
    assert cosine.peak_lr == pytest.approx(top * PEAK_READINGS["cosine"]["adam"], rel=1e-12)
    free = scope["free"]
    assert isinstance(free, WarmupConstant) and free.warmup_steps == 8
    assert free.peak_lr == pytest.approx(top * PEAK_READINGS["constant"]["adam"], rel=1e-12)
    assert capsys.readouterr().out.split() == [str(free.peak_lr), "8"]
