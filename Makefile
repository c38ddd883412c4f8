# Set-up and checks. Every target creates .venv first (pinned torch/torchvision via constraints.txt).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: venv test demo bench lint clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/lint-imports

demo: $(STAMP)
	$(BIN)/tailor demo --out demo-catalog

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_stats.py
	$(BIN)/python benchmarks/bench_losses.py

clean:
	rm -rf $(VENV) demo-catalog tailor-demo .pytest_cache .hypothesis *.egg-info
