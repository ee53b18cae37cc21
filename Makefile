# cyclr: `make run` runs the main job, `make test` runs every test. Both set up
# the virtual environment first (torch pinned to the 2.13.0 CPU wheel: a bare
# `torch` requirement pulls a multi-GB CUDA build).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
KERAS_BACKENDS ?= tensorflow jax torch
OUT ?= runs

.PHONY: install run test test-core test-keras bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[all]'
	touch $@

# The main job: the seed's schedule (base 1e-4, max 1e-2, a half cycle of 4
# epochs of 60,000 images at batch 50, 15 epochs), drawn and checked.
run: install
	mkdir -p $(OUT)
	$(VENV)/bin/cyclr preview --base-lr 1e-4 --max-lr 1e-2 --step-size 4800 \
		--steps 18000 --steps-per-epoch 1200 --out $(OUT)/seed_schedule.png

# Everything but Keras in one process, then the Keras tests once per backend.
test: install test-core test-keras

test-core: install
	$(PYTEST) tests --ignore=tests/keras -q

test-keras: install
	@for backend in $(KERAS_BACKENDS); do \
		echo "== Keras tests on the $$backend backend"; \
		KERAS_BACKEND=$$backend $(PYTEST) tests/keras -q || exit 1; \
	done

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
