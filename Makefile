# The two commands a fresh machine needs: `make run` starts Flowyard, `make test` runs every test.
# Both do their own set-up (virtualenv, pinned packages, the graph editor's bundle) and are quick the second time.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The desktop window's packages (pywebview, PyQt6 WebEngine: ~530 MB): for `make test` and `make desktop` only.
DESKTOP_STAMP := $(VENV)/.desktop-stamp

# The graph editor's JavaScript bundle: built from exact pins and a lock file, never committed.
EDITOR := components/graph_editor
NPM_STAMP := $(EDITOR)/node_modules/.installed-stamp
BUNDLE := $(EDITOR)/dist/index.js

.PHONY: run desktop test lint bench bench-history bench-batch bench-agent bench-ui bench-live clean bundle chromium xvfb

$(STAMP): pyproject.toml requirements.lock tests/plugins/flowyard_example_plugin/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e tests/plugins/flowyard_example_plugin
	touch $(STAMP)

$(DESKTOP_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test,desktop]'
	touch $(DESKTOP_STAMP)

$(NPM_STAMP): $(EDITOR)/package.json $(EDITOR)/package-lock.json
	@command -v npm >/dev/null || { echo "Building the graph editor needs Node.js >= 20.19 with npm" >&2; exit 1; }
	cd $(EDITOR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NPM_STAMP)

$(BUNDLE): $(NPM_STAMP) $(EDITOR)/vite.config.mjs $(wildcard $(EDITOR)/src/*)
	cd $(EDITOR) && npm run --silent build
	touch $(BUNDLE)

bundle: $(BUNDLE)

# Browser tests use Debian's Chromium (no browser download); elsewhere Playwright's own browser.
chromium:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "No /usr/bin/chromium: install it (apt-get install chromium) or run 'playwright install chromium'"; \
		fi; \
	fi

# The desktop window's test runs under Debian's Xvfb, with the X and Qt WebEngine libraries a bare Debian lacks.
XVFB_PACKAGES := xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0 libxcb-image0 \
	libxcb-util1 libxcb-xkb1 libxcb-cursor0 libxcb-randr0 libxkbcommon0 libxkbcommon-x11-0 libegl1 libgl1 libgbm1 \
	libnss3 libxcomposite1 libxdamage1 libxtst6 libxrandr2 libdbus-1-3 libfontconfig1 fonts-dejavu-core

xvfb:
	@if command -v apt-get >/dev/null && ! { dpkg -s $(XVFB_PACKAGES) >/dev/null 2>&1 && ldconfig -p | grep -q libasound.so.2; }; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(XVFB_PACKAGES) \
				$$(apt-cache show libasound2t64 >/dev/null 2>&1 && echo libasound2t64 || echo libasound2); \
		else \
			echo "The desktop window's test needs: apt-get install $(XVFB_PACKAGES) libasound2"; \
		fi; \
	fi

run: $(STAMP) $(BUNDLE)
	$(BIN)/flowyard serve

# Flowyard in a window of its own, on its own data (~/.local/share/flowyard on Linux).
desktop: $(DESKTOP_STAMP) $(BUNDLE)
	$(BIN)/flowyard desktop

test: $(STAMP) $(DESKTOP_STAMP) $(BUNDLE) chromium xvfb
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	cd $(EDITOR) && npm run --silent lint
	$(BIN)/python -m pytest -n auto

lint: $(STAMP) $(NPM_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	cd $(EDITOR) && npm run --silent lint

bench: $(STAMP) $(BUNDLE)
	$(BIN)/flowyard bench

# The runs page and the inbox on 1,000,000 seeded runs (about two minutes, a temporary SQLite file).
bench-history: $(STAMP)
	$(BIN)/flowyard bench --history

# A 10,000-row batch of a 3-node transform workflow (target: under a minute, a temporary SQLite file).
bench-batch: $(STAMP)
	$(BIN)/flowyard bench --batch

bench-agent: $(STAMP)
	$(BIN)/flowyard bench --agent

bench-ui: $(STAMP) $(BUNDLE) chromium
	$(BIN)/python -m tests.load.bench_editor

# How long a node's status change takes to show on an open run page (Chromium; target p95 < 150 ms).
bench-live: $(STAMP) $(BUNDLE) chromium
	$(BIN)/python -m tests.load.bench_live

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache .hypothesis $(EDITOR)/node_modules $(EDITOR)/dist
