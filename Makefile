# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# What is installed: the bot's own dependencies for `make run`; the dev tools (ruff,
# mypy, pytest...) only for `make test`, so a first run does not wait for them.
RUNTIME := $(VENV)/.installed-runtime
DEV     := $(VENV)/.installed-dev

# Test processes at once: most tests wait (on loopback servers, on bot processes they
# start) more than they compute, so twice the 2 cores of the machines here pays off.
TEST_WORKERS ?= 4

.PHONY: run test pytest lint bench clean

$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV)

## Set up (first time) and run the bot on its embedded defaults, or on your .env.
run: $(RUNTIME)
	$(BIN)/python -m bot run

## Set up (first time), then lint, type-check and run the test suite side by side;
## fails if any of them fails.
test: $(DEV)
	@$(MAKE) --no-print-directory --jobs=2 lint pytest

## The test suite on TEST_WORKERS processes, handed out one test at a time (see
## pytest_collection_modifyitems in tests/conftest.py: slow tests start first).
pytest: $(DEV)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --maxschedchunk 1 --durations=10

lint: $(DEV)
	$(BIN)/ruff check bot tests bench interop
	$(BIN)/ruff format --check bot tests bench interop
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_import_contract.py  # the import contract
	$(BIN)/python -m pytest -q -p no:cacheprovider --collect-only interop >/dev/null  # interop still imports

bench: $(DEV)
	$(BIN)/python bench/run_all.py
	$(BIN)/python bench/bench_llm.py
	$(BIN)/python bench/bench_slack.py
	$(BIN)/python bench/bench_discord.py
	$(BIN)/python bench/bench_claims.py
	$(BIN)/python bench/bench_stories.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
