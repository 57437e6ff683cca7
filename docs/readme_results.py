"""Keep the README's headline picture, caption and quoted output in step with the code.

``examples/plot_detect_nab.py`` draws the README's picture. When the docs build runs
it (``docs/conf.py`` sets ``SKAE_DOCS_STATIC``), the example saves the picture as
``docs/_static/detection.png`` and what it found as ``docs/_static/detection.json``
with :func:`save_results`. At the end of the build, :func:`check` compares the
README's caption, the output its Python example quotes and the same example on the
docs' front page with that summary; any disagreement fails the build, naming it.
``tests/test_docs_pages.py`` runs the same check against the committed summary, and
``tests/test_readme.py`` runs the README's example and compares what it prints.

Check without building::

    python docs/readme_results.py

The example trains to convergence, and training amplifies the last bits of a CPU's
float32 arithmetic. Refits of the README's example on one AVX-512 machine with
torch 2.13.0, under ten distinct kernel settings (the default; 2, 3 and 4 threads;
oneDNN limited to AVX2 or SSE4.1, alone, with 2 threads or with ATen's AVX2 or
unvectorised kernels; ATen's unvectorised kernels alone), trained 51 to 83 epochs
and moved the threshold between 0.835 and 0.986. Which labelled events are caught
held under all of them (the marathon and the blizzard; the marathon's peak error
2 % to 24 % above the threshold, the nearest missed event's 20 % to 40 % below it).
No normal step was flagged, the nearest 10 % to 29 % below the threshold, except
under ATen's unvectorised kernels with oneDNN's AVX2 ones, a pairing no real CPU
selects (one without AVX2 gets SSE4.1 from oneDNN), where 5 were (0.1 %, not
0.0 %). Both figures are compared exactly. AUC-PR moved from 0.229 to 0.258, so it
is compared within ``AUC_PR_TOLERANCE`` of the quoted value, as the README says. A
fit of 30 epochs at a fixed learning rate, quoted before, was less stable: ATen's
unvectorised kernels caught a third event and oneDNN's AVX2 ones flagged 0.1 %.
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
INDEX = ROOT / "docs" / "index.rst"
STATIC = ROOT / "docs" / "_static"
PICTURE = "detection.png"
SUMMARY = "detection.json"
EXAMPLE = "examples/plot_detect_nab.py"
MAX_PICTURE_BYTES = 150_000
CAPTION_START = "<!-- docs:detection-caption -->"
CAPTION_END = "<!-- /docs:detection-caption -->"
#: How far a CPU's rounding may move the AUC-PR the README quotes (measured: 0.229
#: to 0.258 across kernel settings, printed 0.23 to 0.26), with a margin; every
#: other figure is compared exactly.
AUC_PR_TOLERANCE = 0.04
_AUC_PR = re.compile(r"(AUC-PR )(\d+\.\d+)")


def save_results(
    static_dir,
    fig,
    *,
    summary,
    events,
    caught,
    normal_flagged_percent,
    auc_pr,
    random_auc_pr,
):
    """Save the example's picture and a summary of what it found.

    Parameters
    ----------
    static_dir : path-like
        The docs' static folder; ``detection.png`` and ``detection.json`` are
        written into it.
    fig : matplotlib.figure.Figure
        The detection plot the README shows.
    summary : str
        The line the example prints (and the README's example quotes).
    events : list of str
        The labelled events, in time order.
    caught : list of bool
        Whether a flag fell inside each event's window.
    normal_flagged_percent : float
        Percentage of the normal steps after the training part that were flagged.
    auc_pr, random_auc_pr : float
        AUC-PR of the anomaly scores after the training part, and that of a random
        score (the share of labelled steps).
    """
    static_dir = Path(static_dir)
    fig.savefig(static_dir / PICTURE, dpi=80, pil_kwargs={"optimize": True})
    record = {
        "example": EXAMPLE,
        "summary": summary,
        "events": [
            {"name": name, "caught": bool(hit)}
            for name, hit in zip(events, caught, strict=True)
        ],
        # the precision the README quotes (AUC-PR's second decimal moves with the
        # CPU's rounding: see AUC_PR_TOLERANCE)
        "normal_flagged_percent": f"{normal_flagged_percent:.1f}",
        "auc_pr": f"{auc_pr:.2f}",
        "random_auc_pr": f"{random_auc_pr:.2f}",
    }
    path = static_dir / SUMMARY
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def _join(names):
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def agrees(found, quoted):
    """Return whether a quoted text says what the example found.

    The texts must be the same but for the numbers after "AUC-PR", which may
    differ by ``AUC_PR_TOLERANCE`` (training's rounding differs between CPUs).
    """
    if found is None or quoted is None:
        return found is quoted
    found_values = [float(v) for _, v in _AUC_PR.findall(found)]
    quoted_values = [float(v) for _, v in _AUC_PR.findall(quoted)]
    return (
        _AUC_PR.sub(r"\1#", found) == _AUC_PR.sub(r"\1#", quoted)
        and len(found_values) == len(quoted_values)
        and all(
            abs(f - q) <= AUC_PR_TOLERANCE + 1e-9
            for f, q in zip(found_values, quoted_values, strict=True)
        )
    )


def caption_phrases(record):
    """Return ``(what, expected phrase, pattern of any such phrase)`` per figure.

    The README's caption must contain every expected phrase (AUC-PR within
    ``AUC_PR_TOLERANCE``, see :func:`agrees`); the pattern finds what it says.
    """
    hits = [e["name"] for e in record["events"] if e["caught"]]
    misses = [e["name"] for e in record["events"] if not e["caught"]]
    if hits and misses:
        which = f"({_join(hits)}; it misses {_join(misses)})"
    elif hits:
        which = f"({_join(hits)})"
    else:
        which = "(it misses all of them)"
    return [
        (
            "events caught",
            f"catches {len(hits)} of the {len(record['events'])} labelled events",
            r"catches \S+ of the \S+ labelled events",
        ),
        ("which events", which, r"\([^()]*\)(?=, flags)"),
        (
            "normal steps flagged",
            f"flags {record['normal_flagged_percent']} % of the normal steps",
            r"flags \S+ % of the normal steps",
        ),
        (
            "AUC-PR",
            f"AUC-PR {record['auc_pr']} (a random score gets "
            f"{record['random_auc_pr']})",
            r"AUC-PR \S+ \(a random score gets [^)]*\)",
        ),
    ]


def _caption(readme):
    start, end = readme.find(CAPTION_START), readme.find(CAPTION_END)
    if start < 0 or end < start:
        return None
    # Markdown wraps lines; compare the words
    return " ".join(readme[start + len(CAPTION_START) : end].split())


def _markdown_blocks(text, language):
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def _rst_blocks(text, language):
    """The contents of ``.. code-block:: <language>`` directives, dedented."""
    blocks = []
    for match in re.finditer(
        rf"^\.\. code-block:: {language}\n\n((?:   .*\n|\n)+)", text, flags=re.M
    ):
        lines = match.group(1).rstrip("\n").split("\n")
        blocks.append("\n".join(line[3:] for line in lines) + "\n")
    return blocks


def readme_example(readme):
    """Return the README's Python example and the output it quotes (or None)."""
    code = _markdown_blocks(readme, "python")
    if not code:
        return None, None
    after = readme[readme.index(code[0]) + len(code[0]) :]
    output = re.match(r"```\s*\n(?:[^\n`]*\n){0,3}```text\n(.*?)```", after, re.S)
    return code[0], output.group(1).strip() if output else None


def load_record(static_dir=STATIC):
    """Return the summary the example last saved."""
    return json.loads((Path(static_dir) / SUMMARY).read_text(encoding="utf-8"))


def check(record, readme, index=None, picture=None):
    """Return the disagreements between the example's results and the pages.

    Parameters
    ----------
    record : dict
        The summary :func:`save_results` wrote.
    readme : str
        The text of ``README.md``.
    index : str, optional
        The text of ``docs/index.rst``, whose example must be the README's.
    picture : path-like, optional
        The picture, which must stay small enough for a README.

    Returns
    -------
    problems : list of str
        One sentence per disagreement; empty when the pages agree.
    """
    problems = []
    source = f"{record['example']} (docs/_static/{SUMMARY})"
    caption = _caption(readme)
    if caption is None:
        problems.append(
            f"README.md has no picture caption between {CAPTION_START} and "
            f"{CAPTION_END}"
        )
    else:
        for what, expected, pattern in caption_phrases(record):
            found = re.search(pattern, caption)
            if expected not in caption and not (
                found and agrees(expected, found.group(0))
            ):
                says = f"says '{found.group(0)}'" if found else "does not say it"
                problems.append(
                    f"README caption, {what}: {source} found '{expected}'; the "
                    f"caption {says}"
                )
    code, output = readme_example(readme)
    if code is None:
        problems.append("README.md has no Python example")
    elif not agrees(record["summary"], output):
        problems.append(
            f"README's example output: {source} prints '{record['summary']}'; the "
            f"README quotes '{output}'"
            if output is not None
            else "README's Python example is not followed by a ```text block of "
            "what it prints"
        )
    if index is not None and code is not None:
        index_code = _rst_blocks(index, "python")
        index_output = _rst_blocks(index, "text")
        if not index_code or index_code[0] != code:
            problems.append("docs/index.rst's example is not the README's")
        if not index_output or not agrees(record["summary"], index_output[0].strip()):
            problems.append(
                f"docs/index.rst's example output: {source} prints "
                f"'{record['summary']}'; the page quotes "
                f"'{index_output[0].strip() if index_output else None}'"
            )
    if picture is not None:
        size = Path(picture).stat().st_size
        if size > MAX_PICTURE_BYTES:
            problems.append(
                f"{picture} is {size:,} bytes, more than {MAX_PICTURE_BYTES:,}"
            )
    return problems


def check_files(static_dir=STATIC):
    """Check the committed (or just rebuilt) summary against the README and index."""
    return check(
        load_record(static_dir),
        README.read_text(encoding="utf-8"),
        INDEX.read_text(encoding="utf-8"),
        Path(static_dir) / PICTURE,
    )


if __name__ == "__main__":
    found = check_files()
    for problem in found:
        print(f"docs/readme_results.py: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
