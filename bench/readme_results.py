"""Copy the tables in bench/results/ into the results page, docs/results.md (run after the benches).

From the repository root:

    .venv/bin/python -m bench.readme_results            # rewrite the tables in docs/results.md
    .venv/bin/python -m bench.readme_results --dry-run  # print the new page, change nothing
    .venv/bin/python -m bench.readme_results --check    # exit 1 if docs/results.md is out of date

Each table file carries its provenance header (bench/common.py); copying them verbatim
keeps the page's numbers identical to the measured ones. Each file goes under a
``###`` heading of its own, and the file's own headings move two levels down beneath
it, so the page's outline nests (``#### The grids`` under the table it belongs to).
The prose above the markers (the summary) is written by hand. The README links this
page; it holds no table of its own.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from bench import common

#: The page the tables go to.
PAGE = common.ROOT / "docs" / "results.md"

SECTIONS = [
    ("policy_cost.md", "Cost to a good model, per schedule: one range test against grids"),
    ("policy_study_judging.md", "The reading per schedule on the judging tasks"),
    (
        "policy_study_judging_first.md",
        "The reading per schedule: first scores of the first fitted factors",
    ),
    ("policy_study_new_judging.md", "The reading per schedule: first untouched scores"),
    ("policy_fit.md", "Each schedule's factor on max_lr, per optimizer family and BatchNorm"),
    ("policy_study_fitting.md", "The reading per schedule on the fitting tasks"),
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
#: Levels a result file's own headings move down: its ``##`` becomes ``####``.
NEST = 2


def section(body: str, title: str) -> str:
    """One result file's text under ``### title``: its own title dropped, its headings nested."""
    body = re.sub(r"^# .*\n+", "", body.strip())  # the file's own title
    body = re.sub(r"^(#{1,6}) ", lambda m: "#" * min(6, len(m[1]) + NEST) + " ", body, flags=re.M)
    return f"### {title}\n\n{body}\n"


def render(results: Path = common.RESULTS) -> str:
    """The tables of the results page, each result file under its title, in SECTIONS' order."""
    parts = []
    for name, title in SECTIONS:
        path = results / name
        if path.is_file():
            parts.append(section(path.read_text(encoding="utf-8"), title))
    return "\n".join(parts)


def updated(page_text: str, tables: str) -> str:
    """``page_text`` with ``tables`` between the markers.

    Raises:
      common.BenchError: the page lacks the markers.
    """
    if START not in page_text or END not in page_text:
        raise common.BenchError(f"docs/results.md has no {START} ... {END} markers")
    head, rest = page_text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{tables}{END}{tail}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="print the updated page to stdout; leave docs/results.md as it is",
    )
    mode.add_argument(
        "--check",
        action="store_true",
        help="exit 1 (and say so) if docs/results.md differs from the results",
    )
    args = p.parse_args(argv)
    text = PAGE.read_text(encoding="utf-8")
    new = updated(text, render())
    if args.dry_run:
        sys.stdout.write(new)
        return 0
    if args.check:
        if new != text:
            print(
                "docs/results.md differs from bench/results/; run "
                "`.venv/bin/python -m bench.readme_results`",
                file=sys.stderr,
            )
            return 1
        return 0
    from cyclr.app.files import write_text

    write_text(PAGE, new)
    print(f"updated {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(common.guarded("readme_results", main))
