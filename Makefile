# cyclr: `make run` runs the main job, `make test` runs every test. Both set up
# the virtual environment first (torch pinned to the 2.13.0 CPU wheel: a bare
# `torch` requirement pulls a multi-GB CUDA build).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
KERAS_BACKENDS ?= tensorflow jax torch
OUT ?= runs

.PHONY: install run test test-core test-keras bench clean lint docs

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[all]'
	touch $@

# The main job: the seed's workflow on the bundled digits data: range test ->
# (base_lr, max_lr) -> step size of 4 epochs -> triangular CLR training with
# the seed's CNN in Keras -> runs/train-<time>/report.html. RUN_ARGS adds options.
run: install
	$(VENV)/bin/cyclr train --out $(OUT)/train-$$(date +%Y%m%d-%H%M%S) $(RUN_ARGS)

# Everything but Keras in one process, then the Keras tests once per backend.
test: install test-core test-keras

test-core: install
	$(PYTEST) tests --ignore=tests/keras -q

test-keras: install
	@for backend in $(KERAS_BACKENDS); do \
		echo "== Keras tests on the $$backend backend"; \
		KERAS_BACKEND=$$backend $(PYTEST) tests/keras -q || exit 1; \
	done

# Every benchmark in turn (about 15 minutes on 2 quiet cores); each prints its table and
# writes it to bench/results/, then the README's Results section is refreshed from them.
# The bench extra holds the peers they run live (torch-lr-finder).
BENCHES ?= schedule_speed overhead suggest_bounds finder_peers time_to_accuracy
bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	@for name in $(BENCHES); do echo "== python -m bench.$$name"; $(PY) -m bench.$$name || exit 1; done
	$(PY) -m bench.readme_results

# Lint and type checks and the documentation site: tools from the lint and docs extras.
LINT_PATHS ?= src tests bench examples tools
$(VENV)/.dev-tools: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[lint,docs]'
	touch $@

# ruff (lint, and format in check mode) and mypy, configured in pyproject.toml.
lint: $(VENV)/.dev-tools
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

# The documentation site (mkdocs.yml, docs/) into site/; any warning fails the build.
docs: $(VENV)/.dev-tools
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache site .mypy_cache .ruff_cache
