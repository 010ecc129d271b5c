# ethdash: `make demo` runs everything on embedded defaults; `make test` runs lint and the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: demo test lint format bench run-web run-ingest run-ws run-worker run-beat run-listeners clean

$(VENV)/.runtime: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ethdash needs Python 3.11 or newer (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(VENV)/.demo: $(VENV)/.runtime requirements-demo.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-demo.txt
	@touch $@

$(VENV)/.dev: $(VENV)/.demo requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

demo: $(VENV)/.demo
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py demo --port $(PORT)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint
	SECRET_KEY=$${SECRET_KEY:-tests-only-not-a-secret} $(PY) -m pytest

bench: $(VENV)/.dev
	$(PY) bench/ingest.py
	$(PY) bench/poll.py
	$(PY) bench/pools.py
	$(PY) bench/beacon.py
	$(PY) bench/validator_pages.py
	$(PY) bench/rollups.py
	$(PY) bench/alerts.py

# Production processes (docs/deploy.md); they need DATABASE_URL, REDIS_URL and SECRET_KEY.
run-web: $(VENV)/.runtime
	$(VENV)/bin/granian --interface wsgi ethdash.wsgi:application --host 127.0.0.1 --port 8001 --workers 2 --blocking-threads 4 --no-ws

run-ingest: $(VENV)/.runtime
	$(VENV)/bin/granian --interface wsgi ethdash.wsgi:application --host 127.0.0.1 --port 8003 --workers 1 --blocking-threads 8 --no-ws

run-ws: $(VENV)/.runtime
	$(VENV)/bin/uvicorn ethdash.asgi:application --host 127.0.0.1 --port 8002 --ws websockets-sansio --lifespan on

run-worker: $(VENV)/.runtime
	$(VENV)/bin/celery -A ethdash worker --loglevel INFO

run-beat: $(VENV)/.runtime
	$(VENV)/bin/celery -A ethdash beat --loglevel INFO

run-listeners: $(VENV)/.runtime
	$(PY) manage.py listen

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
