# make demo: set up and run the demo.  make test: set up and run every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium

.PHONY: demo test setup lint bench sample-data clean chromium docs axe

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

chromium:
	@test -x $(CHROMIUM) || { \
	  echo "Installing Chromium for the browser tests (needs root and apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# axe-core (npm, MPL-2.0) for the accessibility checks of the browser tests
axe: node_modules/axe-core/axe.min.js

node_modules/axe-core/axe.min.js:
	npm install --no-save --no-package-lock --no-audit --no-fund axe-core@4

demo: setup
	$(VENV)/bin/harvest demo

test: setup chromium axe
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check harvest tests bench scripts
	$(VENV)/bin/ruff format --check harvest tests bench scripts
	$(VENV)/bin/mypy harvest

sample-data: setup
	$(PY) scripts/make_sample_data.py

bench: setup
	$(PY) bench/bench_sync.py

docs: setup
	{ cat docs/data-dictionary.head.md; $(VENV)/bin/harvest standard --format markdown; } > docs/data-dictionary.md

clean:
	rm -rf $(VENV) demo-output .pytest_cache
