# Everyday commands. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PARAMS ?= params/default.yaml
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.DEFAULT_GOAL := help
.PHONY: help env lock data browser report quick build test test-fast lint bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

env: $(BIN)/fmnist ## Create .venv and install the project and its dependencies

$(BIN)/fmnist: requirements.txt requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

lock: env ## Re-pin requirements.lock to the newest versions pyproject.toml's ranges allow
	$(BIN)/pip install --quiet uv
	{ sed -n '1,3p' requirements.lock; $(BIN)/uv pip compile --quiet --no-header pyproject.toml \
	  --extra report --extra dev --python-version 3.11.7 \
	  --python-platform x86_64-manylinux_2_28; } > requirements.lock.new
	mv requirements.lock.new requirements.lock

data: env ## Find Fashion-MNIST; on Debian without it, install dataset-fashion-mnist
	@$(BIN)/fmnist data --no-download >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null; then \
	    echo "installing Debian's dataset-fashion-mnist"; \
	    $(SUDO) apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq dataset-fashion-mnist; } || \
	    echo "apt-get could not install it; trying Keras' download"; \
	  fi; }
	@$(BIN)/fmnist data

report: data ## Build the whole report with the default profile (PARAMS=... for another)
	$(BIN)/fmnist report --params $(PARAMS)

quick: data ## Build the report with the quick smoke profile
	$(BIN)/fmnist report --params params/quick.yaml

build: env ## Render the site from the last executed chapters
	$(BIN)/fmnist build

browser: ## Find a Chromium for the site's browser test; on Debian without one, install it
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  command -v google-chrome >/dev/null || { \
	  if command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the site's browser test"; \
	    $(SUDO) apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; } || \
	    echo "*** chromium could not be installed: the browser test will be SKIPPED (FAIL in CI) ***"; \
	  else echo "*** no chromium and no apt-get: the browser test will be SKIPPED (FAIL in CI) ***"; fi; }

test: data browser ## Run the whole test suite (includes an end-to-end quick report)
	$(BIN)/pytest

test-fast: env ## Run the tests that train nothing big and build no site
	$(BIN)/pytest -m "not slow"

lint: env ## Lint with ruff
	$(BIN)/ruff check .

bench: data ## Run the benchmark against the original study's procedure
	$(BIN)/python bench/run.py

clean: ## Remove results and the built site (keeps .venv)
	rm -rf results _build
