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
echo "fresh install: python -m bot --help and an offline brief work"
