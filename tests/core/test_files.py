"""cyclr._files.replace_atomically: a file is either its old self or complete."""
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
