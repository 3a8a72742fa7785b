# evfer — set-up, tests, benchmarks and the demo. Everything goes into .venv.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
# Where torch 2.13.0 comes from. Empty: pip's configuration (on the project's CI machines a local CPU
# wheel). Elsewhere, a CPU-only machine may want TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
TORCH_SRC := $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

.PHONY: test bench demo install clean

install: $(STAMP)

# torch first (the local CPU wheel), then the project, constrained to that torch.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0 $(TORCH_SRC)
	$(PIP) install --quiet -c constraints.txt -e ".[test,bench]"
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup tests

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

demo: $(STAMP)
	$(VENV)/bin/evfer demo -o runs/demo

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
