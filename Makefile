# The two commands of the public contract: `make run` and `make test`.
# Both keep the Python environment in .venv/ at the repository root.

VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.synced
# pyenv reads .python-version; without pyenv, the newest python3 on PATH.
PYTHON ?= $(shell pyenv which python 2>/dev/null || command -v python3.13 || command -v python3.12 || command -v python3)

export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test lint typecheck documents messages catalogs clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12) and "Custos needs Python 3.12 or newer" or 0)'
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"

$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --python $(BIN)/python
	@touch $@

install: $(STAMP) documents messages

# What PDFs are drawn with (WeasyPrint): text layout and fonts that cover Arabic.
documents:
	@scripts/ensure-debian-packages libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-core

messages: $(STAMP)
	@scripts/ensure-debian-packages gettext
	@$(BIN)/custos compilemessages --ignore=.venv -v 0

# After changing UI strings: refresh the catalogs, then translate the new entries.
catalogs: $(STAMP)
	$(BIN)/custos makemessages -l de -l pl -l ar --ignore=.venv --ignore=var --ignore=tests --ignore="*/tests/*" --add-location=file

run: install
	$(BIN)/custos migrate --no-input -v 0
	$(BIN)/custos demo --if-empty
	$(BIN)/custos serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

test: install
	@scripts/ensure-debian-packages chromium
	$(MAKE) --no-print-directory lint typecheck
	$(BIN)/custos makemigrations --check --dry-run -v 1
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
