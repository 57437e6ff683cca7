"""Model files from a hostile user (issue 22, items 2 and 7).

A ``.skae`` file that never ends (a link to ``/dev/zero``), that is a pipe or is
too large is refused before it is read; zip headers that ask for a feature a skae
file never uses (encryption, a newer zip version) are a ValueError naming the
file; and values that are finite and consistent, yet no fit writes (a ``scale_``
far below what ``fit`` divides by, weights large enough to overflow), are refused
naming the field. ``skae score`` reports each on one line.
"""

import hashlib
import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_detector, waves
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from skae import _codec, load_model, save_model
from skae.cli import main

# ------------------------------------------------------------------ helpers


def _canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _forge(source, target, fitted=None, params=None, tensors=None):
    """Copy ``source`` with fitted values, parameters or weights replaced, and
    both digests recomputed, as someone who knows the format would."""
    with zipfile.ZipFile(source) as archive:
        document = json.loads(archive.read("skae.json"))
        weights = archive.read("weights.safetensors")
    model = document["model"]
    model["fitted"].update(fitted or {})
    model["params"].update(params or {})
    if tensors is not None:
        state = {name: t.clone() for name, t in load_tensors(weights).items()}
        tensors(state)
        weights = save_tensors(state)
        model["weights"]["sha256"] = hashlib.sha256(weights).hexdigest()
    document["model_sha256"] = hashlib.sha256(_canonical(model).encode()).hexdigest()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("skae.json", _canonical(document).encode())
        archive.writestr("weights.safetensors", weights)
    return target


def _floats(values):
    return {"__ndarray__": list(values), "dtype": "<f8", "shape": [len(values)]}


def _patch_zip_headers(path, flags=0, version=None):
    """Set general-purpose flag bits (and the version needed to extract) in every
    local and central header of the zip at ``path``: what a hex editor does."""
    data = bytearray(path.read_bytes())
    end = data.rindex(b"PK\x05\x06")
    count, _, position = struct.unpack_from("<HII", data, end + 10)
    for _ in range(count):
        assert data[position : position + 4] == b"PK\x01\x02"
        local = struct.unpack_from("<I", data, position + 42)[0]
        assert data[local : local + 4] == b"PK\x03\x04"
        # (header, offset of its "version needed", offset of its flags)
        for header, version_at in ((position, 6), (local, 4)):
            flag_at = version_at + 2
            old = struct.unpack_from("<H", data, header + flag_at)[0]
            struct.pack_into("<H", data, header + flag_at, old | flags)
            if version is not None:
                struct.pack_into("<H", data, header + version_at, version)
        lengths = struct.unpack_from("<HHH", data, position + 28)
        position += 46 + sum(lengths)
    path.write_bytes(bytes(data))
    return path


def _frame(n=200, seed=0):
    return pd.DataFrame(waves(n, seed=seed), columns=["flow", "pressure"])


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    detector = tiny_detector(window_size=8, hidden_size=4).fit(_frame())
    path = tmp_path_factory.mktemp("model") / "model.skae"
    save_model(detector, path)
    return path


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("series") / "series.csv"
    _frame(120, seed=1).to_csv(path, index=False)
    return path


def _score(capsys, model, series, tmp_path):
    status = main(["score", str(model), str(series), "--out", str(tmp_path / "o.csv")])
    captured = capsys.readouterr()
    return status, captured.err


def _one_line_error(status, err):
    assert status == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("skae: error: "), err
    return lines[0]


# ------------------------------------------ item 2: files that never end, or huge

_LOAD_EACH = textwrap.dedent(
    """
    import resource, sys
    # a load that reads a never-ending file fails here instead of filling memory
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    import skae
    for path in sys.argv[1:]:
        try:
            skae.load_model(path)
        except ValueError as error:
            print("ValueError:", error)
    """
)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_or_a_pipe_is_refused_before_anything_is_read(tmp_path):
    zero = tmp_path / "zero.skae"
    zero.symlink_to("/dev/zero")
    pipe = tmp_path / "pipe.skae"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer forever
    # in a subprocess with little memory, so that a load that reads on cannot
    # take the machine's memory, and one that waits is stopped by the timeout
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_EACH, str(zero), str(pipe)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    zero_error, pipe_error = result.stdout.strip().splitlines()
    assert zero_error.startswith(f"ValueError: {zero} is not a regular file")
    assert "character device" in zero_error
    assert pipe_error.startswith(f"ValueError: {pipe} is not a regular file")
    assert "pipe" in pipe_error


