# make book : set up .venv, execute every notebook, build the HTML book into _build/html
# make test : set up .venv, then ruff, unit tests, every notebook under nbval (smoke), the full-profile
#             rehearsal (chapters 04-06 on local stand-ins), book build (-W)
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

.PHONY: setup book test lint unit notebooks rehearse-full book-smoke render-check clean

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
	echo "building the book in the $$profile profile"; \
	$(call timed,COURSE_PROFILE=$$profile $(BIN)/jupyter-book build . --keep-going,make book)
	@echo "open _build/html/index.html"

lint: $(STAMP)
	$(BIN)/ruff check .

unit: $(STAMP)
	COURSE_PROFILE=smoke $(BIN)/python -m pytest tests -n 2 -q

# Chapters 05 and 06 start from the model chapter 04 saves, so they run after the others.
LATE_NOTEBOOKS := notebooks/05_peft_and_quantization.ipynb notebooks/06_serving.ipynb
NBVAL := COURSE_PROFILE=smoke $(GUARD) $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=600 -p no:cacheprovider -q

notebooks: $(STAMP)
	$(NBVAL) $(filter-out $(LATE_NOTEBOOKS),$(wildcard notebooks/[0-9][0-9]_*.ipynb)) notebooks/solutions.ipynb \
		-n 2 --dist loadfile
	$(NBVAL) $(LATE_NOTEBOOKS)

# The full profile's code path (cased encoder, Hub-style parquet data, validation -> dev, feature checks,
# GPU-only cells saying why they skip, the service) on CPU and offline, at smoke's sizes, with stand-ins built here
# for bert-base-cased and CoNLL-2003 (tests/standins.py), loaded through the overrides a learner would use.
REHEARSAL := _build/rehearsal
rehearse-full: $(STAMP)
	rm -rf $(REHEARSAL); mkdir -p $(REHEARSAL)
	$(BIN)/python tests/standins.py $(REHEARSAL) > $(REHEARSAL)/overrides.env
	set -a; . $(REHEARSAL)/overrides.env; set +a; \
	COURSE_PROFILE=full COURSE_SIZES=smoke COURSE_ARTIFACTS_DIR=$(REHEARSAL)/artifacts HF_HUB_OFFLINE=1 \
	HF_DATASETS_CACHE=$(REHEARSAL)/datasets-cache $(GUARD) $(BIN)/python -m pytest --nbval-lax \
	--nbval-cell-timeout=600 -p no:cacheprovider -q notebooks/04_bert_ner_finetuning.ipynb $(LATE_NOTEBOOKS)

book-smoke: $(STAMP)
	rm -rf $(SMOKE_BUILD); mkdir -p $(SMOKE_BUILD)
	sed 's/execute_notebooks: cache/execute_notebooks: force/' _config.yml > $(SMOKE_BUILD)/_config.yml
	COURSE_PROFILE=smoke $(GUARD) $(BIN)/jupyter-book build . -W -n --keep-going \
		--config $(SMOKE_BUILD)/_config.yml --path-output $(SMOKE_BUILD)

render-check: $(STAMP)
	$(BIN)/python tests/render_check.py $(SMOKE_BUILD)/_build/html

test: $(STAMP)
	@$(call timed,$(MAKE) --no-print-directory lint,ruff)
	@$(call timed,$(MAKE) --no-print-directory unit,unit tests)
	@$(call timed,$(MAKE) --no-print-directory notebooks,notebooks under nbval)
	@$(call timed,$(MAKE) --no-print-directory rehearse-full,full-profile rehearsal)
	@$(call timed,$(MAKE) --no-print-directory book-smoke,book build)
	@$(call timed,$(MAKE) --no-print-directory render-check,math render check)

clean:
	rm -rf _build artifacts
