"""Shared fixtures: matplotlib writes its cache to a temporary folder, never to $HOME."""

import pytest


@pytest.fixture(autouse=True)
def mpl_config_dir(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.getbasetemp() / "mplconfig"
    folder.mkdir(exist_ok=True)
    monkeypatch.setenv("MPLCONFIGDIR", str(folder))
    return folder
