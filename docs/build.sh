#!/usr/bin/env bash
# Build the documentation as CI does: warnings are errors, every example runs.
# Usage: bash docs/build.sh [extra sphinx options]   (from anywhere)
# Needs the docs extra: pip install -e ".[docs]". Set SKAE_DOCS_PLOT=0 to skip
# running the examples.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python}"
cd "$root"
rm -rf docs/_build docs/auto_examples docs/generated docs/gen_modules
exec "$python" -m sphinx -W --keep-going -b html "$@" docs docs/_build/html
