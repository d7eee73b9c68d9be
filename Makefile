# The two commands of the README: `make run` and `make test`. Both create the virtual
# environment on first use, so a fresh machine needs only Python 3.11+, pip and a C compiler.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SIM_SEEDS ?= 300

.PHONY: venv run test sim clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/agora cluster up --validators 4 --shards 2 --dir cluster

test: $(STAMP)
	$(PY) -m pytest -q
	$(PY) -m tests.sim --seeds $(SIM_SEEDS) --pinned

sim: $(STAMP)
	$(PY) -m tests.sim --seeds $(SIM_SEEDS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
