# Two commands: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP) $@

run: $(STAMP)
	$(BIN)/liaison db upgrade
	$(BIN)/liaison run

test: $(DEVSTAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n auto --maxprocesses 4 -m "not timing"
	$(BIN)/python -m pytest -m timing

# Each benchmark prints its anchor beside Liaison and the ratio (issue 22); `make bench` runs
# them all (about 15 minutes on two cores; PostgreSQL parts need LIAISON_TEST_DATABASE_URL's
# server, and are skipped when it does not answer).
bench: $(DEVSTAMP)
	$(BIN)/python bench/slack.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/reminders.py --skip-lateness
	$(BIN)/python bench/talking_points.py --points 100000
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/dingtalk.py

clean:
	rm -rf $(VENV) build *.egg-info
