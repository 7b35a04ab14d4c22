# make book : set up .venv, execute every notebook, build the HTML book into _build/html
# make book : ... and print each chapter's wall time and peak memory
# make test : check the tools, set up .venv, then ruff, unit tests, every notebook (smoke, with no network), the
#             full-profile rehearsal (the chapters course_utils/chapters.py marks rehearsed, on local stand-ins),
#             the book built (-W) from the executed notebooks, the render check
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Profile of `make book`: COURSE_PROFILE if set, else full with a CUDA GPU and cpu without.
BOOK_PROFILE = $(shell $(BIN)/python -c "from course_utils.config import get_profile; print(get_profile())")
# The notebooks and the smoke book build run with every non-loopback connection refused.
GUARD := COURSE_NETWORK_GUARD=1 PYTHONPATH=$(CURDIR)/tests/netguard
SMOKE_BUILD := _build/smoke
timed = start=$$(date +%s); $(1); echo "[time] $(2): $$(( $$(date +%s) - start )) s"

.PHONY: python-tool chromium-tool tools setup book test lint unit claims notebooks rehearse-full book-smoke render-check clean

# What the book and the tests need beyond Python packages, checked before anything else: the Python the venv is
# made with, and a Chromium (chapter 06's demo page and the render check drive it headless). Debian's chromium is
# installed with apt-get where this is root; elsewhere `make test` stops in seconds and names the install command,
# and `make book` only warns (chapter 06 then skips its browser check and says so).
CHROMIUM_HINT := install Debian's chromium (sudo apt-get install chromium), or put a Chromium on PATH as chromium
python-tool:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is not installed: install Python 3.11 (apt-get install python3.11 python3.11-venv, or pyenv install 3.11), or run make PYTHON=python3.x"; exit 1; }
	@$(PYTHON) -c "import sys; sys.exit(sys.version_info < (3, 10))" || { echo "$(PYTHON) is older than 3.10: the course needs Python 3.10 or newer (tested on 3.11)"; exit 1; }

chromium-tool:
	@if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing Debian's chromium (apt-get install chromium)"; \
			apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; \
		else \
			echo "chromium is not installed: $(CHROMIUM_HINT); chapter 06 and the render check drive it headless"; \
			exit 1; \
		fi; \
	fi

tools: python-tool chromium-tool

$(STAMP): requirements.txt requirements-dev.txt course_utils/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# torch first and alone: 2.13.0 is the CPU build from the machine's local wheel; nothing after may replace it
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e course_utils
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

setup: python-tool $(STAMP)

book: python-tool $(STAMP)
	@$(MAKE) --no-print-directory chromium-tool || echo "warning: no chromium, so chapter 06 skips its browser check"
	@profile=$(BOOK_PROFILE); mkdir -p _build; \
	if [ "$$(cat _build/.book-profile 2>/dev/null)" != "$$profile" ]; then rm -rf _build/.jupyter_cache; fi; \
	echo "$$profile" > _build/.book-profile; \
	echo "building the book in the $$profile profile"; rm -rf _build/usage; \
	$(call timed,COURSE_PROFILE=$$profile COURSE_USAGE_LOG=$(CURDIR)/_build/usage \
		$(BIN)/jupyter-book build . --keep-going,make book)
	@$(BIN)/python -m course_utils.usage _build/usage $$(cat _build/.book-profile)  # time, memory, budget
	@echo "open _build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	COURSE_PROFILE=smoke $(BIN)/python -m pytest tests -n 2 -q

# The cpu profile's asserted conclusions, rerun with seeds the chapters never use (tests/test_claims.py): about
# 14 minutes on 2 cores, so not part of `make test`; run it after changing a chapter's recipe or an _EXPECT bound.
claims: $(STAMP)
	COURSE_PROFILE=cpu COURSE_CLAIMS=1 $(BIN)/python -m pytest tests/test_claims.py -q

# The notebooks run in the stages course_utils/chapters.py declares (a chapter after those it needs, two at a
# time on one thread each, a load-testing chapter alone), with no network (tests/offline.sh: no network namespace
# at all where the kernel allows one, on top of the Python-level guard). tests/run_notebooks.py keeps what they
# print for the smoke book; each chapter's time and memory go beside them (course_utils/usage.py).
EXECUTED := $(SMOKE_BUILD)/src/notebooks
notebooks: $(STAMP)
	rm -rf $(EXECUTED) $(SMOKE_BUILD)/usage
	COURSE_PROFILE=smoke $(GUARD) COURSE_USAGE_LOG=$(CURDIR)/$(SMOKE_BUILD)/usage \
		tests/offline.sh $(BIN)/python tests/run_notebooks.py $(EXECUTED)
	@$(BIN)/python -m course_utils.usage $(SMOKE_BUILD)/usage smoke

# The full profile's code path (cased encoder, Hub-style parquet data, validation -> dev, feature checks,
# GPU-only cells saying why they skip, the service) on CPU and offline, at smoke's sizes, with stand-ins built here
# for bert-base-cased and CoNLL-2003 (tests/standins.py), loaded through the overrides a learner would use.
REHEARSAL := _build/rehearsal
rehearse-full: $(STAMP)
	rm -rf $(REHEARSAL); mkdir -p $(REHEARSAL)
	$(BIN)/python tests/standins.py $(REHEARSAL) > $(REHEARSAL)/overrides.env
	chapters=$$($(BIN)/python -m course_utils.chapters rehearsed); test -n "$$chapters"; \
	set -a; . $(REHEARSAL)/overrides.env; set +a; \
	COURSE_PROFILE=full COURSE_SIZES=smoke COURSE_ARTIFACTS_DIR=$(REHEARSAL)/artifacts HF_HUB_OFFLINE=1 \
	HF_DATASETS_CACHE=$(REHEARSAL)/datasets-cache $(GUARD) tests/offline.sh $(BIN)/python tests/run_notebooks.py \
	$(REHEARSAL)/executed $$chapters

# The smoke book: the book's pages with the notebooks as `make notebooks` ran them (run that first), built with
# every warning an error.
book-smoke: $(STAMP)
	@for nb in $(wildcard notebooks/[0-9][0-9]_*.ipynb) notebooks/solutions.ipynb; do \
		test -f $(EXECUTED)/$$(basename $$nb) || { echo "$(EXECUTED)/$$(basename $$nb) is missing: run make notebooks first"; exit 1; }; \
	done
	rm -rf $(SMOKE_BUILD)/_build $(SMOKE_BUILD)/src/book; mkdir -p $(SMOKE_BUILD)/src
	cp -r _toc.yml book $(SMOKE_BUILD)/src/
	$(BIN)/python tests/smoke_config.py _config.yml $(SMOKE_BUILD)/src/_config.yml  # the same book, not executed
	COURSE_PROFILE=smoke $(GUARD) $(BIN)/jupyter-book build $(SMOKE_BUILD)/src -W -n --keep-going \
		--path-output $(SMOKE_BUILD)

render-check: $(STAMP)
	$(BIN)/python tests/render_check.py $(SMOKE_BUILD)/_build/html

test: tools $(STAMP)
	@$(call timed,$(MAKE) --no-print-directory lint,ruff)
	@$(call timed,$(MAKE) --no-print-directory unit,unit tests)
	@$(call timed,$(MAKE) --no-print-directory notebooks,notebooks)
	@$(call timed,$(MAKE) --no-print-directory rehearse-full,full-profile rehearsal)
	@$(call timed,$(MAKE) --no-print-directory book-smoke,book build)
	@$(call timed,$(MAKE) --no-print-directory render-check,render check)

clean:
	rm -rf _build artifacts
