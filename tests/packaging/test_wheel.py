"""The wheel a user installs: built, checked, installed without extras into a fresh venv.

Slow (a build, a virtual environment and a numpy install: about a minute), so marked
slow; ``make test`` and CI run it.
"""

import os
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(*args, **kwargs):
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, **kwargs
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    done = run(sys.executable, "-m", "build", "--wheel", "--sdist", "--outdir", out, ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    (found,) = out.glob("cyclr-*.whl")
    return found


@pytest.fixture(scope="module")
def bare_venv(wheel, tmp_path_factory):
    """A fresh virtual environment with the wheel and nothing but its own requirement."""
    venv = tmp_path_factory.mktemp("venv")
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    done = run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv


def test_twine_accepts_both_distributions(wheel):
    pytest.importorskip("twine")
    done = run(sys.executable, "-m", "twine", "check", "--strict", *wheel.parent.iterdir())
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_wheel_carries_the_package_and_its_marker_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "cyclr/py.typed" in names and "cyclr/__init__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", "examples/", "docs/"))]


def test_the_metadata_pins_no_framework_and_keras_brings_no_tensorflow(wheel):
    with zipfile.ZipFile(wheel) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(meta_name).decode())
    requires = meta.get_all("Requires-Dist")
    pinned = [r for r in requires if "==" in r.split(";")[0]]
    assert requires and not pinned, pinned
    keras_extra = [r for r in requires if 'extra == "keras"' in r]
    assert keras_extra and not [r for r in keras_extra if "tensorflow" in r]
    assert [r for r in requires if r.startswith("numpy") and "extra" not in r]
    assert meta["Version"] == __import__("cyclr").__version__
    assert meta["License-Expression"] == "MIT"


def test_without_extras_the_core_works(bare_venv):
    code = (
        "import cyclr, numpy as np; from cyclr.rangetest import lr_ladder; "
        "s = cyclr.CyclicSchedule(1.0, 5.0, step_size=4); assert s(4) == 5.0; "
        "lrs = lr_ladder(1e-4, 10.0, 100); "
        "losses = 2.3 - 2 / (1 + np.exp(-3 * (np.log10(lrs) + 2))) + np.where(lrs > 1, lrs, 0); "
        "b, m = cyclr.suggest_bounds(lrs, losses); assert b < m; print('ok')"
    )
    done = run(bare_venv / "bin" / "python", "-c", code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize(
    "module, extra",
    [
        ("cyclr.torch", "torch"),
        ("cyclr.keras", "keras"),
        ("cyclr.jax", "jax"),
        ("cyclr.lightning", "lightning"),
        ("cyclr.hf", "hf"),
    ],
)
def test_an_adapter_without_its_framework_names_the_extra(bare_venv, module, extra):
    done = run(bare_venv / "bin" / "python", "-c", f"import {module}")
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("cyclr._extras.MissingExtra") and f'pip install "cyclr[{extra}]"' in last


@pytest.mark.parametrize(
    "args, extra",
    [
        (
            ["preview", "--base-lr", "0.1", "--max-lr", "1", "--step-size", "4", "--out", "x.png"],
            "plot",
        ),
        (["plot-range-test", "missing.json"], "plot"),
        (["train", "--framework", "keras"], "app,keras"),
        (["find", "--framework", "torch"], "app,torch"),
    ],
)
def test_a_command_without_its_extra_says_which_in_one_line(bare_venv, tmp_path, args, extra):
    env = dict(os.environ, MPLCONFIGDIR=str(tmp_path))
    done = run(bare_venv / "bin" / "cyclr", *args, cwd=tmp_path, env=env)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cyclr: error:"), done.stderr
    assert f'pip install "cyclr[{extra}]"' in lines[0]
    assert not list(tmp_path.glob("runs")) and not (tmp_path / "x.png").exists()


def test_the_command_reports_its_version(bare_venv):
    done = run(bare_venv / "bin" / "cyclr", "--version")
    assert (
        done.returncode == 0 and done.stdout.strip() == f"cyclr {__import__('cyclr').__version__}"
    )
