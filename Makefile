# carebot: `make run` to start it, `make test` to test it. Both set up what is missing first.

PYTHON      ?= python3
VENV        := .venv
RASA_VENV   := .venv-rasa
BIN         := $(VENV)/bin
export PTB_TIMEDELTA := 1
# Playwright drives Debian's chromium (/usr/bin/chromium); it never downloads browsers of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: run test setup lint typecheck pytest rasa-venv train shell bench clean help chromium

help:
	@echo "make run    start Rasa and the gateway (web chat at http://127.0.0.1:8080/chat)"
	@echo "make test   set up, lint and run the whole test suite"
	@echo "make shell  talk to the bot in this terminal (with 'make run' going elsewhere)"

run: setup
	$(BIN)/carebot serve --with-rasa

shell: $(VENV)/.installed
	$(BIN)/carebot shell

test: setup chromium lint pytest

setup: $(VENV)/.installed $(RASA_VENV)/.installed

# The console's browser tests run in Debian's chromium; install it when missing (CI runs as root).
# Only the tests need it: `make run` does not install a browser.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium for the console's browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "could not install chromium; the browser tests will be skipped" >&2; \
	  else \
	    echo "the console's browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; \
	  fi; \
	fi

$(VENV)/.installed: pyproject.toml requirements/gateway.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed as $(PYTHON)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements/gateway.txt -e '.[dev]'
	@touch $@

rasa-venv: $(RASA_VENV)/.installed

$(RASA_VENV)/.installed: requirements/rasa.txt
	@py=$$(scripts/find-python310) || exit 2; \
	echo "creating $(RASA_VENV) with $$py (Rasa 3.6.21, about 2 minutes)"; \
	$$py -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/pip install --quiet --upgrade pip
	$(RASA_VENV)/bin/pip install --quiet -r requirements/rasa.txt
	@touch $@

train: setup
	$(BIN)/carebot nlu train

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

pytest: setup chromium
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/nlu_path.py

clean:
	rm -rf var/models var/log .pytest_cache .mypy_cache .ruff_cache
