# hoi_perception: the two commands a new user needs are `make demo` and
# `make test`; both run `make setup` first, which is idempotent and takes
# about a second when nothing changed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# DDS stays on the loopback, in a domain of our own, for everything make runs.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export ROS_DOMAIN_ID ?= 42
export RMW_IMPLEMENTATION := rmw_fastrtps_cpp
export PYTHONUNBUFFERED := 1

.PHONY: setup demo test lint bench clean-venv

setup:
	@bash setup/setup.sh

demo: setup
	@$(PY) -m hoi_perception.demo

test: setup
	@$(VENV)/bin/ruff check .
	@$(PY) -m pytest -q test

lint: setup
	@$(VENV)/bin/ruff check .

bench: setup
	@mkdir -p out/bench
	@for s in scripts/bench_*.py; do echo "== $$s"; $(PY) $$s --json out/bench/$$(basename $$s .py).json || exit 1; done

clean-venv:
	rm -rf $(VENV)
