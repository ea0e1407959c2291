# The two commands for a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test fuzz lint format bench bench-smoke bench-avatars bench-webhooks bench-import bench-protection clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# A development .env with a generated SECRET_KEY; never overwrites an existing one.
.env:
	$(PYTHON) -c "import secrets; print('SECRET_KEY=' + secrets.token_urlsafe(50))" > .env

run: install .env
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed --users 20
	$(PY) manage.py collectstatic --noinput -v0
	$(VENV)/bin/gunicorn config.wsgi -b $(HOST):$(PORT) -w 2

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# schemathesis from /schema against a live gunicorn: FUZZ_EXAMPLES per operation (default 100).
fuzz: install
	$(PY) -m pytest -m fuzz config/tests/test_fuzz.py $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# wrk against real gunicorn, baselines in the same run; writes docs/benchmarks.md. BENCH_ARGS=--large for 1M users.
bench: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) -m bench $(BENCH_ARGS)
	$(PY) -m bench.avatars
	$(PY) -m bench.webhooks
	$(PY) -m bench.protection

# The avatar pipeline's worst case: CPU and peak memory per hostile image, each in a fresh process.
bench-avatars: install
	$(PY) -m bench.avatars

# send_pending_webhooks draining 10,000 deliveries to a local receiver (a database of its own, like bench).
bench-webhooks: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) -m bench.webhooks

# import_fastapi moving 1,000,000 users (a PostgreSQL database of its own: its accounts are replaced).
bench-import: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) -m bench.import_fastapi

# purge_deleted erasing 100,000 accounts, and the breached-password check's cost (a database of its own).
bench-protection: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) -m bench.protection

# A few seconds per scenario, no PASS/FAIL: keeps the benchmark from rotting (run by .ci/run).
bench-smoke: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) -m bench --smoke

clean:
	rm -rf $(VENV) staticfiles .test-db.sqlite3*
