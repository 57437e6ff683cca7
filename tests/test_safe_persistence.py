"""The safe model format: JSON and safetensors in a zip, loaded without pickle."""

import copy
import json
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_detector, waves
from sklearn.exceptions import NotFittedError

import skae
from skae import LSTMAutoencoderDetector, _codec, load_model, save_model


@pytest.fixture(scope="module")
def fitted():
    # test_file_holds_only_json_and_safetensors reads window_size=8 back
    return tiny_detector(window_size=8).fit(waves(240))


@pytest.fixture
def saved(fitted, tmp_path):
    path = tmp_path / "model.skae"
    save_model(fitted, path)
    return path


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_members(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _rewrite_document(path, edit):
    """Apply ``edit`` to the parsed skae.json and rewrite it with valid digests, as
    someone who knows the format would."""
    members = _members(path)
    document = json.loads(members["skae.json"])
    edit(document)
    document["model_sha256"] = _codec.sha256(_codec.canonical(document["model"]))
    members["skae.json"] = _codec.canonical(document)
    _write_members(path, members)


def _assert_same_model(restored, original, X):
    np.testing.assert_array_equal(restored.score_samples(X), original.score_samples(X))
    np.testing.assert_array_equal(restored.predict(X), original.predict(X))
    np.testing.assert_array_equal(restored.encode(X), original.encode(X))
    assert restored.threshold_ == original.threshold_
    assert restored.offset_ == original.offset_
    assert restored.get_params() == original.get_params()
    np.testing.assert_array_equal(restored.heldout_errors_, original.heldout_errors_)
    assert restored.history_[:, "valid_loss"] == original.history_[:, "valid_loss"]


def test_round_trip_gives_identical_scores(fitted, saved):
    X = waves(150, seed=1)
    restored = load_model(saved)
    assert isinstance(restored, LSTMAutoencoderDetector)
    assert restored is not fitted
    _assert_same_model(restored, fitted, X)
    assert restored.net_.module_ is not fitted.net_.module_
    assert not restored.net_.module_.training


@pytest.mark.parametrize(
    "kind",
    [
        "dataframe",
        "sequences_3d",
        "ragged",
        "contamination",
        "state_feed",
        "mahalanobis",
    ],
)
def test_round_trip_of_other_inputs_and_parameters(kind, tmp_path):
    X = waves(200, periods=(40, 25, 16))
    params = {}
    if kind == "dataframe":
        X = pd.DataFrame(X, columns=["flow", "pressure", "temperature"])
    elif kind == "sequences_3d":
        X = X[:192].reshape(24, 8, 3)
    elif kind == "ragged":
        X = [X[i : i + 6 + i % 5] for i in range(0, 180, 12)]
    elif kind == "contamination":
        params["contamination"] = 0.05
    elif kind == "mahalanobis":
        params.update(anomaly_score="mahalanobis", noise_std=0.1)
    else:
        params.update(decoder_feed="state", num_layers=2)
    original = tiny_detector(**params).fit(X)
    save_model(original, tmp_path / "m.skae")
    restored = load_model(tmp_path / "m.skae")
    _assert_same_model(restored, original, X)
    if kind == "dataframe":
        np.testing.assert_array_equal(
            restored.feature_names_in_, original.feature_names_in_
        )
        assert restored.feature_names_in_.dtype == object
    if kind == "mahalanobis":
        np.testing.assert_array_equal(
            restored.error_precision_, original.error_precision_
        )
    if kind == "ragged":
        for a, b in zip(restored.reconstruct(X), original.reconstruct(X), strict=True):
            np.testing.assert_array_equal(a, b)


def test_file_holds_only_json_and_safetensors(saved):
    members = _members(saved)
    assert sorted(members) == ["skae.json", "weights.safetensors"]
    document = json.loads(members["skae.json"])
    assert document["format"] == "skae-model"
    assert document["format_version"] == _codec.FORMAT_VERSION
    model = document["model"]
    assert model["versions"]["skae"] == skae.__version__
    assert model["versions"]["torch"] == torch.__version__
    assert model["params"]["window_size"] == 8
    assert model["weights"]["sha256"] == _codec.sha256(members["weights.safetensors"])
    # safetensors: an 8-byte little-endian header length, then a JSON header
    header_length = int.from_bytes(members["weights.safetensors"][:8], "little")
    header = json.loads(members["weights.safetensors"][8 : 8 + header_length])
    assert "encoder.weight_ih_l0" in header


def test_loading_never_unpickles(saved, fitted, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_model unpickled something")

    class RefusingUnpickler:
        def __init__(self, *args, **kwargs):
            refuse()

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", RefusingUnpickler)
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(joblib, "load", refuse)
    X = waves(100, seed=2)
    np.testing.assert_array_equal(
        load_model(saved).score_samples(X), fitted.score_samples(X)
    )


class _Exploit:
    """Unpickling this creates the file ``marker``: code run by a model file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_malicious_pickle_files_are_refused_without_running_code(saved, tmp_path):
    marker = tmp_path / "code-ran"
    payload = pickle.dumps(_Exploit(marker))
    # sanity: unpickling the payload does run code
    pickle.loads(payload)
    assert marker.exists()
    marker.unlink()

    plain = tmp_path / "model.pkl"
    plain.write_bytes(payload)
    torch_file = tmp_path / "model.pt"
    torch.save({"weights": _Exploit(marker)}, torch_file)
    # a zip with the right names whose weights are a pickle (with a matching
    # digest), so that only the safetensors parser stands in the way
    disguised = tmp_path / "disguised.skae"
    _write_members(disguised, {**_members(saved), "weights.safetensors": payload})
    _rewrite_document(
        disguised,
        lambda doc: doc["model"]["weights"].update(sha256=_codec.sha256(payload)),
    )

    for path in (plain, torch_file, disguised):
        with pytest.raises(ValueError) as excinfo:
            load_model(path)
        assert str(path) in str(excinfo.value)
        assert not marker.exists(), f"loading {path.name} ran code"


def test_joblib_files_are_refused(fitted, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    with pytest.raises(ValueError, match="not a skae model file"):
        load_model(path)


def test_tampered_weights_are_refused(saved):
    members = _members(saved)
    weights = bytearray(members["weights.safetensors"])
    weights[-3] ^= 0x01  # one bit of one weight
    members["weights.safetensors"] = bytes(weights)
    _write_members(saved, members)
    with pytest.raises(ValueError, match="weights.safetensors does not match"):
        load_model(saved)


@pytest.mark.parametrize(
    "edit",
    [
        lambda doc: doc["model"]["fitted"].update(threshold_=1e9),
        lambda doc: doc["model"]["params"].update(window_size=9),
        lambda doc: doc["model"]["history"].pop(),
    ],
    ids=["threshold", "parameter", "history"],
)
def test_tampered_json_is_refused(saved, edit):
    members = _members(saved)
    document = json.loads(members["skae.json"])
    edit(document)
    members["skae.json"] = json.dumps(document).encode()
    _write_members(saved, members)
    with pytest.raises(ValueError, match="does not match its SHA-256"):
        load_model(saved)


def test_corrupted_bytes_are_refused(saved):
    data = bytearray(saved.read_bytes())
    middle = len(data) // 2  # inside the weights; the zip's CRC catches it
    data[middle] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_model(saved)


@pytest.mark.parametrize("keep", [0, 10, 0.5, 0.99])
def test_truncated_files_are_refused(saved, keep):
    data = saved.read_bytes()
    n_bytes = keep if isinstance(keep, int) else int(keep * len(data))
    saved.write_bytes(data[:n_bytes])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        load_model(saved)


def test_extra_or_compressed_members_are_refused(saved, tmp_path):
    members = _members(saved)
    extra = tmp_path / "extra.skae"
    _write_members(extra, {**members, "data.pkl": b"x"})
    with pytest.raises(ValueError, match="holds exactly"):
        load_model(extra)
    compressed = tmp_path / "compressed.skae"
    with zipfile.ZipFile(compressed, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match="compressed"):
        load_model(compressed)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda doc: doc.update(format_version=99), "upgrade skae"),
        (lambda doc: doc.update(format="other"), "not a skae model file"),
        (lambda doc: doc["model"]["params"].update(new_knob=1), "newer skae"),
        (lambda doc: doc["model"]["params"].update(window_size=-1), "window_size"),
        (lambda doc: doc["model"]["fitted"].update(hidden_size_=5), "do not fit"),
        (lambda doc: doc["model"]["fitted"].pop("threshold_"), "threshold_"),
        (lambda doc: doc["model"]["fitted"].update(scale_=[1.0]), "scale_"),
        (lambda doc: doc["model"].update({"class": "Pipeline"}), "Pipeline"),
        (
            lambda doc: doc["model"]["fitted"].update(
                mean_={"__ndarray__": [0, 0], "dtype": "|O", "shape": [2]}
            ),
            "malformed array",
        ),
    ],
    ids=[
        "newer-format",
        "other-format",
        "unknown-param",
        "invalid-param",
        "wrong-architecture",
        "missing-threshold",
        "bad-scale",
        "other-class",
        "object-dtype",
    ],
)
def test_consistent_but_invalid_content_is_refused(saved, edit, message):
    _rewrite_document(saved, edit)
    with pytest.raises(ValueError, match=message):
        load_model(saved)


def test_a_model_saved_after_set_params_loads_as_fitted(fitted, tmp_path):
    detector = copy.deepcopy(fitted).set_params(hidden_size=16, num_layers=2)
    save_model(detector, tmp_path / "m.skae")
    restored = load_model(tmp_path / "m.skae")
    assert (restored.hidden_size, restored.num_layers) == (16, 2)
    assert (restored.hidden_size_, restored.num_layers_) == (fitted.hidden_size, 1)
    X = waves(100, seed=2)
    np.testing.assert_array_equal(restored.score_samples(X), fitted.score_samples(X))
    np.testing.assert_array_equal(restored.predict(X), fitted.predict(X))


def test_model_trained_on_gpu_loads_on_cpu(saved, fitted, monkeypatch):
    _rewrite_document(saved, lambda doc: doc["model"]["fitted"].update(device_="cuda"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = load_model(saved)
    assert restored.device_ == "cuda"  # where it was trained
    assert next(restored.net_.module_.parameters()).device.type == "cpu"
    X = waves(100, seed=3)
    np.testing.assert_array_equal(restored.score_samples(X), fitted.score_samples(X))
    with pytest.raises(ValueError, match="CUDA is not available"):
        load_model(saved, device="cuda")


def test_loading_leaves_the_global_random_generator_alone(saved):
    state = torch.random.get_rng_state()
    load_model(saved)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_saving_checks_its_input(tmp_path):
    with pytest.raises(NotFittedError):
        save_model(tiny_detector(), tmp_path / "m.skae")
    with pytest.raises(TypeError, match="LSTMAutoencoderDetector"):
        save_model(object(), tmp_path / "m.skae")
    assert not list(tmp_path.iterdir())


def test_random_state_instance_is_saved_as_none(tmp_path):
    detector = tiny_detector(random_state=np.random.RandomState(0)).fit(waves(120))
    with pytest.warns(UserWarning, match="RandomState"):
        save_model(detector, tmp_path / "m.skae")
    assert load_model(tmp_path / "m.skae").random_state is None


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.skae")
