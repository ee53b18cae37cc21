"""The benchmarks run end to end (``--quick``, as subprocesses); their numbers are not checked.

Each takes 15-30 s on one thread, so they are marked slow: ``pytest -m "not slow"`` skips them.
"""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
pytest.importorskip("torch")
pytest.importorskip("sklearn")


def run_quick(script, tmp_path, *extra):
    out = tmp_path / f"{script}.md"
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{script}.py"), "--quick",
                           "--out", str(out), *extra],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, out.read_text()


@pytest.mark.slow
def test_time_to_accuracy_quick_prints_and_writes_the_table(tmp_path):
    pytest.importorskip("mnist1d")
    stdout, written = run_quick("time_to_accuracy", tmp_path)
    for policy in ("fixed", "triangular", "triangular2", "exp_range", "onecycle", "adam",
                   "adam+clr"):
        assert f"| {policy} |" in stdout
    assert "**mnist1d**" in written and "**digits**" in written
    assert "Produced by `.venv/bin/python bench/time_to_accuracy.py --quick" in written


@pytest.mark.slow
def test_finder_peers_quick_prints_and_writes_the_table(tmp_path):
    pytest.importorskip("torch_lr_finder")
    pytest.importorskip("keras")
    stdout, written = run_quick("finder_peers", tmp_path)
    for finder in ("cyclr range test", "torch-lr-finder (README", "Wittmann-style"):
        assert finder in stdout and finder in written


def test_time_to_accuracy_refuses_cuda_without_a_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "time_to_accuracy.py"),
                           "--dataset", "digits", "--device", "cuda", "--out",
                           str(tmp_path / "x.md")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--device cuda" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_suggest_bounds_quick_prints_every_method_and_the_noise_row(tmp_path):
    pytest.importorskip("mnist1d")
    out = tmp_path / "suggest_bounds.md"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "suggest_bounds.py"), "--quick",
                           "--out", str(out)],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| MNIST-1D / MLP |")]
    methods = [row.split(" | ")[1] for row in rows]
    assert methods == ["suggest_bounds", "steepest / 4", "valley / 4", "minimum / 4",
                       "best grid pair", "best grid pair x 0.99 (noise)"]
    assert not out.exists()                 # a quick run is a smoke run: it writes nothing
