"""The package as a user meets it: imports, doctests, the preview command."""

import doctest
import importlib
import os
import subprocess
import sys

import pytest

CORE_MODULES = [
    "cyclr",
    "cyclr._base",
    "cyclr.cyclic",
    "cyclr.onecycle",
    "cyclr.compose",
    "cyclr.warmup",
    "cyclr.planning",
    "cyclr.rangetest",
    "cyclr.rangetest.ladder",
    "cyclr.rangetest.recorder",
    "cyclr.rangetest.result",
    "cyclr.rangetest.suggestions",
    "cyclr.rangetest.bounds",
    "cyclr.rangetest.settings",
    "cyclr.ops",
    "cyclr.app.datasets",
]


def test_importing_cyclr_imports_no_framework():
    code = (
        "import sys, cyclr, cyclr.cli, cyclr.cli.preview; "
        "print([m for m in ('torch', 'keras', 'tensorflow', 'jax', 'matplotlib') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", CORE_MODULES)
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("cyclr") or os.path.join(os.path.dirname(sys.executable), "cyclr")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("cyclr ")


def test_the_top_level_holds_the_users_names_only():
    import cyclr

    assert sorted(cyclr.__all__) == sorted(
        [
            "Constant",
            "CyclicSchedule",
            "Linear",
            "OneCycle",
            "RangeTestResult",
            "RangeTestSettings",
            "Schedule",
            "WarmupConstant",
            "WarmupCosine",
            "WarmupLinear",
            "WarmupStableDecay",
            "check",
            "deserialize",
            "join",
            "register",
            "serialize",
            "step_size_for",
            "steps_per_epoch",
            "suggest_bounds",
        ]
    )
    assert all(hasattr(cyclr, name) for name in cyclr.__all__)


def test_dir_of_the_package_shows_its_names_and_modules_only():
    """No helper imports at the top level (dir(cyclr) showed Any, importlib, warnings)."""
    import types

    import cyclr

    public = {n for n in dir(cyclr) if not n.startswith("_")}
    modules = {n for n in public if isinstance(getattr(cyclr, n), types.ModuleType)}
    assert public - modules == set(cyclr.__all__)


@pytest.mark.parametrize("name", ["Ops", "Join", "RangeTest", "steepest", "recommend"])
def test_names_that_moved_before_the_first_release_are_gone_from_the_top_level(name):
    import cyclr

    with pytest.raises(AttributeError, match=name):
        getattr(cyclr, name)


def test_an_unknown_top_level_name_is_an_attribute_error():
    import cyclr

    with pytest.raises(AttributeError, match="no_such_name"):
        cyclr.no_such_name  # noqa: B018


def test_the_license_is_an_spdx_string_not_the_deprecated_table():
    import pathlib

    import tomllib

    meta = tomllib.loads((pathlib.Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"


def test_a_missing_extra_is_named_with_the_install_line(monkeypatch):
    from cyclr import _extras

    monkeypatch.setattr(_extras, "_absent", lambda name: name in ("keras", "tqdm"))
    assert _extras.missing("plot", "keras", "app") == ["keras", "app"]
    with pytest.raises(
        _extras.MissingExtra,
        match=r"needs keras, tqdm, which are not "
        r'installed: pip install "cyclr\[keras,app\]"',
    ):
        _extras.require("cyclr train", "keras", "app")
    _extras.require("drawing", "plot")  # present: nothing raised
    with pytest.raises(ValueError, match="received \\['cuda'\\]"):
        _extras.missing("cuda")
