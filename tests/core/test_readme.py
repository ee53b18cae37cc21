"""The README's Python examples run as written.

A block whose first line is ``# requires: torch`` (or ``keras``) runs in that
framework's test process (tests/torch, tests/keras); the others run here.
"""

import pathlib
import re

README = pathlib.Path(__file__).parents[2] / "README.md"


def readme_blocks(requires=None):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    marker = re.compile(r"# requires: (\w+)\n")
    chosen = []
    for block in blocks:
        found = marker.match(block)
        if (found.group(1) if found else None) == requires:
            chosen.append(block)
    return chosen


def test_readme_core_examples_run(capsys):
    blocks = readme_blocks()
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert "cycle boundary" in capsys.readouterr().out
