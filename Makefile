# make demo: set up and run the demo.  make test: set up and run every test.
# make constraints: re-resolve every dependency and pin the result in constraints.txt.
# make soak: run the invariant tests with a long budget (SOAK_MINUTES, default 15).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium
AXE := tests/axe/node_modules/axe-core/axe.min.js

.PHONY: demo test soak setup lint bench sample-data clean chromium docs axe constraints

setup: $(VENV)/.installed

# Every install (this one, the Dockerfile's, CI's through `make test`) takes the exact
# versions in constraints.txt, so it is the same every time; `make constraints` refreshes them.
# PIP_CONSTRAINT, unlike -c, also reaches pip's isolated build environment (setuptools).
# The first uninstall drops the distribution's old name ("harvest") from an older .venv.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip uninstall --quiet --yes harvest 2>/dev/null || true
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install --quiet --upgrade pip
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install --quiet -e '.[dev,pandas]'
	touch $@

# A fresh virtualenv, the newest releases pyproject.toml allows, every version written down.
CONSTRAINTS_VENV := .venv-constraints
constraints:
	rm -rf $(CONSTRAINTS_VENV)
	$(PYTHON) -m venv $(CONSTRAINTS_VENV)
	$(CONSTRAINTS_VENV)/bin/python -m pip install --quiet --upgrade pip setuptools
	$(CONSTRAINTS_VENV)/bin/python -m pip install --quiet '.[dev,pandas]'
	{ echo "# Made by \`make constraints\` with $$($(CONSTRAINTS_VENV)/bin/python -V): the exact versions"; \
	  echo "# of every install (make setup, the Dockerfile, CI). See docs/install.md."; \
	  $(CONSTRAINTS_VENV)/bin/python -m pip freeze --all --exclude harvest-charity; } > constraints.txt
	rm -rf $(CONSTRAINTS_VENV) build

chromium:
	@test -x $(CHROMIUM) || { \
	  echo "Installing Chromium for the browser tests (needs root and apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: setup
	$(VENV)/bin/harvest demo

# axe-core (npm, MPL-2.0) checks the staff console's and the funder dashboard's accessibility in the browser tests.
$(AXE): tests/axe/package.json tests/axe/package-lock.json
	@command -v npm >/dev/null || { \
	  echo "Installing npm for axe-core (needs root and apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	cd tests/axe && npm ci --no-audit --no-fund --silent
	touch $@

axe: $(AXE)

test: setup chromium $(AXE)
	$(PY) -m pytest -q

SOAK_MINUTES ?= 15
soak: setup
	@end=$$(( $$(date +%s) + 60 * $(SOAK_MINUTES) )); \
	while [ $$(date +%s) -lt $$end ]; do \
	  HYPOTHESIS_PROFILE=soak $(PY) -m pytest -q -s -p no:cacheprovider tests/test_invariants.py tests/test_fuzz_readers.py || exit 1; \
	done

lint: setup
	$(VENV)/bin/ruff check harvest tests bench scripts
	$(VENV)/bin/ruff format --check harvest tests bench scripts
	$(VENV)/bin/mypy harvest
	$(PY) -m pytest -q -p no:cacheprovider tests/test_architecture.py

sample-data: setup
	$(PY) scripts/make_sample_data.py

bench: setup
	$(PY) bench/bench_sync.py

docs: setup
	{ cat docs/data-dictionary.head.md; $(VENV)/bin/harvest standard --format markdown; } > docs/data-dictionary.md

clean:
	rm -rf $(VENV) demo-output .pytest_cache
