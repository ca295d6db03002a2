# Weft: `make run` serves the API on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# the model ships inside a package: nothing is fetched at run time
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install install-dev install-bench run migrate test test-postgres lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
install-bench: $(VENV)/.installed-bench

migrate: install
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/python -m app.embedder --if-configured
	$(BIN)/weft serve

test: install-dev
	scripts/with-redis.sh scripts/with-chromium.sh $(BIN)/python -m pytest

# the browser tests, the schema fuzz run, the Fab Academy reports, the CLI's live-server
# tests, the ONNX export tests and the job worker process tests run in the SQLite pass; they
# test pages, documents, the API's contract, the command, the model export and SQLite's own
# runner, not the database
test-postgres: install-dev
	scripts/with-postgres.sh scripts/with-redis.sh $(BIN)/python -m pytest -m "not browser and not fuzz and not reports and not cli and not export and not workers and not descent"

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy app models pipelines

bench: install-bench
	$(BIN)/python -m bench.quality

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
