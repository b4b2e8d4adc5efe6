#!/usr/bin/env bash
# A plain install as a new user does it: a fresh venv, the interpreter's own pip
# (not upgraded), the project (not editable), then the bot must start offline.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
echo "fresh install: $("$work/venv/bin/pip" --version)"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check .
cd "$work"  # run outside the checkout, so only the installed package is imported
"$work/venv/bin/python" -m bot --help >/dev/null
NEWSBRIEF_DB="$work/fresh.db" "$work/venv/bin/python" -m bot brief ukraine > "$work/brief.txt"
grep -q "== Brief: ukraine" "$work/brief.txt" || { cat "$work/brief.txt"; exit 1; }
# With an LLM switched on (nothing listens there), the shipped prompts must load and
# the brief must fall back to quoting the sources, saying why.
NEWSBRIEF_DB="$work/fresh.db" OPENAI_BASE_URL=http://127.0.0.1:9/v1 NEWSBRIEF_LLM_MAX_RETRIES=0 \
  "$work/venv/bin/python" -m bot brief ukraine > "$work/llm-brief.txt"
grep -q "could not connect" "$work/llm-brief.txt" || { cat "$work/llm-brief.txt"; exit 1; }
echo "fresh install: python -m bot --help, an offline brief and an LLM-less fallback work"
