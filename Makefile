# cert-share: `make run` for a demo on http://127.0.0.1:5000, `make test` for the whole suite.
VENV   ?= .venv
PYTHON ?= python3
PORT   ?= 5000
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
# A fresh PostgreSQL database is created (and dropped) per run from this server URL.
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: install system-deps run test test-sqlite test-pg lint db-check db-check-pg lock wheel browser bench clean i18n

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@# An editable install leaves the package uncompiled (pip compiles everything else), and with
	@# PYTHONDONTWRITEBYTECODE set every command would compile it again at start-up.
	$(BIN)/python -m compileall -q cert_share
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium and chromedriver drive the browser tests (installed here if missing).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  echo "installing chromium and chromium-driver from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# Debian's gnupg: the platform signs and encrypts its mail with it (python-gnupg drives the binary).
system-deps:
	@if ! command -v gpg >/dev/null || ! command -v gpg-agent >/dev/null; then \
	  echo "installing gnupg from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg >/dev/null; \
	fi

run: install system-deps
	@CERT_SHARE_ENV=development $(BIN)/cert-share db upgrade
	@CERT_SHARE_ENV=development $(BIN)/cert-share demo
	@echo "cert-share on http://127.0.0.1:$(PORT) (scheduler running; Ctrl-C stops both)"
	@CERT_SHARE_ENV=development PORT=$(PORT) $(BIN)/cert-share serve --host 127.0.0.1 --port $(PORT)

test: install system-deps browser test-sqlite

test-sqlite:
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-pg: install system-deps browser
	TEST_DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest -q -n 2 --dist loadfile

# ruff (pyproject.toml), mypy on the package, and the layers contract (import-linter).
lint: install
	$(BIN)/ruff check cert_share tests bench wsgi.py gunicorn.conf.py
	$(BIN)/mypy
	$(BIN)/lint-imports

# The models agree with what the migrations make (alembic check, `cert-share db check`): an empty
# database is upgraded to the head and compared. SQLite in a scratch folder; db-check-pg makes (and
# drops) a PostgreSQL database on the server of PG_URL.
db-check: install
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	export CERT_SHARE_ENV=development DATABASE_URL="sqlite:///$$tmp/db-check.db" && \
	$(BIN)/cert-share db upgrade >/dev/null && $(BIN)/cert-share db check

db-check-pg: install
	@name=cs_db_check_$$$$ && createdb --maintenance-db='$(PG_URL)' "$$name" && \
	trap 'dropdb --maintenance-db="$(PG_URL)" --if-exists "$$name"' EXIT && \
	export CERT_SHARE_ENV=development DATABASE_URL="$$(dirname '$(PG_URL)')/$$name" && \
	$(BIN)/cert-share db upgrade >/dev/null && $(BIN)/cert-share db check

# Production installs: requirements/production.txt pins every runtime dependency (setup.cfg's
# install_requires, no test extras) with its hashes, for every platform and Python >= 3.11, made
# by uv's resolver; `make lock` after changing install_requires (it keeps the versions already
# pinned where it can; `make lock LOCK_ARGS=--upgrade` takes the newest). `make wheel` builds the package
# into dist/. The production install (docs/production/install.md):
#   pip install --require-hashes -r requirements/production.txt
#   pip install --no-deps dist/cert_share-*.whl
LOCK = requirements/production.txt

lock: install
	$(BIN)/pip install -q 'uv>=0.5'
	$(BIN)/uv pip compile setup.cfg --universal --python-version 3.11 --generate-hashes \
	  --custom-compile-command 'make lock' -q -o $(LOCK) $(LOCK_ARGS)

# build/ first: setuptools copies into it without removing what the tree no longer has.
wheel:
	rm -rf build
	$(PYTHON) -m pip wheel --no-deps -q -w dist .

# Translations: extract every marked string (babel.cfg) into the template catalog, merge it into
# each language's catalog (new strings arrive empty, to be translated; tests/unit/test_i18n_catalogs.py
# fails until they are), and compile the .mo files the package ships. A new language:
# `$(BIN)/pybabel init -i $(I18N)/messages.pot -d $(I18N) -l xx`, then README "Adding a language".
I18N = cert_share/translations
I18N_KEYWORDS = -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k N_

i18n: install
	$(BIN)/pybabel -q extract -F babel.cfg $(I18N_KEYWORDS) --no-location --sort-output \
	  --project cert-share --copyright-holder 'cert-share' --omit-header -o $(I18N)/messages.pot .
	$(BIN)/pybabel -q update -i $(I18N)/messages.pot -d $(I18N) --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel -q compile -d $(I18N) --statistics

bench: install
	$(BIN)/python bench/intake.py

clean:
	rm -rf $(VENV) instance *.egg-info tests/artifacts build dist
