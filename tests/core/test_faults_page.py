"""docs/faults.md: every row names tests, and every test it names exists."""

import ast
import pathlib
import re

ROOT = pathlib.Path(__file__).parents[2]
PAGE = ROOT / "docs" / "faults.md"


def functions_of(path):
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_every_row_of_the_fault_table_names_a_test_that_exists():
    rows = [
        line
        for line in PAGE.read_text().splitlines()
        if line.startswith("| ") and not line.startswith(("| what was tried", "|---"))
    ]
    assert len(rows) >= 30
    for row in rows:
        references = re.findall(r"`(tests/[^`:]+\.py)::(\w+)`", row.rsplit("|", 2)[-2])
        assert references, f"a row without a test: {row[:80]}"
        for path, name in references:
            assert name in functions_of(ROOT / path), f"{path}::{name} is not a test"
