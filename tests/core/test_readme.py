"""The README's Python examples run as written, and its links resolve in the repository.

A block whose first line is ``# requires: torch`` (or ``keras``, ``jax``) runs in that
framework's test process (tests/torch, tests/keras, tests/jax); the others run here.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parents[2]
README = ROOT / "README.md"
#: The frameworks whose tests run the README's blocks that require them.
RUNNERS = {"torch", "keras", "jax"}


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def requirement(block):
    found = re.match(r"# requires: (\w+)\n", block)
    return found.group(1) if found else None


def readme_blocks(requires=None):
    return [block for block in python_blocks() if requirement(block) == requires]


def test_readme_core_examples_run(capsys):
    blocks = readme_blocks()
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert "cycle boundary" in capsys.readouterr().out


def test_every_readme_block_has_a_test_that_runs_it():
    assert {requirement(block) for block in python_blocks()} - {None} <= RUNNERS


def test_the_quickstarts_end_within_the_first_80_lines():
    lines = README.read_text().splitlines()
    for framework in sorted(RUNNERS):
        opening = lines.index(f"# requires: {framework}")
        closing = lines.index("```", opening) + 1  # its closing fence, 1-based
        assert closing <= 80, f"the {framework} quickstart ends at line {closing}"


@pytest.mark.parametrize("page", ["README.md", "CONTRIBUTING.md"])
def test_relative_links_resolve_in_the_repository(page):
    text = (ROOT / page).read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    relative = [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:|#", t)]
    assert relative
    missing = [t for t in relative if not (ROOT / t.split("#")[0]).exists()]
    assert not missing
