"""cyclr._files.replace_atomically: a file is either its old self or complete."""

import os
import pathlib
import stat

import pytest

from cyclr._files import replace_atomically


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    path.write_text("old")

    def half_then_fail(tmp):
        with open(tmp, "w") as handle:
            handle.write("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_atomically(path, half_then_fail)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_the_temporary_keeps_the_suffix_and_replaces_the_file(tmp_path):
    path = tmp_path / "figure.png"
    path.write_text("old")
    seen = []

    def write(tmp):
        seen.append(tmp)
        with open(tmp, "w") as handle:
            handle.write("new")

    assert replace_atomically(path, write) == path
    assert seen[0].endswith(".png") and seen[0] != str(path)
    assert path.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_mode_the_users_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = replace_atomically(
            tmp_path / "summary.json", lambda tmp: pathlib.Path(tmp).write_text("{}")
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_a_replaced_file_keeps_its_own_mode(tmp_path):
    path = tmp_path / "report.html"
    path.write_text("old")
    path.chmod(0o640)
    replace_atomically(path, lambda tmp: pathlib.Path(tmp).write_text("new"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and path.read_text() == "new"
