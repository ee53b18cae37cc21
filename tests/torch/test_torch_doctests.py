"""The PyTorch, JAX and app modules' docstring examples run."""

import doctest
import importlib

import pytest

pytest.importorskip("torch")


@pytest.mark.parametrize(
    "module",
    [
        "cyclr.torch.scheduler",
        "cyclr.torch.param_groups",
        "cyclr.torch.rangetest",
        "cyclr.app.torch_models",
    ],
)
def test_doctests(module):
    assert doctest.testmod(importlib.import_module(module)).failed == 0


def test_jax_doctests():
    pytest.importorskip("jax")
    assert doctest.testmod(importlib.import_module("cyclr.jax")).failed == 0
