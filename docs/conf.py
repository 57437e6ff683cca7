"""Sphinx configuration for the skae documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (or
``bash docs/build.sh``). The build is offline: intersphinx links to other projects'
docs are off unless ``SKAE_DOCS_INTERSPHINX=1`` is set, and every example in
``examples/plot_*.py`` is executed by sphinx-gallery (set ``SKAE_DOCS_PLOT=0`` to
skip running them while editing text, or ``SKAE_DOCS_EXAMPLES=<regex>`` to run only
the matching ones).

``examples/plot_detect_nab.py`` redraws the README's picture
(``_static/detection.png``) and records what it found (``_static/detection.json``);
at the end of the build, ``readme_results.check`` compares the README's caption and
quoted output with that record and fails the build on any disagreement.
"""

import os
import re
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document this checkout's skae
sys.path.insert(0, str(ROOT / "docs"))  # _gallery_order

import readme_results  # noqa: E402
from sphinx.util import logging  # noqa: E402

import skae  # noqa: E402

logger = logging.getLogger(__name__)
BUILD_STARTED = time.time()
# the gallery example that draws the README's picture writes it, and what it
# found, here (the examples run in this process)
os.environ["SKAE_DOCS_STATIC"] = str(ROOT / "docs" / "_static")

project = "skae"
author = "the skae developers"
copyright = "the skae developers"  # noqa: A001
version = release = skae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
if os.environ.get("SKAE_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
        "pandas": ("https://pandas.pydata.org/docs", None),
    }

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "**/*.py.md5", "**/*.zip"]
default_role = "literal"

autosummary_generate = True
autodoc_default_options = {
    "members": True,
    # scikit-learn's metadata-routing and output helpers, documented there
    "exclude-members": ", ".join(
        [
            "get_metadata_routing",
            "set_output",
            "set_fit_request",
            "set_score_request",
            "set_transform_request",
            "set_inverse_transform_request",
            "set_predict_request",
        ]
    ),
}
autodoc_typehints = "none"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"skae {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # SKAE_DOCS_EXAMPLES: a regular expression of the examples to run (all by default)
    "filename_pattern": os.environ.get("SKAE_DOCS_EXAMPLES", r"/plot_"),
    "plot_gallery": os.environ.get("SKAE_DOCS_PLOT", "1") != "0",
    "abort_on_example_error": False,  # run them all, then fail listing each error
    "download_all_examples": False,
    "doc_module": ("skae",),
    "backreferences_dir": "gen_modules/backreferences",
    "log_level": {"backreference_missing": "debug"},
    "within_subsection_order": "_gallery_order.ExampleOrder",
    "min_reported_time": 1,
    "remove_config_comments": True,
    "show_signature": False,
    "capture_repr": (),  # print what the examples print, not their last values
}


# "shape (n_features_in_,)" in a docstring reads to reStructuredText as a link to a
# target "n_features_in"; quote such fitted-attribute names inside shapes.
_SHAPE_NAME = re.compile(r"(?<![`\w])([A-Za-z]\w*_)(?=[,)])")


def _quote_shape_names(app, what, name, obj, options, lines):
    for i, line in enumerate(lines):
        if "shape (" in line:
            lines[i] = _SHAPE_NAME.sub(r"`\1`", line)


def _check_readme_results(app, exception):
    """Fail the build when the README disagrees with what its example found."""
    if exception is not None:
        return
    static = Path(os.environ["SKAE_DOCS_STATIC"])
    summary = static / readme_results.SUMMARY
    ran = summary.exists() and summary.stat().st_mtime >= BUILD_STARTED
    if not ran:
        logger.info(
            "readme_results: %s did not run in this build; checking the README "
            "against the results it saved last",
            readme_results.EXAMPLE,
        )
    for problem in readme_results.check_files(static):
        logger.warning("readme_results: %s", problem)
        app.statuscode = 1  # fail even without -W


def setup(app):
    app.connect("autodoc-process-docstring", _quote_shape_names, priority=400)
    app.connect("build-finished", _check_readme_results)
