# The command contract of COURSE.md: book, test, release, grade, lab.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The stamp records a finished install; a change to the pins makes it stale.
STAMP := $(VENV)/.installed

.PHONY: book test release grade import formgrader student-bundle benchmark lab clean sandbox browser

$(STAMP): requirements.txt pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The execution cache knows the pages' code, not the package they import: a change to the
# package clears it, so figures never go stale.
_build/.package-stamp: $(wildcard bptt/*.py)
	rm -rf _build/.jupyter_cache
	mkdir -p _build && touch $@

book: $(STAMP) _build/.package-stamp
	$(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going

# Grading runs student code under bubblewrap: install it where we may (root on Debian).
sandbox:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } \
	  || echo "warning: bubblewrap is missing; grading will run without a sandbox"

# The browser tests open the formgrader and feedback pages in headless Chromium (Debian's).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	  || echo "warning: chromium is missing; the browser tests will be skipped"

test: $(STAMP) sandbox browser
	$(PY) -m pytest -n 2 --dist loadfile

release: $(STAMP)
	$(PY) -m autograder.release

# SCHEDULER=tcp://host:8786 grades on that Dask cluster's workers (README: Grading on a cluster).
grade: $(STAMP) sandbox
	@test -n "$(SUBMISSIONS)" -a -n "$(OUT)" || { echo "usage: make grade SUBMISSIONS=dir OUT=dir [SCHEDULER=tcp://host:8786]"; exit 2; }
	$(PY) -m autograder.grade "$(SUBMISSIONS)" "$(OUT)" $(if $(SCHEDULER),--scheduler "$(SCHEDULER)") $(GRADE_OPTIONS)

import: $(STAMP)
	@test -n "$(ZIP)" -a -n "$(ASSIGNMENT)" -a -n "$(SUBMISSIONS)" || { echo "usage: make import ZIP=file ASSIGNMENT=id SUBMISSIONS=dir"; exit 2; }
	$(PY) -m autograder.lms "$(ZIP)" "$(ASSIGNMENT)" "$(SUBMISSIONS)"

# nbgrader's formgrader on the grading course that `make grade` wrote into OUT.
formgrader: $(STAMP)
	@test -f "$(OUT)/nbgrader/gradebook.db" || { echo "usage: make formgrader OUT=dir (after make grade)"; exit 2; }
	cd "$(OUT)/nbgrader" && $(abspath $(VENV))/bin/jupyter lab --ServerApp.default_url=/formgrader \
	  $(if $(filter 0,$(shell id -u)),--allow-root) $(FORMGRADER_OPTIONS)

student-bundle: book
	$(PY) -m autograder.bundle

# Grading speed here and on a Dask cluster, and a cost model: N copies of the solutions (default
# 4); BENCHMARK_OPTIONS=--nbgrader also times plain sequential nbgrader.
benchmark: $(STAMP) sandbox
	$(PY) -m autograder.benchmark $(N) $(BENCHMARK_OPTIONS)

# The student's JupyterLab on notebooks/, without nbgrader's instructor tools (bptt/lab.py).
lab: $(STAMP)
	$(PY) -m bptt.lab $(LAB_OPTIONS)

clean:
	rm -rf _build
