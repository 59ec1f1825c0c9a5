# One command to run the console, one to run the tests. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell cat pyproject.toml | sha1sum | cut -c1-12)
RUN_STAMP := $(VENV)/.installed-run-$(HASH)
DEV_STAMP := $(VENV)/.installed-dev-$(HASH)
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/caas
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint prepare-tests bench venv clean

# uv installs the same packages in a few seconds where pip takes most of a minute;
# pip when uv cannot be had (offline, no wheel for this platform).
define install
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	($(BIN)/python -m pip install --quiet uv && $(BIN)/uv pip install --quiet --python $(BIN)/python -e '$(1)') \
		|| $(BIN)/python -m pip install --quiet -e '$(1)'
	bash scripts/ceph-dev.sh bindings $(VENV)   # Debian's rados/rbd modules, when installed (Ceph volumes)
endef

# `make run` needs only the console's own dependencies; the tests add browsers, load tools...
$(RUN_STAMP): pyproject.toml
	$(call install,.)
	rm -f $(VENV)/.installed-run-* && touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml
	$(call install,.[dev])
	rm -f $(VENV)/.installed-* && touch $(RUN_STAMP) $(DEV_STAMP)

venv: $(DEV_STAMP)

run: $(RUN_STAMP)
	$(BIN)/python manage.py up --host $(HOST) --port $(PORT)

test: prepare-tests $(DEV_STAMP) lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest -n 2 --dist loadfile --durations=25

# One format, the linter's rules and the boundaries between apps (pyproject.toml); seconds.
lint: $(DEV_STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Packages and services the suite needs (apt, PostgreSQL, Redis); installs only what is missing.
prepare-tests:
	bash scripts/prepare-tests.sh

bench: $(DEV_STAMP)
	$(BIN)/python bench/cold_start.py

clean:
	rm -rf $(VENV) var staticfiles
