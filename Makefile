# cyclr: `make run` runs the main job, `make test` runs every test. Both set up
# the virtual environment first, with this machine's pins from constraints.txt (torch is
# the 2.13.0 CPU wheel there: a bare `torch` requirement pulls a multi-GB CUDA build).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
KERAS_BACKENDS ?= tensorflow jax torch
OUT ?= runs

.PHONY: install run test test-core test-keras test-oldest bench clean lint docs

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt torch tensorflow-cpu
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
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

# The tests against the lowest versions pyproject.toml allows (constraints-oldest.txt), in a
# virtual environment of their own: the core, PyTorch, JAX and Keras on its JAX backend.
OLDEST ?= .venv-oldest
test-oldest:
	$(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet -c constraints-oldest.txt -e '.[torch,keras,jax,app,test]'
	$(OLDEST)/bin/python -m pytest tests/core tests/rangetest tests/cli tests/torch tests/jax -q
	KERAS_BACKEND=jax $(OLDEST)/bin/python -m pytest tests/keras -q

# Every benchmark in turn (about 15 minutes on 2 quiet cores); each prints its table and
# writes it to bench/results/, then the README's Results section is refreshed from them.
# The bench extra holds the peers they run live (torch-lr-finder).
# JUDGING=1 adds the bounds reading's judging study (bench.suggest_bounds --judging: its
# judging and moved tasks, 10 seeds, about 55 minutes on 2 workers, then bench.curve_landmarks
# and bench.bounds_check on its tasks, about 25 and 15 minutes more); TRANSFORMER=1 adds the
# char transformer's cost to a good loss (bench.time_to_accuracy --dataset transformer,
# about 12 minutes). POLICIES=1 adds issue 26's per-policy study (bench.policy_study: every
# task x policy x peak rate x 5 seeds, cached in bench/results/cache/policy_study/ so that a
# killed run resumes; many hours on 2 workers: `python -m bench.policy_study --estimate`).
# GPU_TRANSFORMER=1 adds the char transformer at GPU scale, on a CUDA GPU only
# (bench.time_to_accuracy --dataset transformer-gpu --device cuda --amp bf16 --seeds 1: 6 layers,
# width 384, context 256, 1200 updates, cyclr's readings per schedule beside the grid-tuned
# baselines; about 5 minutes on an H100, estimated), written to
# bench/results/time_to_accuracy_transformer_gpu.md with the card's name in its header.
BENCHES ?= schedule_speed overhead jax_range_test suggest_bounds ladders bn_validation finder_peers time_to_accuracy
bench: install
	@for name in $(BENCHES); do echo "== python -m bench.$$name"; $(PY) -m bench.$$name || exit 1; done
	@if [ -n "$(JUDGING)" ]; then $(PY) -m bench.suggest_bounds --judging --seeds 10 --workers 2 || exit 1; fi
	@if [ -n "$(JUDGING)" ]; then $(PY) -m bench.curve_landmarks || exit 1; fi
	@if [ -n "$(JUDGING)" ]; then $(PY) -m bench.bounds_check || exit 1; fi
	@if [ -n "$(TRANSFORMER)" ]; then $(PY) -m bench.time_to_accuracy --dataset transformer || exit 1; fi
	@if [ -n "$(GPU_TRANSFORMER)" ]; then $(PY) -m bench.time_to_accuracy --dataset transformer-gpu --device cuda --amp bf16 --seeds 1 || exit 1; fi
	@if [ -n "$(POLICIES)" ]; then $(PY) -m bench.policy_study --workers 2 || exit 1; fi
	$(PY) -m bench.readme_results

LINT_PATHS ?= src tests bench examples tools

# ruff (lint, and format in check mode) and mypy, configured in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

# The documentation site (mkdocs.yml, docs/) into site/; any warning fails the build.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) $(OLDEST) $(OUT) .pytest_cache site .mypy_cache .ruff_cache dist
