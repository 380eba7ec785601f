# Two entry points: `make demo` and `make test`. Both set up .venv from the committed uv.lock
# (every extra and the dev tools, the exact versions the tests run on).
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0

.PHONY: demo test setup lint bench chromium clean lock wheel-smoke

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv==0.13.9

# --locked: refuse a uv.lock that no longer matches pyproject.toml (run `make lock`);
# --inexact: keep pip and uv, which are not in the lock.
$(STAMP): $(BIN)/python pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --all-extras --inexact --python $(BIN)/python
	touch $(STAMP)

# After changing dependencies in pyproject.toml: resolve again and commit uv.lock.
lock: $(BIN)/python
	$(BIN)/uv lock

setup: $(STAMP)

# Debian chromium for the browser tests (playwright cannot download a browser here).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian chromium for browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

demo: $(STAMP)
	$(BIN)/liqcascade demo

# The checks first (a lint failure stops before the slow part), then every test.
test: lint chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

# ruff (rules and formatting) and mypy on src with the [tool.mypy] settings in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Build the wheel, install it in a fresh venv outside the checkout and run it from there.
wheel-smoke: $(BIN)/python chromium
	PY=$(PY) UV=$(abspath $(BIN)/uv) .ci/smoke_wheel.sh

clean:
	rm -rf $(VENV) .pytest_cache
