# Two commands on a fresh machine: `make run` (the whole system) and `make test` (every test).
# Each installs what is missing (uv, the Python workspace, the Kafka jars) and starts what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: help install browser run up down clean status up-cluster run-cluster down-cluster status-cluster clean-cluster test test-faults test-cluster chaos screenshots lint asyncapi asyncapi-baseline compose-env bench bench-scheduler bench-disconnects bench-peers bench-report bench-mass-disconnect bench-invoice-counter bench-data-scale bench-soak bench-check api-conformance

help:
	@echo "make run      start Kafka, PostgreSQL and the four services; follow logs; Ctrl-C stops all"
	@echo "make up       the same in the background;  make down  stops it (data kept)"
	@echo "make clean    down, and remove all local data"
	@echo "make up-cluster / run-cluster / down-cluster / clean-cluster  the same on a 3-node Kafka"
	@echo "              cluster with 2 replicas of every service behind HAProxy on 8001-8004"
	@echo "make test     the whole test suite against real Kafka and PostgreSQL"
	@echo "make test-cluster  the cluster's own tests (a broker killed, a broker cut off the network,"
	@echo "              a rolling restart, under load); not in make test"
	@echo "make chaos    15 min of load on the cluster while a random process dies or freezes every"
	@echo "              30 s (CUTOVER_CHAOS_SECONDS, CUTOVER_CHAOS_SEED); then counts what was lost"
	@echo "make test-faults  only the fault suite (crashes, outages, poison, replay, hostile input)"
	@echo "make screenshots  the console's browser tests, writing their screenshots into docs/console/"
	@echo "make lint     ruff;  make asyncapi  regenerates contracts/asyncapi/"
	@echo "make asyncapi-baseline  accepts the current public events as the promise to other teams"
	@echo "make api-conformance  schemathesis, every check, against each service of make up"
	@echo "make compose-env  random secrets in .env for docker compose (kept when present)"
	@echo "uv run cutover  the operator CLI (make up prints how to point it at the system)"
	@echo "make bench    every benchmark (bench-disconnects, bench-peers, bench-report, bench-mass-disconnect,"
	@echo "              bench-invoice-counter, bench-data-scale, bench-soak), then bench-check; results in bench/results/"
	@echo "make bench-check  issue 19's table from the newest results; fails on a miss the README does not list"

install:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet

# Debian's Chromium for the console's browser tests (apt-get, as root, when it is missing).
browser:
	@infra/chromium.sh

run: install
	@infra/stack.sh run

up: install
	@infra/stack.sh up

down:
	@infra/stack.sh down

clean:
	@infra/stack.sh clean

status:
	@infra/stack.sh status

# The same system on a 3-node Kafka cluster with two replicas of every service behind HAProxy
# (its own state in .local/cluster and its own ports: it runs beside `make up`).
up-cluster: install
	@infra/stack.sh up-cluster

run-cluster: install
	@infra/stack.sh run-cluster

down-cluster:
	@infra/stack.sh down-cluster

status-cluster:
	@infra/stack.sh status-cluster

clean-cluster:
	@infra/stack.sh clean-cluster

# The unit tier first (seconds, no infrastructure): a broken rule stops the run before Kafka and
# PostgreSQL are even started; then everything else against them.
test: install browser
	@$(UV) run --frozen pytest tests/unit -q
	@$(UV) run --frozen pytest --ignore=tests/unit

# Starts its own cluster and replicas (the cluster mode's state and ports, proxy on 31101-31104,
# from a clean state; refuses while make up-cluster runs); minutes, not in `make test`.
test-cluster: install
	@CUTOVER_TEST_CLUSTER=1 $(UV) run --frozen pytest tests/cluster -m cluster -s

# Outside CI and make test-cluster: CUTOVER_CHAOS_SECONDS [900] of load on its own cluster stack
# (the cluster test's ports and state, from clean) while a random broker, replica, relay leader or
# PostgreSQL is killed or stopped every 30 s; report in .local/cluster[-N]-chaos-report.{json,txt}.
chaos: install
	@$(UV) run --frozen python -m tests.cluster.chaos

test-faults: install
	@$(UV) run --frozen pytest -m faults

screenshots: install browser
	@CUTOVER_SCREENSHOTS_DIR=docs/console $(UV) run --frozen pytest tests/browser -q

lint: install
	@$(UV) run --frozen ruff check . && $(UV) run --frozen ruff format --check .

# The OpenAPI documents checked from outside against a running stack (make up first); the
# exceptions the contract asks for, with their reasons, are in schemathesis.toml.
api-conformance: install
	@infra/api-conformance.sh

asyncapi: install
	@$(UV) run --frozen python -m cutover_contracts.asyncapi contracts/asyncapi

# The public events' promise to other teams, as released: a test holds the documents to it. Run
# this only when a release means to change it (a new major version, or an accepted break).
asyncapi-baseline: asyncapi
	@$(UV) run --frozen python -m cutover_contracts.compatibility || echo "(accepted: the above)"
	@cp contracts/asyncapi/*.json contracts/asyncapi/baseline/

# docker-compose.yml holds no secret: this writes them, random, into .env (0600, git-ignored).
compose-env:
	@infra/docker/compose-env.sh

bench-scheduler: install
	@$(UV) run --frozen python -m bench.scheduler

bench-disconnects: install
	@$(UV) run --frozen python -m bench.disconnects

# Cutover's scheduler beside River, pg-boss and Procrastinate on one PostgreSQL; it also measures
# and writes what bench-scheduler does, so `make bench` runs the scheduler's scenarios once.
bench-peers: install
	@$(UV) run --frozen python -m bench.peers

# A month-end delinquency run: 20,000 scheduled disconnects due at one instant, stage by stage.
bench-mass-disconnect: install
	@$(UV) run --frozen python -m bench.mass_disconnect

# The ceiling of billing's single invoice-number counter: invoices/s against concurrent issuers.
bench-invoice-counter: install
	@$(UV) run --frozen python -m bench.invoice_counter

# The report's export: the accounts service's memory against the rows it streams.
bench-report: install
	@$(UV) run --frozen python -m bench.report

# Every interactive call's p50/p99 with 1M and 10M accounts seeded (BENCH_DATA_SCALES), and the
# CSV export's rows/s and memory. 1M accounts took 2 GiB and 8 minutes to seed on a loaded 2-core
# machine: 10M take about 20 GiB and over an hour (BENCH_DATA_SCALES=1000000 for 1M only).
bench-data-scale: install
	@$(UV) run --frozen python -m bench.data_scale

# The leak run: 100 disconnects/s for 10 minutes, every process' memory and its slope.
bench-soak: install
	@$(UV) run --frozen python -m bench.soak

# Issue 19's table from the newest results; exit 1 on a missed target the README does not list.
bench-check: install
	@$(UV) run --frozen python -m bench.check

bench: bench-disconnects bench-peers bench-report bench-mass-disconnect bench-invoice-counter bench-data-scale bench-soak
	@$(MAKE) --no-print-directory bench-check
