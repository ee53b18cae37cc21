"""Summarise what `make lint` finds: ruff's counts by rule, mypy's by module and error code.

    .venv/bin/python tools/lint_report.py            # both
    .venv/bin/python tools/lint_report.py --mypy     # mypy only, with untyped defs listed

Read-only: it runs ``ruff check`` and ``mypy`` with the configuration in pyproject.toml and
never fixes or formats anything. Useful while working through the findings; `make lint` is
the gate.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MYPY_LINE = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+): error: (?P<msg>.*?)\s+\[(?P<code>[\w-]+)\]$"
)


def ruff_report() -> None:
    """Print ruff's findings by rule, and how many files ruff format would change."""
    stats = subprocess.run(
        [BIN / "ruff", "check", "--statistics", "src", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    print("== ruff check (count, rule)")
    print(stats.stdout.strip() or "clean")
    fmt = subprocess.run(
        [BIN / "ruff", "format", "--check", "src", "tests", "bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = re.search(r"\d+ files? would be reformatted[^\n]*", fmt.stdout + fmt.stderr)
    print(f"== ruff format: {summary.group(0) if summary else 'all files formatted'}")


def mypy_report(list_untyped: bool) -> None:
    """Print mypy's errors by module and code; with ``list_untyped``, each untyped def."""
    run = subprocess.run([BIN / "mypy"], cwd=ROOT, capture_output=True, text=True, check=False)
    by_module: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    untyped: dict[str, list[str]] = collections.defaultdict(list)
    for line in run.stdout.splitlines():
        found = MYPY_LINE.match(line)
        if not found:
            continue
        module = found["path"].removeprefix("src/").removesuffix(".py").replace("/", ".")
        by_module[module][found["code"]] += 1
        if found["code"] == "no-untyped-def":
            untyped[module].append(f"{found['line']}: {found['msg']}")
    print("== mypy (errors per module: code x count)")
    for module in sorted(by_module, key=lambda m: -sum(by_module[m].values())):
        counts = by_module[module]
        detail = ", ".join(f"{code} x{n}" for code, n in counts.most_common())
        print(f"{sum(counts.values()):4d}  {module}: {detail}")
    print(run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "mypy printed nothing")
    if list_untyped:
        for module, lines in sorted(untyped.items()):
            print(f"-- {module}: defs without complete annotations")
            for entry in lines:
                print(f"   {entry}")


def main(argv: list[str] | None = None) -> int:
    """Run the reports asked for on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ruff", action="store_true", help="ruff only")
    parser.add_argument("--mypy", action="store_true", help="mypy only, untyped defs listed")
    args = parser.parse_args(argv)
    if not args.mypy:
        ruff_report()
    if not args.ruff:
        mypy_report(list_untyped=args.mypy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
