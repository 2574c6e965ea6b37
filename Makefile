# hoi_perception: the two commands a new user needs are `make demo` and
# `make test`; both run `make setup` first, which is idempotent and takes
# about a second when nothing changed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# DDS stays on the loopback for everything make runs. The test session picks a
# domain id of its own (test/conftest.py); the demo uses HOI_DEMO_ROS_DOMAIN_ID
# or one derived from its process id.
export ROS_AUTOMATIC_DISCOVERY_RANGE := LOCALHOST
export RMW_IMPLEMENTATION := rmw_fastrtps_cpp
export PYTHONUNBUFFERED := 1
# Generated data (the sample bag) stays in this checkout's data/ for make's
# targets; an installed stack uses $HOI_DATA_DIR or the user cache
# (hoi_perception/paths.py).
export HOI_DATA_DIR ?= $(CURDIR)/data

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
