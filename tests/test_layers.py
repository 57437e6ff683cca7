"""The package's layering: each module imports only from its own layer or below."""

import ast
from pathlib import Path

import pytest

import skae

PACKAGE = Path(skae.__file__).parent

# 1: NumPy only (checks, windows, scaling, score and threshold statistics, events);
# 2: torch (the module, training, inference); 3: the fitted autoencoder;
# 4: the estimators; 5: adapters (files, Dask, plots, CLI, metrics, datasets).
LAYERS = {
    1: "_validation _windowing _scaling _scoring _threshold _flatlines _labels "
    "_forgetting _version _table _nab_scoring _events _codec",
    2: "_module _window_batches _threads _inference _training",
    3: "_core",
    4: "_detector _encoder _fit_inputs",
    5: "_persistence _streaming _dask plotting metrics cli _demo __init__ __main__ "
    "datasets _cli_commands _cli_parser _model_files",
}
LAYER = {name: layer for layer, names in LAYERS.items() for name in names.split()}


def _layer(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return LAYER[parts[0]]


def _imports(path):
    """Yield ``(skae module or None, top-level package)`` of each import."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield None, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield None, (node.module or "").split(".")[0]
            elif path.parent != PACKAGE:  # inside skae.datasets
                continue
            elif node.module:
                yield node.module.split(".")[0], None
            else:  # from . import a, b
                for alias in node.names:
                    yield alias.name, None


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    named = {p.relative_to(PACKAGE).with_suffix("").parts[0] for p in MODULES}
    assert named - set(LAYER) == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_module_imports_from_a_layer_above(path):
    above = [
        module
        for module, _ in _imports(path)
        if module is not None and LAYER[module] > _layer(path)
    ]
    assert above == [], f"{path.name} (layer {_layer(path)}) imports {above}"


@pytest.mark.parametrize(
    "path", [p for p in MODULES if _layer(p) == 1], ids=lambda p: p.name
)
def test_numpy_layer_uses_no_torch(path):
    packages = {package for _, package in _imports(path)}
    assert not packages & {"torch", "skorch"}


def test_only_the_inference_module_and_training_run_the_network():
    # the fitted core and the estimators go through skae._inference; none of them
    # calls the module's forward or encoder themselves
    for name in ("_core", "_detector", "_encoder", "_streaming", "_persistence"):
        source = (PACKAGE / f"{name}.py").read_text()
        for call in ("module(", "module_(", ".encode(windows", ".encoder("):
            assert call not in source, f"{name}.py calls {call}"
