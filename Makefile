# GridPulse developer commands. Each target bootstraps what it needs.
#   make run    local stack (moto, gateway on :3000 with the web dashboard at /, seeded admin)
#   make web    build the web dashboard into web/dist (npm ci from the lock file) and print its size
#   make test   the whole suite: firmware host tests, ruff (lint, import order, format), then unit, integration, end-to-end
#               (with schemathesis over the whole OpenAPI), firmware/cloud contract, template lint, sam build;
#               pytest on two workers (pytest-xdist), each test module on one, the end-to-end tests together on one
#   make bench  cold-start, DynamoDB-requests-per-call (and per lights route), control-to-confirmation, ingestion, alerts and cost benchmarks
#   make soak   the local stack's memory (RSS per 10,000 readings) under a fast fleet
#   make backtest  the day-ahead forecaster beside seasonal-naive on a real electricity series
#   make deploy-web  build the web dashboard and upload it to the deployed stack (docs/deploy.md)
#   make redrive   dead-letter queues with their depth; ARGS="--move" moves them back, ARGS="--local" on the local stack (docs/operations.md)
PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed

.PHONY: run test unit bench soak backtest lint build openapi lock clean firmware-test web browser deploy-web redrive

# Debian packages a target needs, installed with apt when missing (sudo when not root).
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

$(STAMP): requirements/dev.in requirements/runtime.in requirements/forecast.in requirements/assistant.in requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.in -c requirements/constraints.txt
	$(PY) infrastructure/dev_paths.py
	touch $@

$(SAM_STAMP): requirements/sam.in requirements/sam-constraints.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --disable-pip-version-check -r requirements/sam.in -c requirements/sam-constraints.txt
	touch $@

run: $(STAMP) web
	$(PY) -m infrastructure.local

# The web dashboard (web/src -> web/dist with uPlot and Leaflet from npm ci), and its size budget.
web: $(STAMP)
	@command -v npm >/dev/null || ($(APT) update -qq && $(APT) install -y -qq nodejs npm)
	$(PY) -m infrastructure.web_build

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; no browser download).
browser:
	@test -x /usr/bin/chromium || ($(APT) update -qq && $(APT) install -y -qq chromium)

test: $(STAMP) $(SAM_STAMP) firmware-test web browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n 2 --dist loadgroup

unit: $(STAMP)
	$(PY) -m pytest tests/unit tests/integration tests/local_stack -m "not e2e"

# Cold starts are also shown beside the same functions at this revision: the
# last one before the shared layer was reorganised by bounded context.
BENCH_AGAINST ?= e53457c

bench: $(STAMP)
	$(PY) -m bench --against $(BENCH_AGAINST)

soak: $(STAMP)
	$(PY) -m bench --only soak

# Day-ahead forecaster vs seasonal-naive on a real electricity series (about a minute)
backtest: $(STAMP)
	$(PY) -m bench --only backtest

lint: $(STAMP) $(SAM_STAMP)
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1

build: $(SAM_STAMP)
	$(SAM) build

# The web dashboard's build (`make web`: web/dist/) to the stack of samconfig.toml: upload with
# Cache-Control per file, delete stale files, invalidate CloudFront (infrastructure/deploy_web.py).
# DEPLOY_WEB_ARGS=--dry-run prints the plan; --stack NAME / --region REGION for another stack.
deploy-web: $(STAMP)
	$(MAKE) web
	$(PY) -m infrastructure.deploy_web $(DEPLOY_WEB_ARGS)

# Dead-letter queues: list them (depth, where they go back), ARGS="--move [QUEUE...]" to move back, ARGS="--local" for make run's stack
redrive: $(STAMP)
	$(PY) -m infrastructure.redrive $(ARGS)

openapi: $(STAMP)
	$(PY) -m infrastructure.openapi --write

# Re-resolve every pin (needs the package registry). Commit the results.
lock:
	rm -rf /tmp/gp-lock && $(PYTHON) -m venv /tmp/gp-lock/dev && $(PYTHON) -m venv /tmp/gp-lock/rt && $(PYTHON) -m venv /tmp/gp-lock/sam
	/tmp/gp-lock/dev/bin/pip install -q -r requirements/dev.in
	/tmp/gp-lock/dev/bin/pip freeze --exclude-editable > requirements/constraints.txt
	/tmp/gp-lock/rt/bin/pip install -q -r requirements/runtime.in -c requirements/constraints.txt
	/tmp/gp-lock/rt/bin/pip freeze > layers/shared/requirements.txt
	/tmp/gp-lock/sam/bin/pip install -q -r requirements/sam.in
	/tmp/gp-lock/sam/bin/pip freeze > requirements/sam-constraints.txt

clean:
	rm -rf .aws-sam build .pytest_cache

# Firmware host build and tests (C++17, GoogleTest): installs the Debian packages it needs
# (as root, in CI), builds into firmware/build/ with cmake and runs every host test.
firmware-test:
	@dpkg -s libgtest-dev cmake g++ make >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgtest-dev cmake g++ make)
	$(MAKE) -C firmware test
