# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test bench bench-import golden clean real-logs

$(STAMP): pyproject.toml constraints.txt plugins/paraphina-example-policy/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]' -e plugins/paraphina-example-policy
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/paraphina golden check event_logs/manifest.toml
	$(VENV)/bin/paraphina replay event_logs/demo_5venue.arrow --policy fixed-spread --out $(VENV)/demo.actions

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP) bench-import
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/bench_mc.py

bench-import: $(STAMP)
	$(PY) benchmarks/bench_import.py

# Logs built from ../shared/data/real (never committed): see event_logs/real_manifest.toml.
real-logs: $(STAMP)
	$(VENV)/bin/paraphina build-real event_logs/real_manifest.toml --out-dir build/real --force

golden: $(STAMP)
	$(VENV)/bin/paraphina golden check event_logs/manifest.toml

clean:
	rm -rf $(VENV) build *.egg-info