def test_a_file_larger_than_the_limit_is_refused(model_file, tmp_path, monkeypatch):
    size = model_file.stat().st_size
    monkeypatch.setattr(_codec, "MAX_FILE_BYTES", size)
    load_model(model_file)  # the limit itself is allowed
    monkeypatch.setattr(_codec, "MAX_FILE_BYTES", size - 1)
    with pytest.raises(ValueError, match=f"holds {size:,} bytes") as error:
        load_model(model_file)
    assert "MAX_FILE_BYTES" in str(error.value) and str(model_file) in str(error.value)
    # and save_model does not write a file that load_model would refuse
    monkeypatch.setattr(_codec, "MAX_FILE_BYTES", size)
    detector = load_model(model_file)
    monkeypatch.setattr(_codec, "MAX_FILE_BYTES", size // 2)
    with pytest.raises(ValueError, match="MAX_FILE_BYTES"):
        save_model(detector, tmp_path / "big.skae")
    assert not list(tmp_path.iterdir())


def test_skae_score_names_a_model_that_is_not_a_regular_file(
    series_csv, tmp_path, capsys
):
    zero = tmp_path / "zero.skae"
    zero.symlink_to("/dev/zero")
    error = _one_line_error(*_score(capsys, zero, series_csv, tmp_path))
    assert "no such" not in error
    assert str(zero) in error and "not a regular file" in error
    assert "character device" in error


# ------------------------------------------------ item 7: zip features and forgeries


@pytest.mark.parametrize(
    ("flags", "version", "message"),
    [
        (0x01, None, "is encrypted"),  # zipfile: RuntimeError, password required
        (0x40, None, "flags"),  # strong encryption: NotImplementedError
        (0x20, None, "flags"),  # patched data: NotImplementedError
        (0, 99, "zip file version 9.9"),  # an unknown zip version: NotImplementedError
    ],
    ids=["encrypted", "strong-encryption", "patched-data", "zip-version"],
)
def test_zip_features_no_skae_file_uses_are_a_value_error(
    model_file, tmp_path, flags, version, message
):
    path = tmp_path / "odd.skae"
    path.write_bytes(model_file.read_bytes())
    _patch_zip_headers(path, flags, version)
    with pytest.raises(ValueError, match=message) as error:
        load_model(path)
    assert str(path) in str(error.value)


def test_skae_score_reports_an_encrypted_model_in_one_line(
    model_file, series_csv, tmp_path, capsys
):
    path = tmp_path / "locked.skae"
    path.write_bytes(model_file.read_bytes())
    _patch_zip_headers(path, flags=0x01)
    error = _one_line_error(*_score(capsys, path, series_csv, tmp_path))
    assert str(path) in error and "encrypted" in error


@pytest.mark.parametrize(
    ("fitted", "params", "message"),
    [
        # the mean of a feature far beyond its spread: fit would have called the
        # feature constant and divided by its magnitude
        ({"mean_": _floats([1e300, 0.0])}, {}, r"scale_ must be > 0 and at least"),
        ({"scale_": _floats([1e-300, 0.7])}, {}, r"scale_ must be > 0 and at least"),
        ({"mean_": _floats([0.5, 0.0])}, {"standardize": False}, "standardize=False"),
    ],
    ids=["huge-mean", "tiny-scale", "unstandardized"],
)
def test_a_scaling_no_fit_writes_is_refused_naming_the_field(
    model_file, tmp_path, fitted, params, message
):
    if params.get("standardize") is False:
        fitted = {**fitted, "scale_": _floats([1.0, 1.0])}
    path = _forge(model_file, tmp_path / "forged.skae", fitted, params)
    with pytest.raises(ValueError, match=message) as error:
        load_model(path)
    assert str(path) in str(error.value) and "SHA-256" not in str(error.value)


@pytest.mark.parametrize(
    ("column", "standardize"),
    [(np.full(200, 7.0), True), (np.full(200, 3e13), True), (None, False)],
    ids=["constant", "huge-constant", "unstandardized"],
)
def test_scalings_fit_writes_still_load(tmp_path, column, standardize):
    X = _frame()
    if column is not None:
        X["flow"] = column
    detector = tiny_detector(window_size=8, hidden_size=4, standardize=standardize)
    detector.fit(X)
    save_model(detector, tmp_path / "m.skae")
    restored = load_model(tmp_path / "m.skae")
    np.testing.assert_array_equal(restored.scale_, detector.scale_)
    np.testing.assert_array_equal(restored.score_samples(X), detector.score_samples(X))


def _scale_tensor(name, factor):
    def edit(state):
        state[name] *= factor

    return edit


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        # finite float32 weights whose products overflow: NaN or inf scores
        (_scale_tensor("encoder.weight_ih_l0", 1e37), "encoder layer 0"),
        (_scale_tensor("decoder.weight_hh_l0", 1e38), "decoder layer 0"),
        # a head that reconstructs values no scaled data reaches: absurd scores
        (_scale_tensor("head.bias", 1e33), "'head.weight' and 'head.bias'"),
    ],
    ids=["encoder", "decoder", "head"],
)
def test_weights_that_would_overflow_are_refused_naming_them(
    model_file, tmp_path, tensors, message
):
    path = _forge(model_file, tmp_path / "forged.skae", tensors=tensors)
    with pytest.raises(ValueError, match=message) as error:
        load_model(path)
    assert str(path) in str(error.value) and "weights.safetensors" in str(error.value)


def test_a_scoring_failure_from_the_model_file_names_it(
    model_file, series_csv, tmp_path, capsys
):
    # a spread of 1e-300 around 0 is what fit writes for a feature of values near
    # 1e-300, so the loader keeps it; the series then lies 1e300 spreads away
    path = _forge(
        model_file,
        tmp_path / "tiny.skae",
        {"mean_": _floats([0.0, 0.0]), "scale_": _floats([1e-300, 1e-300])},
    )
    load_model(path)
    error = _one_line_error(*_score(capsys, path, series_csv, tmp_path))
    assert str(path) in error and "scale_" in error
    assert "every value" in error  # not one corrupt cell of the series
