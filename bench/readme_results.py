"""Copy the tables in bench/results/ into the README's Results section (run after the benches).

From the repository root:

    .venv/bin/python -m bench.readme_results            # rewrite README.md between the markers
    .venv/bin/python -m bench.readme_results --dry-run  # print the new README.md, change nothing
    .venv/bin/python -m bench.readme_results --check    # exit 1 if README.md is out of date

Each table file carries its provenance header (bench/common.py); copying them verbatim
keeps the README's numbers identical to the measured ones.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bench import common

SECTIONS = [
    ("time_to_accuracy.md", "Time to accuracy (Smith's Table 1 at CPU scale)"),
    ("time_to_accuracy_transformer.md", "Cost to a good loss: the char transformer"),
    ("suggest_bounds.md", "Do the suggested bounds train well? (the fitting tasks)"),
    ("suggest_bounds_judging.md", "On tasks the reading was not fitted on (the judging tasks)"),
    (
        "suggest_bounds_judging_30_seeds.md",
        "The cheaper judging and fitting tasks over 30 seeds",
    ),
    ("suggest_bounds_fine_tuning.md", "Fine-tuning: the reading a factor 2 lower"),
    ("curve_landmarks.md", "What the range-test curve shows: its landmarks and the best rate"),
    ("bounds_check.md", "A candidate beyond the curve: the reading checked by a short run"),
    ("bn_validation.md", "BatchNorm and the validation reading"),
    ("ladders.md", "The bounds on six ladders"),
    ("finder_peers.md", "The range test against other finders"),
    ("overhead.md", "Overhead per training step"),
    ("schedule_speed.md", "Schedule evaluation speed"),
]
START, END = "<!-- results:start -->", "<!-- results:end -->"


def render(results: Path = common.RESULTS) -> str:
    """The Results section: each result file under its README title, without its own title."""
    parts = []
    for name, title in SECTIONS:
        path = results / name
        if path.is_file():
            body = path.read_text(encoding="utf-8").strip()
            body = re.sub(r"^# .*\n+", "", body)  # the file's own title
            parts.append(f"### {title}\n\n{body}\n")
    return "\n".join(parts)


def updated(readme_text: str, section: str) -> str:
    """``readme_text`` with ``section`` between the markers.

    Raises:
      common.BenchError: the README lacks the markers.
    """
    if START not in readme_text or END not in readme_text:
        raise common.BenchError(f"README.md has no {START} ... {END} markers")
    head, rest = readme_text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{section}{END}{tail}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="print the updated README to stdout; leave README.md as it is",
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="exit 1 (and say so) if README.md differs from the results",
    )
    args = p.parse_args(argv)
    readme = common.ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = updated(text, render())
    if args.dry_run:
        sys.stdout.write(new)
        return 0
    if args.check:
        if new != text:
            print(
                "README.md's Results section differs from bench/results/; run "
                "`.venv/bin/python -m bench.readme_results`",
                file=sys.stderr,
            )
            return 1
        return 0
    from cyclr.app.files import write_text

    write_text(readme, new)
    print(f"updated {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded("readme_results", main))
