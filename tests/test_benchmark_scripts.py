"""Every module under ``benchmarks/`` imports, and does no work when imported.

The benchmark scripts run for minutes to hours, so nothing else runs them; an
import of a name that moved inside skae broke one unseen
(``skab_score_variants.py`` imported ``local_mean`` from ``skae._scoring`` after
it had moved to ``skae._inference``). A script needing a package of the ``bench`` extra
(``pip install skae[bench]``) at import is skipped, saying so, where it is missing.
"""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

import skae

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").rglob("*.py"))


def _bench_extra():
    """The top-level names of the packages in pyproject.toml's ``bench`` extra."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    requirements = re.search(r"^bench = \[(.*)\]$", text, re.MULTILINE).group(1)
    return {re.match(r'\s*"([\w.-]+)', r).group(1) for r in requirements.split(",")}


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _refuse(what):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a benchmark script {what} when imported")

    return refuse


def test_the_scripts_are_found():
    names = {_module_name(path) for path in SCRIPTS}
    assert {"benchmarks._harness", "benchmarks.quality.skab"} <= names
    assert _bench_extra() >= {"pyod", "onnxruntime"}


@pytest.mark.parametrize(
    "path", SCRIPTS, ids=[str(p.relative_to(ROOT / "benchmarks")) for p in SCRIPTS]
)
def test_benchmark_script_imports_without_running(path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT))
    # a script that ran main() at import would fail to parse this, fit or fetch
    monkeypatch.setattr(sys, "argv", [str(path), "--not-an-option"])
    monkeypatch.setattr(skae.LSTMAutoencoderDetector, "fit", _refuse("fitted"))
    from benchmarks import _harness

    for fetch in ("fetch_nab", "fetch_skab"):
        monkeypatch.setattr(_harness, fetch, _refuse("fetched data"))
    name = _module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # a fresh copy, run here
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _bench_extra():
            raise
        pytest.skip(f"{path.name} needs {exc.name}: pip install skae[bench]")
    assert capsys.readouterr().out == ""
    if path.name != "__init__.py" and not path.name.startswith("_"):
        assert callable(getattr(module, "main", None)), f"{name} has no main()"
