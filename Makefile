# `make demo` plans the example organisation; `make check` is the fast loop (lint, types, fast tests,
# under a minute); `make test` is everything (what CI runs). Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo check test lint docs docs-check python-version venv clean

python-version:
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11) else \
		"Python 3.11 or newer is needed (found %d.%d): set PYTHON=python3.11 or install it" % v[:2])'
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "the venv module is missing: \
		on Debian/Ubuntu run: apt-get install python3-venv" >&2; exit 1; }

$(STAMP): pyproject.toml | python-version
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/planner plan examples/usage.csv --inventory examples/inventory.csv \
		--policy examples/policy.toml --out-dir out/example

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# docs/cli.md is generated from the commands' --help (cog); docs-check fails when it is stale
docs: $(STAMP)
	$(BIN)/cog -I . -r docs/cli.md

docs-check: $(STAMP)
	$(BIN)/cog -I . --check docs/cli.md

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	HOSTILE_EXAMPLES=25 $(BIN)/pytest -n 2 --dist loadfile -q -m "not slow"

# -rs lists every skipped test with its reason (e.g. the report render test without Chromium)
test: lint docs-check
	$(BIN)/pytest -n 2 --dist loadfile -q -rs

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
