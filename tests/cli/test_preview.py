"""``cyclr preview`` as a user runs it: a real subprocess, its output and its errors."""

import os
import subprocess
import sys

import pytest


def run_cyclr(*args, tmp_path):
    env = dict(os.environ, MPLCONFIGDIR=str(tmp_path / "mpl"))
    return subprocess.run(
        [sys.executable, "-m", "cyclr", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_preview_writes_a_png_and_prints_a_summary(tmp_path, png_header):
    out = tmp_path / "seed.png"
    proc = run_cyclr(
        "preview",
        "--base-lr",
        "1e-4",
        "--max-lr",
        "1e-2",
        "--step-size",
        "4800",
        "--steps",
        "18000",
        "--steps-per-epoch",
        "1200",
        "--out",
        str(out),
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == png_header
    assert "1.875 cycles of 9600 steps" in proc.stdout
    assert "lr: min 0.0001, max 0.01" in proc.stdout
    assert "not at a cycle boundary" in proc.stdout


def test_preview_one_cycle_with_momentum(tmp_path, png_header):
    out = tmp_path / "one.png"
    proc = run_cyclr(
        "preview",
        "--one-cycle",
        "--max-lr",
        "0.1",
        "--steps",
        "1000",
        "--out",
        str(out),
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == png_header
    assert "momentum: min 0.85, max 0.95" in proc.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--base-lr", "1e-2", "--max-lr", "1e-4", "--step-size", "10"], "--base-lr=0.01"),
        (["--base-lr", "1e-4", "--max-lr", "1e-2", "--step-size", "0"], "--step-size=0"),
        (
            ["--base-lr", "1e-4", "--max-lr", "1e-2", "--step-size", "10", "--mode", "cosine"],
            "'cosine'",
        ),
        (["--base-lr", "1e-4", "--max-lr", "abc", "--step-size", "10"], "'abc'"),
        (
            [
                "--base-lr",
                "1e-4",
                "--max-lr",
                "1e-2",
                "--step-size",
                "10",
                "--out",
                "/no/such/x.png",
            ],
            "/no/such/x.png",
        ),
        (
            ["--base-lr", "1e-4", "--max-lr", "1e-2", "--step-size", "10", "--out", "plot.txt"],
            "plot.txt",
        ),
        (["--one-cycle", "--max-lr", "0.1"], "--total-steps"),
        (["--base-lr", "1e-4", "--max-lr", "1e-2", "--step-size", "10", "--steps", "0"], "--steps"),
    ],
)
def test_preview_bad_options_exit_2_with_one_line(args, needle, tmp_path):
    proc = run_cyclr("preview", *args, tmp_path=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cyclr: error:") and needle in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (
            ["--one-cycle", "--max-lr", "0.1", "--steps", "100", "--mode", "triangular2"],
            "--mode does not apply to --one-cycle",
        ),
        (
            ["--base-lr", "0.01", "--max-lr", "0.1", "--step-size", "10", "--pct-start", "0.2"],
            "--pct-start does not apply here",
        ),
        (
            ["--base-lr", "0.01", "--max-lr", "0.1", "--step-size", "10", "--base-momentum", "0.8"],
            "--base-momentum does not apply here",
        ),
        (
            ["--base-lr", "0.01", "--max-lr", "0.1", "--step-size", "10", "--steps", "10000000000"],
            "--steps must be <= 20,000,000",
        ),
    ],
)
def test_preview_refuses_options_it_would_ignore(args, needle, tmp_path):
    proc = run_cyclr("preview", *args, tmp_path=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and needle in proc.stderr
