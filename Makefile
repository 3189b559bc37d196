# Moodtune: `make run` serves the app on http://localhost:8501, `make test` runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt requirements-cluster.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

# Creates the database, builds the demo catalog if the catalog is empty, and makes sure a
# curator password exists: the one from MOODTUNE_ADMIN_PASSWORD or .streamlit/secrets.toml,
# else a generated local one kept in data/admin_password (printed here, never logged). The server's
# upload limit is the app's own (MOODTUNE_MAX_UPLOAD_MB).
run: $(VENV)/.runtime-installed
	$(BIN)/python -m app init-db
	$(BIN)/python -m app demo --if-empty
	@if [ -z "$$MOODTUNE_ADMIN_PASSWORD" ] && ! grep -qs '^admin_password' .streamlit/secrets.toml; then \
		mkdir -p data; \
		if [ ! -s data/admin_password ]; then \
			(umask 077; $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(12))" > data/admin_password); \
		fi; \
		export MOODTUNE_ADMIN_PASSWORD="$$(cat data/admin_password)"; \
		echo "Curator password for this local install: $$MOODTUNE_ADMIN_PASSWORD (stored in data/admin_password)"; \
	fi; \
	exec $(BIN)/streamlit run streamlit_app.py --server.port $(PORT) \
		--server.maxUploadSize "$$($(BIN)/python -c 'import math; from app.config import get_settings; print(math.ceil(get_settings().max_upload_mb))')"

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest -q tests

# Lint and format check (settings in pyproject.toml); CI runs it before the tests.
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-venv:
	rm -rf $(VENV)
