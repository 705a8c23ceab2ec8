# Two commands on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
CORRFUNC_STAMP := $(VENV)/.corrfunc-tried

.PHONY: demo test install train-shamnet catalog bench clean showcase strip-notebooks

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

# halotools (the test reference) compiles from source: -O1 without debug info halves the time
$(TEST_STAMP): $(STAMP)
	CFLAGS="-O1 -g0" $(PY) -m pip install --quiet -e ".[test]"
	touch $(TEST_STAMP)

# Corrfunc (a second pair-count reference and the benchmark's peer) builds only against
# Debian's libgsl-dev: installed where this machine allows; without it its test skips and
# bench_stats.py falls back to halotools
$(CORRFUNC_STAMP): $(STAMP)
	-@if [ ! -e /usr/include/gsl/gsl_rng.h ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		timeout 300 apt-get install -y -q libgsl-dev >/dev/null 2>&1 || \
		(timeout 300 apt-get update -q >/dev/null 2>&1 && timeout 300 apt-get install -y -q libgsl-dev >/dev/null 2>&1); fi
	-@$(PY) -m pip install --quiet -e ".[corrfunc]" 2>/dev/null || \
		echo "Corrfunc not installed (it needs libgsl-dev): its test skips, bench_stats.py uses halotools"
	touch $@

install: $(STAMP)

# the main job: fit the default mock (likelihoods/mock_default.toml) with BlackJAX NUTS
demo: $(STAMP)
	$(PY) -m diffsham fit likelihoods/mock_default.toml --sampler nuts --out out/demo

test: $(TEST_STAMP) $(CORRFUNC_STAMP)
	$(PY) -m pytest -q

# the SHAMNet / solver comparison and catalog predictions (the demo of earlier versions)
showcase: $(STAMP)
	$(PY) -m diffsham demo --outdir out/showcase

train-shamnet: $(STAMP)
	$(PY) -m diffsham train-shamnet --outdir out/shamnet

catalog: $(STAMP)
	$(PY) -m diffsham catalog make

bench: $(TEST_STAMP) $(CORRFUNC_STAMP)
	$(PY) benchmarks/bench_shamnet.py
	$(PY) benchmarks/bench_solver.py
	$(PY) benchmarks/bench_stats.py
	$(PY) benchmarks/bench_convergence.py

# notebooks are stored without outputs (tests/test_notebooks.py checks)
strip-notebooks: $(TEST_STAMP)
	$(PY) notebooks/strip_outputs.py

clean:
	rm -rf $(VENV) out
