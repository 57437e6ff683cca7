#!/usr/bin/env bash
# Build the documentation as CI does: warnings are errors, every example runs.
#   bash docs/build.sh [extra sphinx options]      (from anywhere)
# Uses $PYTHON (default: python). Installs the docs extra (Sphinx, sphinx-gallery,
# numpydoc, the theme) when it is missing. The build needs no network otherwise.
# SKAE_DOCS_PLOT=0 skips running the examples.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python}"
cd "$root"
if ! "$python" -c "import sphinx, sphinx_gallery, numpydoc, pydata_sphinx_theme, matplotlib" 2>/dev/null; then
    echo "docs/build.sh: installing the docs extra"
    "$python" -m pip install -q -e ".[docs]"
fi
rm -rf docs/_build docs/auto_examples docs/generated docs/gen_modules docs/sg_execution_times.rst
export MPLBACKEND=Agg
start=$(date +%s)
"$python" -m sphinx -W --keep-going -b html "$@" docs docs/_build/html
echo "docs/build.sh: built docs/_build/html/index.html in $(( $(date +%s) - start )) s"
