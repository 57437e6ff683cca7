"""Generated documentation pages are in step with their sources."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _benchmarks_page():
    spec = importlib.util.spec_from_file_location(
        "benchmarks_page", ROOT / "docs" / "benchmarks_page.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmarks_page_matches_the_benchmarks_readme():
    page = _benchmarks_page()
    expected = page.build(page.README.read_text(encoding="utf-8"))
    assert page.PAGE.read_text(encoding="utf-8") == expected, (
        "docs/benchmarks.rst is stale: run `python docs/benchmarks_page.py` after "
        "editing benchmarks/README.md"
    )


def test_the_page_carries_every_table_row_of_its_sections():
    page = _benchmarks_page()
    readme = page.README.read_text(encoding="utf-8")
    rst = page.build(readme)
    for start, end in (page.QUALITY, page.SPEED):
        section = readme[readme.index(start) : readme.index(end) if end else None]
        rows = [line for line in section.splitlines() if line.startswith("| ")]
        assert rows
        for row in rows:
            first_cell = row.strip("|").split("|")[0].strip().replace("`", "")
            assert first_cell in rst.replace("``", ""), first_cell
