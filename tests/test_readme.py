"""The README's Python example prints what the README says it prints."""

import re
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT / "docs"))

import readme_results  # noqa: E402


def test_readme_example_prints_its_quoted_output(capsys):
    code, quoted = readme_results.readme_example(README.read_text(encoding="utf-8"))
    assert code, "README.md has no Python example"
    assert quoted, "README.md's example is not followed by a ```text block"
    if torch.cuda.is_available():  # device="auto" would train on the GPU
        pytest.skip("the README quotes what its example prints on a CPU")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the example is small: one thread is fastest
    try:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out.strip()
    # training's rounding differs between CPUs: AUC-PR may move by a few hundredths,
    # every other figure must match exactly (see docs/readme_results.py)
    assert readme_results.agrees(printed, quoted), (printed, quoted)


def test_readme_keeps_the_ci_commands_and_stays_short():
    text = README.read_text(encoding="utf-8")
    for name in ("install", "test"):  # .ci/run reads these blocks
        block = re.search(
            rf"<!-- ci:{name} -->\n```bash\n(.+?)\n```\n<!-- /ci:{name} -->", text
        )
        assert block, f"README.md lost its ci:{name} block"
    assert "pip install torch==2.13.0" in text
    assert "--index-url https://download.pytorch.org/whl/cpu" in text
    assert len(text.splitlines()) <= 160


def _results_table(text):
    section = text[text.index("## How well it detects") :]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def _figures_not_in(readme, benchmarks):
    """The README's table figures that no table of benchmarks/README.md holds."""
    return [
        (row[0], figure)
        for row in _results_table(readme)
        for figure in row[1:]
        if figure and not re.search(rf"\| \**{re.escape(figure)}\** \|", benchmarks)
    ]


def test_readme_results_are_the_benchmarks_figures():
    readme = README.read_text(encoding="utf-8")
    benchmarks = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert [row[0] for row in _results_table(readme)][0] == "skae"
    assert _figures_not_in(readme, benchmarks) == []
    # a figure typed in by hand is caught
    skae_f1 = _results_table(readme)[0][1]
    wrong = readme.replace(f"| skae | {skae_f1} |", "| skae | 9.876 |")
    assert _figures_not_in(wrong, benchmarks) == [("skae", "9.876")]
