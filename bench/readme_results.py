"""Copy the tables in bench/results/ into the README's Results section (run after the benches).

    python bench/readme_results.py

Each table file already names the command that produced it; this keeps the README's
numbers identical to the measured ones.
"""
from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
SECTIONS = [
    ("time_to_accuracy.md", "Time to accuracy (Smith's Table 1 at CPU scale)"),
    ("suggest_bounds.md", "Do the suggested bounds train well?"),
    ("finder_peers.md", "The range test against other finders"),
    ("overhead.md", "Overhead per training step"),
    ("schedule_speed.md", "Schedule evaluation speed"),
]
START, END = "<!-- results:start -->", "<!-- results:end -->"


def render() -> str:
    parts = []
    for name, title in SECTIONS:
        path = ROOT / "bench" / "results" / name
        if path.is_file():
            body = path.read_text().strip()
            body = re.sub(r"^# .*\n+", "", body)  # the file's own title
            parts.append(f"### {title}\n\n{body}\n")
    return "\n".join(parts)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{render()}{END}{tail}")
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
