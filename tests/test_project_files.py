"""The changelog and the citation file name the version the package reports."""

import re
from pathlib import Path

import skae

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_and_package_agree_on_the_version():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    version = re.search(r'^version = "([^"]+)"$', project, flags=re.MULTILINE)
    assert version and version.group(1) == skae.__version__


def test_citation_file_cites_this_version():
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^cff-version: 1\.2\.0$", text, flags=re.MULTILINE)
    version = re.search(r"^version: (\S+)$", text, flags=re.MULTILINE)
    assert version and version.group(1) == skae.__version__
    assert re.search(r"^title: .*skae", text, flags=re.MULTILINE)


def test_changelog_has_a_section_for_this_version():
    headings = re.findall(
        r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M
    )
    assert headings, "CHANGELOG.md has no release sections"
    assert skae.__version__ in headings
