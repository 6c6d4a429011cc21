# ssj — the developer's front door. Every target works from a clean clone with Python 3.11+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Browser tests drive Debian's chromium through Playwright (no browser is downloaded).
CHROMIUM ?= /usr/bin/chromium

.PHONY: help install browser run test unit integration e2e demo fuzz chaos lint format clean bench-pipeline bench-import bench-draw bench-plans bench-results bench-disclosure

help:
	@echo "make run    start embedded NATS + PostgreSQL (unless NATS_URL/DATABASE_URL) and all services"
	@echo "make test   run every test against real NATS and PostgreSQL"
	@echo "make demo   run the whole 双随机、一公开 cycle against running services"
	@echo "make fuzz   schemathesis against all five services with tokens of every role (SSJ_FUZZ_EXAMPLES per operation; last line JSON)"
	@echo "make chaos  the cycle under load while every process, NATS and PostgreSQL are killed; then the checker (last line JSON)"
	@echo "make unit | integration | e2e | lint | format | clean | bench-pipeline | bench-import | bench-draw | bench-plans | bench-results | bench-disclosure"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m libs.common.cli run

# Debian's chromium for the portal's browser tests, installed once (root, or sudo).
$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests"
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && \
	    $$SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null; }
	@test -x $(CHROMIUM)

browser: $(CHROMIUM)

test: $(STAMP) $(CHROMIUM)
	SSJ_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	$(PY) -m pytest -q tests/integration

e2e: $(STAMP) $(CHROMIUM)
	SSJ_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -q tests/e2e

# What `make test` fuzzes, with more cases (at least 1,000 per service), every role and the
# coverage phase for all; the last line is the figures as JSON (README "make fuzz").
fuzz: $(STAMP)
	SSJ_FUZZ_EXAMPLES=$${SSJ_FUZZ_EXAMPLES:-80} $(PY) -m tests.e2e.fuzz_all

# Faults under load (tests/chaos): every service process (two of each), NATS and PostgreSQL.
chaos: $(STAMP)
	$(PY) -m tests.chaos

demo: $(STAMP)
	$(PY) -m tests.e2e.scenario

bench-import: $(STAMP)
	$(PY) -m tests.bench.registry_import

bench-pipeline: $(STAMP)
	$(PY) -m tests.bench.pipeline

bench-draw: $(STAMP)
	$(PY) -m tests.bench.draw

bench-plans: $(STAMP)
	$(PY) -m tests.bench.plans

bench-results: $(STAMP)
	$(PY) -m tests.bench.results

bench-disclosure: $(STAMP)
	$(PY) -m tests.bench.disclosure

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
