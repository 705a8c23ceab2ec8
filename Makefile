# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: demo test install train-shamnet catalog bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

# halotools (the test reference) compiles from source: -O1 without debug info halves the time
$(TEST_STAMP): $(STAMP)
	CFLAGS="-O1 -g0" $(PY) -m pip install --quiet -e ".[test]"
	touch $(TEST_STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m diffsham demo --outdir out/demo

test: $(TEST_STAMP)
	$(PY) -m pytest -q

train-shamnet: $(STAMP)
	$(PY) -m diffsham train-shamnet --outdir out/shamnet

catalog: $(STAMP)
	$(PY) -m diffsham catalog make

bench: $(TEST_STAMP)
	$(PY) benchmarks/bench_shamnet.py
	$(PY) benchmarks/bench_solver.py
	$(PY) benchmarks/bench_stats.py

clean:
	rm -rf $(VENV) out
