"""cyclr's benchmarks: each module prints a markdown table and records it in bench/results/.

Run them as modules from the repository root, so that they share :mod:`bench.common`::

    .venv/bin/python -m bench.suggest_bounds --quick --out /tmp/suggest_bounds.md

``make bench`` runs them all, then ``python -m bench.readme_results`` copies the
tables into the results page, docs/results.md.
"""
