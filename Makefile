# The two commands of the README: `make demo` and `make test`. Each installs what it needs.
VENV := .venv
PY := $(VENV)/bin/python
WORK ?= $(CURDIR)/build

.PHONY: bootstrap demo test lint bench clean

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/bin/fexpkg demo --work $(WORK)/demo

test: bootstrap
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: bootstrap
	$(VENV)/bin/ruff check src tests dnf-plugins bench

bench: bootstrap
	@for b in $(filter-out bench/timing.py,$(wildcard bench/*.py)); do \
		echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(WORK) .pytest_cache
