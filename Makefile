# Quick start: `make demo` (set up + release the bundled Adult demo), `make test` (set up + run the tests).
# Both create .venv with Python 3.11 when needed. PYTHON picks the interpreter; TORCH_INDEX, when set,
# installs torch==2.13.0 from that wheel index first (for example PyTorch's CPU-only index).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.privsynth-installed
TORCH_INDEX ?=

.PHONY: demo test test-fast test-acceptance lint-imports install clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23" setuptools wheel

$(STAMP): pyproject.toml | $(BIN)/python
	@if [ -n "$(TORCH_INDEX)" ]; then $(BIN)/python -m pip install --quiet "torch==2.13.0" --index-url "$(TORCH_INDEX)"; fi
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/privsynth run threat_models/adult.yaml --out reports

lint-imports: $(STAMP)
	$(BIN)/lint-imports --no-cache

test: $(STAMP) lint-imports
	$(BIN)/python -m pytest -q

test-acceptance: $(STAMP)
	$(BIN)/python -m pytest -q -m acceptance

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
