"""The Keras modules' docstring examples run on this process's backend."""

import doctest
import importlib

import pytest

pytest.importorskip("keras")


@pytest.mark.parametrize(
    "module",
    [
        "cyclr.keras.schedules",
        "cyclr.keras.optimizers",
        "cyclr.keras.callbacks",
        "cyclr.keras.logs",
        "cyclr.keras.finder",
        "cyclr.app.keras_models",
    ],
)
def test_doctests(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0
