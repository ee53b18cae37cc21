"""The README's Python example runs as written."""
import pathlib
import re


def test_readme_python_blocks_run(capsys):
    text = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert "cycle boundary" in capsys.readouterr().out
