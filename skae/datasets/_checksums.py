"""SHA-256 checksums of the benchmark files that skae can download.

Computed from NAB v1.1 (https://github.com/numenta/NAB) and SKAB v0.9
(https://github.com/waico/SKAB) as published. ``data/sha256sums.txt`` lists them
as ``sha256sum`` writes them, by their paths in a data home, where
``sha256sum --ignore-missing -c`` checks the files present.
"""

from importlib import resources


def _read(benchmark):
    """Return ``{path in the benchmark's repository: SHA-256}``, in file order."""
    text = (resources.files(__package__) / "data" / "sha256sums.txt").read_text("utf-8")
    pairs = (line.split(maxsplit=1) for line in text.splitlines())
    prefix = benchmark + "/"
    return {p.removeprefix(prefix): h for h, p in pairs if p.startswith(prefix)}


NAB_SHA256 = _read("NAB")
SKAB_SHA256 = _read("SKAB")
