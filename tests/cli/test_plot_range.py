"""``cyclr plot-range-test`` as a real subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cyclr.rangetest import RangeTest, RangeTestSettings

SRC = str(Path(__file__).resolve().parents[2] / "src")
PNG = b"\x89PNG\r\n\x1a\n"


def cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "cyclr", "plot-range-test", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


@pytest.fixture
def saved(tmp_path):
    test = RangeTest(RangeTestSettings(1e-4, 1.0, 40))
    for i in range(40):
        test.record(2.0 - i / 40 if i < 30 else 2.0 + (i - 30) ** 2)
        if test.done:
            break
    path = tmp_path / "result.json"
    test.result().to_json(path)
    return path


def test_draws_the_saved_result_and_prints_its_summary(saved, tmp_path):
    out = tmp_path / "drawn.png"
    run = cli(saved, "--out", out, "--title", "again", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes()[:8] == PNG
    assert "stopped: diverged" in run.stdout and f"wrote {out}" in run.stdout


def test_out_defaults_to_the_result_beside_it(saved, tmp_path):
    assert cli(saved, cwd=tmp_path).returncode == 0
    assert saved.with_suffix(".png").read_bytes()[:8] == PNG


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda d: d / "missing.json", "no such result file; received RESULT.json="),
        (lambda d: (d / "bad.json").write_text("{not json") and d / "bad.json", "not valid JSON"),
        (
            lambda d: (d / "other.json").write_text('{"a": 1}') and d / "other.json",
            "not a cyclr range-test result",
        ),
    ],
)
def test_bad_files_exit_2_with_one_line(tmp_path, make, expected):
    run = cli(make(tmp_path), "--out", tmp_path / "x.png", cwd=tmp_path)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and expected in run.stderr
    assert run.stderr.startswith("cyclr: error: ")


def test_a_bad_output_path_exits_2(saved, tmp_path):
    run = cli(saved, "--out", tmp_path / "x.bmp", cwd=tmp_path)
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "--out" in run.stderr


def test_a_monitor_the_test_did_not_record_exits_2(saved, tmp_path):
    run = cli(saved, "--monitor", "val_loss", cwd=tmp_path)
    assert run.returncode == 2 and "recorded no val_loss" in run.stderr


def test_a_command_whose_module_is_missing_fails_loudly(monkeypatch):
    from cyclr import cli

    monkeypatch.setitem(cli.COMMANDS, "ghost", ("cyclr.cli.no_such_module", "missing"))
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        cli.build_parser()
