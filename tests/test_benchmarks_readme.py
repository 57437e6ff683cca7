"""benchmarks/README.md holds current tables; benchmarks/HISTORY.md the earlier ones.

A table measured at earlier defaults belongs in HISTORY.md, so no section of
README.md that holds a table may call itself stale. Every ``python -m
benchmarks...`` command quoted in either file must name a module that exists,
and every link to a heading must find it.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "benchmarks" / "README.md"
HISTORY = ROOT / "benchmarks" / "HISTORY.md"


def _sections(text):
    """``(heading, body)`` of each Markdown section, the text before the first
    heading included with an empty heading; fenced code is not a heading."""
    sections, heading, body, fenced = [], "", [], False
    for line in text.splitlines():
        fenced ^= line.startswith("```")
        if line.startswith("#") and not fenced:
            sections.append((heading, body))
            heading, body = line, []
        else:
            body.append(line)
    sections.append((heading, body))
    return sections


def stale_tables(text):
    """Headings of the sections that hold a table and say "stale"."""
    return [
        heading
        for heading, body in _sections(text)
        if any(line.startswith("|") for line in body)
        and "stale" in "\n".join([heading, *body]).lower()
    ]


def missing_modules(text):
    """The ``python -m benchmarks...`` modules quoted in ``text`` that do not exist."""
    missing = []
    for name in sorted(set(re.findall(r"python -m (benchmarks(?:\.\w+)+)", text))):
        path = ROOT.joinpath(*name.split("."))
        if not (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()):
            missing.append(name)
    return missing


def _anchors(text):
    """GitHub's anchors of the headings of ``text``."""
    anchors, seen, fenced = set(), {}, False
    for line in text.splitlines():
        fenced ^= line.startswith("```")
        if fenced or not line.startswith("#"):
            continue
        slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower())
        slug = slug.replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_no_table_of_the_benchmarks_readme_is_stale():
    text = README.read_text(encoding="utf-8")
    assert stale_tables(text) == []
    # a table marked stale is caught
    marked = text.replace(
        "#### Seed spread at the current defaults\n",
        "#### Seed spread at the current defaults\n\n**Stale: not re-run.**\n",
    )
    assert stale_tables(marked) == ["#### Seed spread at the current defaults"]


@pytest.mark.parametrize("path", [README, HISTORY], ids=lambda p: p.name)
def test_quoted_benchmark_commands_name_modules_that_exist(path):
    text = path.read_text(encoding="utf-8")
    assert "python -m benchmarks.quality.skab" in text or path == HISTORY
    assert missing_modules(text) == []
    assert missing_modules("python -m benchmarks.quality.gone") == [
        "benchmarks.quality.gone"
    ]


@pytest.mark.parametrize("path", [README, HISTORY], ids=lambda p: p.name)
def test_links_find_their_headings_and_files(path):
    text = path.read_text(encoding="utf-8")
    anchors = _anchors(text)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith("#"):
            assert target[1:] in anchors, f"{path.name} links to a missing {target}"
        elif "://" not in target:
            assert (path.parent / target).exists(), f"{path.name} links to {target}"


def test_the_history_says_what_superseded_each_set_of_defaults():
    text = HISTORY.read_text(encoding="utf-8")
    parts = [h for h, _ in _sections(text) if h.startswith("## ")]
    assert parts[0] == "## The defaults, in order"
    assert parts[-1] == "## Today's defaults"
    for heading, body in _sections(text):
        if heading.startswith("## ") and heading not in (parts[0], parts[-1]):
            assert "superseded" in "\n".join(body).lower(), heading
