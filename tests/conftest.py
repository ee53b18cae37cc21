"""Shared test set-up: every test writes its caches and plots into temporary folders."""

import os
import tempfile

import pytest

_CACHE = tempfile.mkdtemp(prefix="cyclr-tests-")
# Set before any test module imports matplotlib or keras.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_CACHE, "mpl"))
os.environ.setdefault("KERAS_HOME", os.path.join(_CACHE, "keras"))
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def png_header():
    """The 8 bytes every PNG file starts with."""
    return b"\x89PNG\r\n\x1a\n"
