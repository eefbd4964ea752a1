# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-live-loaded bench bench-import golden clean real-logs lowest-pyarrow

# The last step compiles the numba kernels once (paraphina.warmup), rather than in the first
# command that needs them.
$(STAMP): pyproject.toml constraints.txt plugins/paraphina-example-policy/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[test,rl,live,ray,tune]' -e plugins/paraphina-example-policy
	$(PY) -m paraphina.warmup
	touch $(STAMP)

install: $(STAMP)

# The main job on embedded samples: simulate a 5-venue session with the heuristic, replay its log
# byte for byte, and re-check every pinned golden replay.
demo: $(STAMP)
	$(VENV)/bin/paraphina run --scenario scenarios/synth_baseline.yaml --ticks 600 -o $(VENV)/demo-run.arrow --force
	$(VENV)/bin/paraphina replay $(VENV)/demo-run.arrow -o $(VENV)/demo-run.actions --force
	$(VENV)/bin/paraphina golden check event_logs/manifest.toml

test: $(STAMP)
	$(PY) -m pytest

# The recorder's tests beside two CPU-bound processes: they must not depend on wall-clock luck.
test-live-loaded: $(STAMP)
	$(PY) benchmarks/under_load.py --burners 2 -- $(PY) -m pytest tests/live

bench: $(STAMP) bench-import
	$(PY) benchmarks/bench.py
	$(PY) benchmarks/bench_mc.py
	$(PY) benchmarks/bench_targets.py

bench-import: $(STAMP)
	$(PY) benchmarks/bench_import.py

# Logs built from ../shared/data/real (never committed): see event_logs/real_manifest.toml.
real-logs: $(STAMP)
	$(VENV)/bin/paraphina build-real event_logs/real_manifest.toml -o build/real --force

golden: $(STAMP)
	$(VENV)/bin/paraphina golden check event_logs/manifest.toml

# The log's hash covers the bytes on disk, so logs cross pyarrow versions: prove it against the
# lowest version pyproject.toml allows (a venv with just what paraphina.eventlog needs).
lowest-pyarrow: $(STAMP)
	test -x build/pyarrow-lowest/bin/python || $(PYTHON) -m venv build/pyarrow-lowest
	build/pyarrow-lowest/bin/pip install -q --disable-pip-version-check 'pyarrow==14.0.2' 'numpy<2' msgspec
	$(PY) -m pytest -q tests/integration/test_log_safety.py -k lowest_supported_pyarrow

clean:
	rm -rf $(VENV) build *.egg-info
