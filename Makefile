# Two commands: `make run` and `make test`. Everything else is set up on the way.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench clean fonts browser

# Debian packages the project needs beyond Python: a CJK font for the review's chart (run and
# test), and Debian's own Chromium with its driver for the dashboard's browser tests (test).
# Each is installed with apt-get only when missing (no browser download: Playwright drives
# /usr/bin/chromium). Without root or apt-get, say what to install and go on.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
APT_INSTALL = if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends $(1) >/dev/null; \
	else echo "please install the Debian packages: $(1)" >&2; fi

fonts:
	@test -e $(CJK_FONT) || $(call APT_INSTALL,fonts-noto-cjk)

browser:
	@(command -v chromium >/dev/null && command -v chromedriver >/dev/null) || \
	  $(call APT_INSTALL,chromium chromium-driver)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP) $@

run: $(STAMP) fonts
	$(BIN)/liaison db upgrade
	$(BIN)/liaison run

# Tests write bytecode even where PYTHONDONTWRITEBYTECODE is set (as in some containers):
# otherwise each pytest worker rewrites every test module's asserts and compiles the project
# anew, about 3 s of CPU per process; the caches go to the ignored __pycache__ folders.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest

# The tests marked `timing` measure latency with real processes (kill -9, PostgreSQL stopped,
# a Slack 429); they spend most of their 40 s waiting, so they run beside the rest rather than
# after it. The rest runs at the lowest priority (nice 19), so the kernel gives the timing
# tests' processes the CPU first (the shared PostgreSQL server is not niced: it serves both).
# Their output comes after the rest's; either run failing fails `make test`. On Ctrl-C both
# runs stop and tear down (tests/conftest.py lets the background run hear SIGINT). The timing
# run collects only the files that mark tests `timing`.
TIMING_FILES = $(shell grep -rl --include='*.py' 'mark\.timing' tests)

test: $(DEVSTAMP) fonts browser
	$(BIN)/ruff check .
	@log=$$(mktemp); \
	$(PYTEST) -p no:cacheprovider -m timing $(TIMING_FILES) >$$log 2>&1 & timing=$$!; \
	trap 'kill -INT $$timing 2>/dev/null; wait $$timing; rm -f $$log; exit 130' INT TERM; \
	nice -n 19 $(PYTEST) -n 4 --maxschedchunk 2 -m "not timing"; rest=$$?; \
	wait $$timing; timed=$$?; \
	echo "== the timing tests (run beside the rest) =="; cat $$log; rm -f $$log; \
	[ $$rest = 0 ] && [ $$timed = 0 ]

# Each benchmark prints its anchor beside Liaison and the ratio (issue 22); `make bench` runs
# them all (about 15 minutes on two cores; PostgreSQL parts need LIAISON_TEST_DATABASE_URL's
# server, and are skipped when it does not answer).
bench: $(DEVSTAMP)
	$(BIN)/python bench/slack.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/reminders.py --skip-lateness
	$(BIN)/python bench/sweep_acks.py
	$(BIN)/python bench/talking_points.py --points 100000
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/dingtalk.py
	$(BIN)/python bench/dashboard.py

clean:
	rm -rf $(VENV) build *.egg-info
