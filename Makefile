# Two commands matter: `make run` and `make test`. Everything else is what they build on.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/gen
PROTOS := $(wildcard proto/eventstreams/v1/*.proto)
GEN_STAMP := gen/.stamp

.PHONY: setup proto run demo receiver produce test test-unit lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

proto: $(GEN_STAMP)

$(GEN_STAMP): $(PROTOS) $(VENV)/.installed
	rm -rf gen && mkdir -p gen/eventstreams/v1
	PATH=$(CURDIR)/$(BIN):$$PATH $(PY) -m grpc_tools.protoc -I proto \
		--python_out=gen --grpc_python_out=gen --mypy_out=gen --mypy_grpc_out=gen $(PROTOS)
	touch gen/eventstreams/__init__.py gen/eventstreams/v1/__init__.py gen/eventstreams/py.typed
	touch $@

run: proto
	$(PY) -m devkit.run

# With `make run` up, in another terminal:
demo: proto
	$(PY) -m devkit.demo

receiver: proto
	$(PY) -m devkit.receiver --port 9000

TYPE ?= com.twilio.messaging.message.delivered
COUNT ?= 1
produce: proto
	$(PY) -m devkit.produce --type $(TYPE) --count $(COUNT)

test: proto
	$(PY) -m ruff check .
	$(PY) -m mypy runtime services gateway devkit
	$(PY) -m pytest -q

test-unit: proto
	$(PY) -m pytest -q -m unit

lint: proto
	$(PY) -m ruff check .
	$(PY) -m mypy runtime services gateway devkit

bench: proto
	$(PY) -m devkit.bench

clean:
	rm -rf gen data bench-results
