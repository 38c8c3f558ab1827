# upwatch: `make run` starts the demo, `make test` runs everything CI runs.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8080
MAIL_PORT ?= 8025
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes (stamp files per extra).
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,demo]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	PORT=$(PORT) MAIL_PORT=$(MAIL_PORT) VENV=$(VENV) ./scripts/run-demo.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy agent shared statuspage

pytest: $(VENV)/.installed-dev
	./scripts/test-setup.sh
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(VENV)/.installed-dev
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
