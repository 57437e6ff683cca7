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


def _readme_results():
    spec = importlib.util.spec_from_file_location(
        "readme_results", ROOT / "docs" / "readme_results.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_caption_and_outputs_match_what_the_example_found():
    # docs/_static/detection.json is what examples/plot_detect_nab.py found when the
    # docs were last built; the build itself fails on the same check
    assert _readme_results().check_files() == []


def test_the_check_names_each_disagreement():
    results = _readme_results()
    record = results.load_record()
    readme = results.README.read_text(encoding="utf-8")
    index = results.INDEX.read_text(encoding="utf-8")
    assert results.check(record, readme, index) == []

    # the example catches one more event, flags more normal steps, ranks better
    events = [dict(e, caught=True) for e in record["events"]]
    better = dict(record, events=events, normal_flagged_percent="3.1", auc_pr="0.41")
    better["summary"] = record["summary"].replace(record["auc_pr"], "0.41")
    problems = results.check(better, readme, index)
    text = "\n".join(problems)
    hits = sum(e["caught"] for e in record["events"])
    assert f"catches {len(events)} of the {len(events)} labelled events" in text
    assert f"says 'catches {hits} of the {len(events)} labelled events'" in text
    assert "which events" in text
    assert "flags 3.1 % of the normal steps" in text
    assert "AUC-PR 0.41 (a random score gets" in text
    assert "README's example output" in text
    assert "docs/index.rst's example output" in text

    # a caption or a quoted output edited by hand
    wrong = readme.replace(f"AUC-PR {record['auc_pr']}", "AUC-PR 0.99")
    problems = results.check(record, wrong)
    assert any("caption, AUC-PR" in p and "0.99" in p for p in problems), problems
    assert any("README quotes" in p and "0.99" in p for p in problems), problems


def test_auc_pr_may_move_by_the_tolerance_and_nothing_else():
    results = _readme_results()
    record = results.load_record()
    readme = results.README.read_text(encoding="utf-8")
    index = results.INDEX.read_text(encoding="utf-8")
    quoted = float(record["auc_pr"])

    def found(auc_pr, summary=record["summary"]):
        summary = summary.replace(f"AUC-PR {record['auc_pr']}", f"AUC-PR {auc_pr}")
        return dict(record, auc_pr=auc_pr, summary=summary)

    # another CPU's rounding: AUC-PR a few hundredths away passes everywhere
    near = f"{quoted + results.AUC_PR_TOLERANCE - 0.01:.2f}"
    assert results.check(found(near), readme, index) == []
    # further than the tolerance fails in the caption and both quoted outputs
    far = f"{quoted + results.AUC_PR_TOLERANCE + 0.01:.2f}"
    text = "\n".join(results.check(found(far), readme, index))
    assert "caption, AUC-PR" in text
    assert "README's example output" in text
    assert "docs/index.rst's example output" in text
    # every other figure must match exactly
    assert results.agrees(record["summary"], record["summary"])
    assert not results.agrees(
        record["summary"], record["summary"].replace("on 0.0 %", "on 0.1 %")
    )
    assert not results.agrees(
        record["summary"], record["summary"].replace("caught 2", "caught 3")
    )
    assert not results.agrees(record["summary"], None)


def test_the_check_wants_a_small_picture(tmp_path):
    results = _readme_results()
    record = results.load_record()
    readme = results.README.read_text(encoding="utf-8")
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    small.write_bytes(b"\0" * 1000)
    large.write_bytes(b"\0" * (results.MAX_PICTURE_BYTES + 1))
    assert results.check(record, readme, picture=small) == []
    assert "more than" in " ".join(results.check(record, readme, picture=large))
    assert (
        results.STATIC / results.PICTURE
    ).stat().st_size <= results.MAX_PICTURE_BYTES
