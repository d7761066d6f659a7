# `make demo` and `make test` work from a fresh clone: they create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo preview test deps lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/digest --config feeds.yaml run
	@echo
	@echo "The emails are in outbox/, one .eml file per subscriber: open one in a mail program."
	@echo "To see issue 1 in a browser: make preview (writes preview/digest.html), or"
	@echo "  .venv/bin/digest --config feeds.yaml preview --issue 1 --out preview/"

# The demo's issue as files: preview/digest.html (open it in a browser), digest.txt, digest.eml.
ISSUE ?= 1
preview: $(STAMP)
	$(VENV)/bin/digest --config feeds.yaml preview --issue $(ISSUE) --out preview/

# System packages the tests use (SpamAssassin); installs with apt-get as root, else says how.
deps:
	@.ci/install-system-deps

test: $(STAMP) deps
	$(PY) -m pytest -q
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

# bench/run.py sends into Debian's smtp-sink (package postfix, installed without a mail daemon).
bench: $(STAMP)
	@.ci/install-system-deps --bench
	$(PY) bench/fetch.py
	$(PY) bench/render.py
	$(PY) bench/send.py
	$(PY) bench/api.py
	$(PY) bench/dkim.py
	$(PY) bench/identity.py
	$(PY) bench/csvimport.py
	$(PY) bench/startup.py
	$(PY) bench/run.py
	$(PY) bench/run.py --dkim

clean:
	rm -rf $(VENV) outbox preview demo.sqlite3* build src/*.egg-info .pytest_cache .mypy_cache
