# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install train-shamnet bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m diffsham demo --outdir out/demo

test: $(STAMP)
	$(PY) -m pytest -q

train-shamnet: $(STAMP)
	$(PY) -m diffsham train-shamnet --outdir out/shamnet

bench: $(STAMP)
	$(PY) benchmarks/bench_shamnet.py
	$(PY) benchmarks/bench_solver.py

clean:
	rm -rf $(VENV) out
