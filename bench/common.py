"""What every benchmark shares: where its table goes, its provenance header, small formats.

A table in ``bench/results/`` is only worth its header: the command that made it, when,
on what machine under what load, with which versions, at which commit and over which
seeds. :func:`provenance` writes that header, the same way for every bench, so a
reader can compare two tables (or a table and docs/results.md) line by line.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import shlex
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
#: The interpreter the README's commands use (``make install`` creates it).
PYTHON = ".venv/bin/python"
#: Distribution names to ask for a package's version when its import name differs.
DISTRIBUTIONS = {
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
    "sklearn": ("scikit-learn",),
    "torch_lr_finder": ("torch-lr-finder",),
}
#: How the header names a package, by import name (others: as imported).
DISPLAY_NAMES = {
    "numpy": "NumPy",
    "sklearn": "scikit-learn",
    "torch_lr_finder": "torch-lr-finder",
    "keras": "Keras",
    "tensorflow": "TensorFlow",
    "jax": "JAX",
}


class BenchError(Exception):
    """A bad option or missing data: one line on stderr and exit status 2 (see :func:`guarded`)."""


def guarded(name: str, main: Callable[[], int]) -> int:
    """``main()``'s exit status; a :class:`BenchError` becomes one line on stderr and 2."""
    try:
        return main()
    except BenchError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2


def log(message: str) -> None:
    """Progress goes to stderr, so that stdout carries the table alone."""
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- where it goes
def command(name: str, argv: Sequence[str] | None = None) -> str:
    """The command line that repeats this run: ``.venv/bin/python -m bench.NAME ARGS``."""
    args = sys.argv[1:] if argv is None else list(argv)
    return shlex.join([PYTHON, "-m", f"bench.{name}", *args])


def output_path(stem: str, *, quick: bool, out: str | Path | None) -> Path | None:
    """Where a run writes its table: ``out`` when given, else ``bench/results/STEM.md``.

    A ``--quick`` run is a smoke test, not a measurement: it writes only where ``out``
    says (nothing without one), and never into ``bench/results/``, so it cannot replace
    a committed result.

    Raises:
      BenchError: a quick run given an ``out`` inside ``bench/results/``.
    """
    if out is None:
        return None if quick else RESULTS / f"{stem}.md"
    path = Path(out)
    if quick and path.resolve().is_relative_to(RESULTS.resolve()):
        raise BenchError(
            f"--out must lie outside bench/results/ for a --quick run (its numbers "
            f"are a smoke test, not results); received --out={str(out)!r}"
        )
    return path


def write_result(path: Path, title: str, header: str, body: str) -> Path:
    """Write ``# title``, the provenance ``header`` and ``body`` to ``path``, atomically."""
    from cyclr.app.files import write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_text(path, f"# {title}\n\n{header}\n\n{body.strip()}\n")


# ----------------------------------------------------------------------------- provenance
@dataclass(frozen=True)
class Started:
    """When a bench began and the load then: what :func:`provenance` cannot learn at the end."""

    date: datetime.datetime
    load: tuple[float, float, float] | None


def start() -> Started:
    """Call first thing, before the work: the date and the load average at the start."""
    return Started(datetime.datetime.now().astimezone(), _load())


def provenance(
    started: Started,
    command_line: str,
    *,
    seeds: str | range | None,
    packages: Iterable[str] = (),
    threads: int | None = None,
    device: str = "cpu",
    versions: Mapping[str, str] | None = None,
) -> str:
    """The header of every table in bench/results/: how to get the same numbers again.

    Args:
      started: from :func:`start`, called before the work.
      command_line: from :func:`command`.
      seeds: the seeds the numbers average over (a range), or a few words when none do.
      packages: import names whose versions matter (Python, cyclr and NumPy always do).
      threads: the compute threads per process, when the bench sets them.
      device: where the work ran (``'cpu'``, ``'cuda'``, ...).
      versions: versions learnt elsewhere (a child process), by package; they win.

    Returns:
      A markdown list: command, date, machine, load, versions, git commit, seeds.
    """
    machine = f"{os.cpu_count()} cores ({_cpu_name()}), {platform.system()} {platform.machine()}"
    if threads is not None:
        machine += f"; {threads} compute thread(s) per process"
    machine += f"; device {device}"
    if device.startswith("cuda"):
        import torch

        machine += f" ({torch.cuda.get_device_name(0)})"
    found = {"Python": platform.python_version(), "cyclr": _cyclr_version()}
    for name in ("numpy", *packages, *(versions or {})):
        found[DISPLAY_NAMES.get(name, name)] = (versions or {}).get(name) or _version(name)
    return "\n".join(
        [
            f"- command: `{command_line}`",
            f"- date: {started.date:%Y-%m-%d %H:%M %Z}",
            f"- machine: {machine}",
            f"- load average (1, 5, 15 min): {_load_text(started.load)} at the start, "
            f"{_load_text(_load())} at the end",
            "- versions: " + ", ".join(f"{k} {v}" for k, v in found.items()),
            f"- git commit: {git_commit()}",
            f"- seeds: {seeds_text(seeds)}",
        ]
    )


def seeds_text(seeds: str | range | None) -> str:
    """``range(10)`` -> ``'0-9 (10)'``; text is kept as it is; None -> ``'none'``."""
    if seeds is None:
        return "none"
    if isinstance(seeds, str):
        return seeds
    if len(seeds) == 1:
        return f"{seeds[0]} (1)"
    return f"{seeds[0]}-{seeds[-1]} ({len(seeds)})"


def git_commit() -> str:
    """The checkout's commit, and whether tracked files differ from it (read-only git calls)."""
    # No optional locks: the bench must not refresh the index under someone else's git command.
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    head = git("rev-parse", "--short=12", "HEAD")
    if head is None:
        return "unknown (not a git checkout, or no git)"
    changed = git("status", "--porcelain", "--untracked-files=no")
    if changed is None:
        return f"{head.strip()} (changes unknown)"
    count = len(changed.splitlines())
    return head.strip() + (f" with uncommitted changes to {count} file(s)" if count else "")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return next(
                line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")
            )
    except (OSError, StopIteration):
        return platform.processor() or platform.machine() or "unknown CPU"


def _load() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (OSError, AttributeError):  # not measured on this system (Windows)
        return None


def _load_text(load: tuple[float, float, float] | None) -> str:
    return "unknown" if load is None else ", ".join(f"{v:.2f}" for v in load)


def _cyclr_version() -> str:
    import cyclr

    return cyclr.__version__


def _version(name: str) -> str:
    for dist in DISTRIBUTIONS.get(name, (name,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


# ----------------------------------------------------------------------------- formats
def mean_std(values: Iterable[float], scale: float = 100.0, digits: int = 2) -> str:
    """``'97.50 ± 0.28'``: mean and sample standard deviation of ``scale * values``."""
    values = [scale * v for v in values]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} ± {std:.{digits}f}"


def markdown_table(
    header: Sequence[str], rows: Iterable[Sequence[str]], align: Sequence[str] | None = None
) -> str:
    """A markdown table; ``align`` gives each column's rule (``'---'`` or ``'---:'``)."""
    align = align or ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
