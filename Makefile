# memvae: the README's commands. `make help` lists them.
#   make figures [PROFILE=laptop] [ONLY=mem/table1] [DEVICE=cuda] [JOBS=2]
#   make test | make book | make lab | make goldens | make scoreboard | make setup

PROFILE ?= laptop
ONLY ?=
DEVICE ?=
# notebooks run at once; each kernel gets its share of the cores as torch threads (memvae_lib/batch.py)
JOBS ?= 2
VENV ?= .venv
PYTHON3 ?= python3
TORCH ?= torch==2.13.0

PY := $(VENV)/bin/python
STAMP := $(VENV)/.memvae-setup

# The shared data folder beside the checkout, when there is one; otherwise the library's default
# location and download (with sha256 checks) apply. Absolute, because notebooks run in their own folder.
SHARED_DATA := $(abspath $(CURDIR)/../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export MEMVAE_DATA_DIR ?= $(SHARED_DATA)
endif
export MEMVAE_RUNS_DIR ?= $(CURDIR)/runs
# Kernel 'python3' must be this venv's interpreter (papermill and nbval start kernels by name):
# the venv's kernelspec goes first, ahead of any user-level one.
export JUPYTER_PATH := $(abspath $(VENV))/share/jupyter$(if $(JUPYTER_PATH),:$(JUPYTER_PATH))

# pytest exits 5 when it collected nothing (e.g. before the first golden): not a failure here.
pytest = $(PY) -m pytest $(1) || { rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest $(2): nothing collected"; else exit $$rc; fi; }

.PHONY: help setup figures scoreboard book test unit nbval browser goldens lab clean

help:
	@echo "make figures   setup, run every notebook at PROFILE=$(PROFILE) (ONLY=pattern, DEVICE=cuda, JOBS=n), publish the executed copies, rebuild the claims table, gallery and scoreboard"
	@echo "make test      setup, unit tests, the smoke notebooks checked against tests/goldens (nbval), then every notebook in JupyterLab and every page of the book in headless Chromium (make browser)"
	@echo "make book      the executed notebooks (figures/<paper>/*.ipynb) as a static site in book/_build/html; runs no kernel"
	@echo "make lab       JupyterLab on http://127.0.0.1:$(LAB_PORT)/lab (no token; LAB_PORT=..., LAB_TOKEN=1 on a shared server)"
	@echo "make goldens   re-execute the notebooks at smoke and refresh tests/goldens"
	@echo "make setup     create $(VENV) and install (torch only when missing)"

setup: $(STAMP)

# torch is installed only when the venv cannot import one, pinned so pip takes the local CPU wheel
# and never resolves `torch>=2.1` to a fresh CUDA build; an existing torch (CPU or CUDA) is kept.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH)"
	$(PY) -m pip install -e '.[notebooks,test,cluster,book]'
	touch $@

figures: setup
	$(VENV)/bin/memvae figures --profile $(PROFILE) $(if $(ONLY),--only '$(ONLY)') $(if $(DEVICE),--device $(DEVICE)) --jobs $(JOBS)

scoreboard: setup
	$(VENV)/bin/memvae scoreboard

# Read without running: Sphinx renders the executed copies committed under figures/ (book/build.py);
# a notebook without one gets a page that says so. Warnings (a broken link or image) fail it.
book: setup
	$(PY) book/build.py

# The goldens run IS the smoke run: nbval re-executes every golden notebook (its injected
# parameters say profile smoke), so CI executes each notebook once. Their figures go to _build.
test: setup unit nbval browser

unit: setup
	$(call pytest,-q,unit tests)  # bare pytest: pyproject keeps goldens and browser out

nbval: setup
	@if ! ls tests/goldens/*/*.ipynb >/dev/null 2>&1; then echo "tests/goldens: no goldens yet (make goldens)"; else \
	set -x; MEMVAE_FIGURES_DIR=$(CURDIR)/notebooks/_build/smoke-figures \
	$(call pytest,--nbval-lax --nbval-current-env tests/goldens -q --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider,tests/goldens); fi

# Every notebook in JupyterLab in headless Chromium at smoke, each slider moved, then the book built
# (as `make book`) and every page of it opened (tests/browser/README.md).
browser: setup
	MEMVAE_BROWSER_REQUIRED=1 $(call pytest,tests/browser -q -rA -p no:cacheprovider,tests/browser)

goldens: setup
	$(PY) scripts/refresh_goldens.py $(if $(ONLY),--only '$(ONLY)') --jobs $(JOBS)

# Local only (127.0.0.1), so no token to type; root (containers) must be allowed explicitly.
# On a machine others log in to, loopback is theirs too: LAB_TOKEN=1 keeps Jupyter's own random
# token (printed in the URL it shows; never on the command line, where `ps` would show it).
# A save of a notebook source (autosave too) writes it without outputs (memvae_lib/lab.py).
LAB_PORT ?= 8888
LAB_TOKEN ?=
lab: setup
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) \
		$(if $(filter 1,$(LAB_TOKEN)),,--IdentityProvider.token='') \
		--ContentsManager.pre_save_hook=memvae_lib.lab.strip_outputs \
		--ServerApp.root_dir=$(CURDIR) --ServerApp.default_url=/lab/tree/notebooks \
		$(if $(filter 0,$(shell id -u)),--ServerApp.allow_root=True)

clean:
	rm -rf notebooks/_build
