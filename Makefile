# Two entry points for a fresh machine: `make demo` and `make test`.  Both build .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch first: a pinned CPU wheel installs in seconds where one is cached; otherwise any torch>=2.2.
TORCH  ?= torch==2.13.0

.PHONY: demo test test-slow lint bench gallery docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH)" || $(BIN)/pip install -q "torch>=2.2"
	$(BIN)/pip install -q -e ".[test,dask,tsne]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/spinglass-icl demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# the lint and type gate CI runs before the tests (configuration in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/lint-imports

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

gallery: $(STAMP)
	$(BIN)/python -m spinglass_icl.experiments.gallery

# the documentation site: generates the gallery and API pages and executes every tutorial (-E: all pages read
# afresh at every build, so an unchanged tutorial still runs against today's code); warnings are errors
DOCS_STAMP := $(VENV)/.installed-docs
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(BIN)/cffconvert --validate -i CITATION.cff
	$(BIN)/python -m sphinx -W --keep-going -E -b html docs docs/_build/html

clean:
	rm -rf $(VENV) results .pytest_cache docs/_build docs/jupyter_execute docs/api/generated docs/api/index.rst docs/gallery docs/cli.md
