# The two commands of the README: `make run` and `make test`. Both create the virtual
# environment on first use, so a fresh machine needs only Python 3.11+, pip and a C compiler.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SIM_SEEDS ?= 300

# The explorer's end-to-end tests drive Debian's Chromium through its chromedriver
# (tests/e2e/test_explorer_browser.py); `browser` installs both when they are missing.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: venv run test sim clean browser screenshots

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/agora cluster up --validators 4 --shards 2 --dir cluster

browser:
	test -x $(CHROMIUM) -a -x $(CHROMEDRIVER) || ($(SUDO) apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium chromium-driver)

test: $(STAMP) browser
	$(PY) -m pytest -q
	$(PY) -m tests.sim --seeds $(SIM_SEEDS) --pinned

# Refresh the committed explorer screenshots (bench/results/explorer/*.png, in the README).
screenshots: $(STAMP) browser
	AGORA_SCREENSHOT_DIR=bench/results/explorer $(PY) -m pytest -q tests/e2e/test_explorer_browser.py

sim: $(STAMP)
	$(PY) -m tests.sim --seeds $(SIM_SEEDS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
