# Developer entry points. A fresh clone needs only python3 (3.11+): every target builds .venv first.
# PostgreSQL and Redis come from DATABASE_URL / REDIS_URL, the default local ports, or embedded
# servers started by superapp/launcher.py (see its docstring).

SHELL := /bin/bash
BOOTSTRAP_PYTHON := $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
LAUNCH := $(PY) -m superapp.launcher
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

S ?=
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help demo test bench fuzz migrate shell clean assets messages browser screenshots

help: ## Show this help
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	$(VENV)/bin/pip install -e '.[dev]'
	touch $@

# Front-end files served as static files (htmx), from the npm registry: package-lock.json pins them.
node_modules/.installed: package.json package-lock.json
	command -v npm >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y npm)
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

assets: node_modules/.installed ## Install the console's static files from npm (htmx)

messages: $(VENV)/.installed ## Compile the UI translations (locale/*/LC_MESSAGES/django.po -> .mo)
	command -v msgfmt >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y gettext)
	$(PY) manage.py compilemessages --ignore '.venv/*' --ignore 'node_modules/*'

browser: ## Debian's Chromium (and a Japanese font for screenshots) for the browser tests
	test -x /usr/bin/chromium || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium fonts-ipafont-gothic)

demo: $(VENV)/.installed assets messages ## Run the whole platform with demo data (PORT=8000 unless set)
	$(LAUNCH) demo

test: $(VENV)/.installed assets messages browser ## Run the test suite (extra pytest arguments: ARGS='-k tenant')
	$(LAUNCH) test -- -n 2 -p xdist $(ARGS)

bench: $(VENV)/.installed ## Run the load benchmarks with wrk (one scenario: S=<name>)
	command -v wrk >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y wrk)
	$(LAUNCH) services -- $(PY) -m bench.run $(S)

screenshots: $(VENV)/.installed assets messages browser ## Regenerate docs/screenshots/ (console pages with the bench's city data)
	$(LAUNCH) services -- $(PY) docs/screenshots/make_screenshots.py $(ARGS)

fuzz: $(VENV)/.installed ## Fuzz the API from its OpenAPI schema with more examples (FUZZ_EXAMPLES=300)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-300} $(LAUNCH) test -- -p no:xdist tests/test_fuzz_api.py $(ARGS)

migrate: $(VENV)/.installed ## Migrate the shared schema, the tenant template and every municipality
	$(LAUNCH) services -- sh -c '$(PY) manage.py migrate_schemas --shared --noinput \
		&& $(PY) manage.py prepare_tenant_template \
		&& $(PY) manage.py migrate_schemas --tenant --noinput'

shell: $(VENV)/.installed ## Django shell against the same services as `make test`
	$(LAUNCH) services -- $(PY) manage.py shell

clean: ## Delete local service data (.demo/, .test-services/); stop `make demo` first
	rm -rf .demo .test-services
