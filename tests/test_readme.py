"""The README's Python example runs as printed."""

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(capsys):
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "README.md has no Python example"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the example is small: one thread is fastest
    try:
        exec(compile(blocks[0], "README.md", "exec"), {"__name__": "readme"})
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    match = re.search(r"(\d+) steps flagged, AUC-PR (\d\.\d\d)", out)
    assert match, out
    # the detector finds something, and ranks the labelled windows above chance
    # (NAB's nyc_taxi: 10.3 % of its steps are labelled)
    assert int(match.group(1)) > 0
    assert float(match.group(2)) > 0.13
