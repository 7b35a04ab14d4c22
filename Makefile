# make book : set up .venv, execute every notebook, build the HTML book into _build/html
# make book : ... and print each chapter's wall time and peak memory
# make test : set up .venv, then ruff, unit tests, every notebook under nbval (smoke, with no network), chapters
#             02-03 a second time (the same numbers), the full-profile rehearsal (chapters 04-07 on local
#             stand-ins), the book built (-W) from the notebooks nbval ran
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

.PHONY: setup book test lint unit notebooks repeat-check rehearse-full book-smoke render-check clean

$(STAMP): requirements.txt requirements-dev.txt course_utils/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# torch first and alone: 2.13.0 is the CPU build from the machine's local wheel; nothing after may replace it
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e course_utils
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $(STAMP)

setup: $(STAMP)

book: $(STAMP)
	@profile=$(BOOK_PROFILE); mkdir -p _build; \
	if [ "$$(cat _build/.book-profile 2>/dev/null)" != "$$profile" ]; then rm -rf _build/.jupyter_cache; fi; \
	echo "$$profile" > _build/.book-profile; \
	echo "building the book in the $$profile profile"; rm -rf _build/usage; \
	$(call timed,COURSE_PROFILE=$$profile COURSE_USAGE_LOG=$(CURDIR)/_build/usage \
		$(BIN)/jupyter-book build . --keep-going,make book)
	@$(BIN)/python -m course_utils.usage _build/usage  # each chapter run: wall time, peak memory
	@echo "open _build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	COURSE_PROFILE=smoke $(BIN)/python -m pytest tests -n 2 -q

# Chapters 05-07 start from the model chapter 04 saves, so they run after the others. Two notebooks run at a
# time, on one thread each: on 2 cores that beats two 2-thread runs fighting over them. Chapter 06 puts a
# service under load, so it runs alone (on one thread too: a saved model scores the same in every chapter).
SERVICE_NOTEBOOK := notebooks/06_serving.ipynb
LATE_NOTEBOOKS := notebooks/05_peft_and_quantization.ipynb $(SERVICE_NOTEBOOK) notebooks/07_trust.ipynb
# nbval runs the notebooks; the nbsave plugin keeps what they print for the smoke book (tests/nbsave).
EXECUTED := $(SMOKE_BUILD)/src/notebooks
# tests/offline.sh: no network namespace at all where the kernel allows one, on top of the Python-level guard.
# $(1): where the executed notebooks go; each chapter's time and memory go beside it (course_utils/usage.py).
nbval_into = COURSE_PROFILE=smoke COURSE_NETWORK_GUARD=1 PYTHONPATH=$(CURDIR)/tests/netguard:$(CURDIR)/tests/nbsave \
	OMP_NUM_THREADS=1 COURSE_EXECUTED_NOTEBOOKS=$(1) COURSE_USAGE_LOG=$(CURDIR)/$(SMOKE_BUILD)/usage-$(notdir $(1)) \
	tests/offline.sh $(BIN)/python -m pytest -p nbsave --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider -q
NBVAL := $(call nbval_into,$(EXECUTED))

notebooks: $(STAMP)
	rm -rf $(EXECUTED) $(SMOKE_BUILD)/usage-notebooks
	$(NBVAL) $(filter-out $(LATE_NOTEBOOKS),$(wildcard notebooks/[0-9][0-9]_*.ipynb)) notebooks/solutions.ipynb \
		-n 2 --dist loadfile
	$(NBVAL) $(filter-out $(SERVICE_NOTEBOOK),$(LATE_NOTEBOOKS)) -n 2 --dist loadfile
	$(NBVAL) $(SERVICE_NOTEBOOK)
	@$(BIN)/python -m course_utils.usage $(SMOKE_BUILD)/usage-notebooks

# Seeded runs repeat: these chapters run a second time and must print the same numbers as in `make notebooks`
# (lines about time, speed and memory aside). Run `make notebooks` first.
REPEATED := notebooks/02_mlm_and_cross_entropy.ipynb notebooks/03_layernorm_from_scratch.ipynb
repeat-check: $(STAMP)
	rm -rf $(SMOKE_BUILD)/repeat $(SMOKE_BUILD)/usage-repeat
	$(call nbval_into,$(SMOKE_BUILD)/repeat) $(REPEATED) -n 2 --dist loadfile
	$(BIN)/python tests/repeat_check.py $(EXECUTED) $(SMOKE_BUILD)/repeat $(notdir $(REPEATED))

# The full profile's code path (cased encoder, Hub-style parquet data, validation -> dev, feature checks,
# GPU-only cells saying why they skip, the service) on CPU and offline, at smoke's sizes, with stand-ins built here
# for bert-base-cased and CoNLL-2003 (tests/standins.py), loaded through the overrides a learner would use.
REHEARSAL := _build/rehearsal
rehearse-full: $(STAMP)
	rm -rf $(REHEARSAL); mkdir -p $(REHEARSAL)
	$(BIN)/python tests/standins.py $(REHEARSAL) > $(REHEARSAL)/overrides.env
	set -a; . $(REHEARSAL)/overrides.env; set +a; \
	COURSE_PROFILE=full COURSE_SIZES=smoke COURSE_ARTIFACTS_DIR=$(REHEARSAL)/artifacts HF_HUB_OFFLINE=1 \
	HF_DATASETS_CACHE=$(REHEARSAL)/datasets-cache $(GUARD) tests/offline.sh $(BIN)/python -m pytest --nbval-lax \
	--nbval-cell-timeout=600 -p no:cacheprovider -q notebooks/04_bert_ner_finetuning.ipynb $(LATE_NOTEBOOKS)

# The smoke book: the book's pages with the notebooks as `make notebooks` ran them (run that first), built with
# every warning an error.
book-smoke: $(STAMP)
	@for nb in $(wildcard notebooks/[0-9][0-9]_*.ipynb) notebooks/solutions.ipynb; do \
		test -f $(EXECUTED)/$$(basename $$nb) || { echo "$(EXECUTED)/$$(basename $$nb) is missing: run make notebooks first"; exit 1; }; \
	done
	rm -rf $(SMOKE_BUILD)/_build $(SMOKE_BUILD)/src/book; mkdir -p $(SMOKE_BUILD)/src
	cp -r _toc.yml book $(SMOKE_BUILD)/src/
	sed 's/execute_notebooks: cache/execute_notebooks: "off"/' _config.yml > $(SMOKE_BUILD)/src/_config.yml
	COURSE_PROFILE=smoke $(GUARD) $(BIN)/jupyter-book build $(SMOKE_BUILD)/src -W -n --keep-going \
		--path-output $(SMOKE_BUILD)

render-check: $(STAMP)
	$(BIN)/python tests/render_check.py $(SMOKE_BUILD)/_build/html

test: $(STAMP)
	@$(call timed,$(MAKE) --no-print-directory lint,ruff)
	@$(call timed,$(MAKE) --no-print-directory unit,unit tests)
	@$(call timed,$(MAKE) --no-print-directory notebooks,notebooks under nbval)
	@$(call timed,$(MAKE) --no-print-directory repeat-check,seeded runs repeat)
	@$(call timed,$(MAKE) --no-print-directory rehearse-full,full-profile rehearsal)
	@$(call timed,$(MAKE) --no-print-directory book-smoke,book build)
	@$(call timed,$(MAKE) --no-print-directory render-check,math render check)

clean:
	rm -rf _build artifacts
