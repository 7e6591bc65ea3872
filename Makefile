# Two commands matter: `make run` and `make test`. Everything else is what they build on.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/gen
PROTOS := $(wildcard proto/eventstreams/v1/*.proto)
GEN_STAMP := gen/.stamp
# Exact versions, from `make lock`: the runtime set (and the code generator) for make run and
# the image, everything (lint, types, tests, bench tools) for make test.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock

.PHONY: setup proto run demo receiver produce test test-unit test-failover lint bench clean lock docs console-screenshots

setup: $(VENV)/.installed

$(VENV)/.runtime: pyproject.toml $(LOCK)
	@echo "installing the runtime set ($(LOCK)) into $(VENV) …"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime $(DEV_LOCK)
	@echo "installing the dev set ($(DEV_LOCK): tests, lint, types, bench tools; ~1.2 GB, minutes) …"
	$(PY) -m pip install -q -r $(DEV_LOCK)
	touch $@

# Refresh the locks to the newest versions pyproject.toml allows (then run make test).
lock: $(VENV)/.runtime
	$(PY) -m pip install -q uv
	$(BIN)/uv pip compile -q --universal --python-version 3.11 --extra build \
		--custom-compile-command "make lock" pyproject.toml -o $(LOCK)
	$(BIN)/uv pip compile -q --universal --python-version 3.11 --extra build --extra dev \
		--custom-compile-command "make lock" pyproject.toml -o $(DEV_LOCK)

proto: $(GEN_STAMP)

$(GEN_STAMP): $(PROTOS) $(VENV)/.runtime
	rm -rf gen && mkdir -p gen/eventstreams/v1
	PATH=$(CURDIR)/$(BIN):$$PATH $(PY) -m grpc_tools.protoc -I proto \
		--python_out=gen --grpc_python_out=gen --mypy_out=gen --mypy_grpc_out=gen $(PROTOS)
	touch gen/eventstreams/__init__.py gen/eventstreams/v1/__init__.py gen/eventstreams/py.typed
	touch $@

run: proto
	$(BIN)/eventstreams-up

# make demo and make receiver check each delivery's signature with twilio-python's
# RequestValidator, as a Twilio customer would: that package alone (at the dev lock's
# version), not the whole dev set.
$(VENV)/.twilio: $(VENV)/.runtime
	@echo "installing twilio-python alone (its RequestValidator checks the demo's signatures) …"
	$(PY) -m pip install -q -c $(DEV_LOCK) twilio
	touch $@

# With `make run` up, in another terminal:
demo: proto $(VENV)/.twilio
	$(PY) -m devkit.demo

receiver: proto $(VENV)/.twilio
	$(PY) -m devkit.receiver --port 9000

TYPE ?= com.twilio.messaging.message.delivered
COUNT ?= 1
produce: proto
	$(PY) -m devkit.produce --type $(TYPE) --count $(COUNT)

# The console's browser tests use Debian's Chromium: installed here when missing (as root,
# as CI runs); elsewhere say how, and the tests skip (they fail under CI=true).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		echo "chromium is missing: sudo apt-get install chromium (for the console's browser tests)"; \
	fi

# The browser tests scan the console with axe-core, from npm at the version its lock names
# (tests/support/axe/package-lock.json; one package, no dependencies): npm itself from
# Debian when missing, as chromium is.
AXE := tests/support/axe/node_modules/axe-core/axe.min.js
$(AXE): tests/support/axe/package.json tests/support/axe/package-lock.json
	@if ! command -v npm >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing npm from Debian (for axe-core, the console's accessibility scan) …"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null; \
	fi
	@if command -v npm >/dev/null; then \
		cd tests/support/axe && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/axe-core/axe.min.js; \
	else \
		echo "npm is missing: sudo apt-get install npm (for the console's accessibility scan)"; \
	fi

# The broker sinks' tests run real brokers as processes of their own. RabbitMQ is Debian's
# rabbitmq-server (with Erlang, ~60 MB), installed here when missing, as chromium is; the
# tests start it as the test user with its own node, ports and data directory, never the
# system service.
RABBITMQ := /usr/lib/rabbitmq/bin/rabbitmq-server
$(RABBITMQ):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing rabbitmq-server (Debian's, for the RabbitMQ sink's tests; a minute) …"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null; \
	else \
		echo "rabbitmq-server is missing: sudo apt-get install rabbitmq-server (for the RabbitMQ sink's tests)"; \
	fi

# Kafka's broker is Apache Kafka's own jars from Maven Central (tests/support/kafka/pom.xml:
# kafka_2.13 and what it needs, ~45 MB), copied into .cache/kafka/libs by Maven and run in
# KRaft mode with the machine's Java by tests/support/kafka_broker.py. Java and Maven come
# from Debian when missing, as chromium does.
KAFKA_LIBS := .cache/kafka/libs/.copied
$(KAFKA_LIBS): tests/support/kafka/pom.xml
	@if ! command -v mvn >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Java and Maven from Debian (for the Kafka sink's tests' broker) …"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends default-jre-headless maven >/dev/null; \
	fi
	@if command -v mvn >/dev/null; then \
		echo "copying Apache Kafka's jars from Maven Central into .cache/kafka/libs (for the Kafka sink's tests; a minute) …"; \
		rm -rf .cache/kafka/libs && mvn -q -B -f tests/support/kafka/pom.xml dependency:copy-dependencies \
			-DoutputDirectory=$(CURDIR)/.cache/kafka/libs && touch $@; \
	else \
		echo "mvn is missing: sudo apt-get install maven (for the Kafka sink's tests)"; \
	fi

BROKERS := $(RABBITMQ) $(KAFKA_LIBS)

test: proto $(VENV)/.installed $(CHROMIUM) $(BROKERS) $(AXE)
	$(PY) -m ruff check .
	$(PY) -m mypy runtime services gateway launcher devkit evs eventstreams_producer
	$(PY) -m pytest -q

test-unit: proto $(VENV)/.installed
	$(PY) -m pytest -q -m unit

test-failover: proto $(VENV)/.installed
	$(PY) -m pytest -q -m failover -rA

lint: proto $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m mypy runtime services gateway launcher devkit evs eventstreams_producer

# The console's screenshots in docs/console/ (at 1280 and 420 px), taken by its browser tests.
console-screenshots: proto $(VENV)/.installed $(CHROMIUM) $(AXE)
	ES_CONSOLE_SCREENSHOTS=docs/console $(PY) -m pytest -q -p no:cacheprovider \
		tests/e2e/test_console.py tests/e2e/test_portal.py -k sqlite

# The documentation site (mkdocs.yml, docs/) into site/; make test builds it strictly too.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: proto $(VENV)/.installed
	$(PY) -m devkit.bench
	$(PY) -m devkit.bench_scale
	$(PY) -m devkit.bench_observability
	$(PY) -m devkit.bench_producer
	$(PY) -m devkit.bench_steady
	$(PY) -m devkit.bench_ordering
	$(PY) -m devkit.bench_acks
	$(PY) -m devkit.bench_http_clients
	$(PY) -m devkit.bench_publish_modes
	$(PY) -m devkit.bench_router_python
	$(PY) -m devkit.bench_worker_python
	$(PY) -m devkit.bench_delivery_log
	$(PY) -m devkit.bench_partitions
	$(PY) -m devkit.bench_control_scale
	$(PY) -m devkit.bench_publish_scale

clean:
	rm -rf gen data bench-results
