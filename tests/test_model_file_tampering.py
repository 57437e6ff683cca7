"""Forged model files: valid zips with recomputed digests and hostile content.

The digests of a ``.skae`` file detect corruption, not a forger: anyone can edit
``skae.json`` (or the weights) and recompute them. Every file here is forged that
way, so only load_model's checks of the content stand between it and the network:
each must be refused with a ValueError naming the field, before any network is
built, or (when consistent) score exactly as its stored weights say.
"""

import copy
import hashlib
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import allocated_bytes, tiny_detector, waves
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from skae import (
    LSTMAutoencoder,
    _codec,
    _model_files,
    _training,
    load_model,
    save_model,
)

# ------------------------------------------------------------------- forging


def _canonical(obj):
    # the format's canonical JSON, written out here rather than imported, so that
    # the forger below knows the format only as its documentation states it
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def forge(source, target, edit=None, tensors=None):
    """Copy the model file ``source`` to ``target`` with ``edit(model)`` applied to
    skae.json's model dict and, given ``tensors`` (a dict or ``edit_tensors(dict)``),
    new weights; both digests are recomputed as save_model computes them."""
    with zipfile.ZipFile(source) as archive:
        document = json.loads(archive.read("skae.json"))
        weights = archive.read("weights.safetensors")
    if callable(tensors):
        state = {k: v.clone() for k, v in load_tensors(weights).items()}
        edited = tensors(state)
        tensors = state if edited is None else edited
    if tensors is not None:
        weights = save_tensors(tensors)
        document["model"]["weights"]["sha256"] = _sha256(weights)
    if edit is not None:
        edit(document["model"])
    document["model_sha256"] = _sha256(_canonical(document["model"]).encode())
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("skae.json", _canonical(document).encode())
        archive.writestr("weights.safetensors", weights)
    return target


def fitted(**values):
    return lambda model: model["fitted"].update(values)


def params(**values):
    return lambda model: model["params"].update(values)


def drop(name, part="fitted"):
    return lambda model: model[part].pop(name)


def both(*edits):
    def edit(model):
        for one in edits:
            one(model)

    return edit


def array(values, dtype="<f8", shape=None):
    shape = list(np.shape(values)) if shape is None else shape
    return {"__ndarray__": values, "dtype": dtype, "shape": shape}


NAN, INF, NEG_INF = ({"__float__": text} for text in ("nan", "inf", "-inf"))

# ------------------------------------------------------------------- fixtures


def _frame(n=200, seed=0):
    return pd.DataFrame(waves(n, seed=seed), columns=["flow", "pressure"])


# window 8 and hidden size 4: the corpus's score_stride_=9 lies above the window,
# and the huge-network test's file holds hidden 4 (tiny_detector fits on the CPU
# everywhere, so that exact comparisons hold on GPU machines too)
FORGED = dict(window_size=8, hidden_size=4)


@pytest.fixture(scope="module")
def plain():
    """A DataFrame model with names and a centred feature: most fields are set."""
    return tiny_detector(FORGED, centered_features=["pressure"]).fit(_frame())


@pytest.fixture(scope="module")
def gaussian():
    return tiny_detector(FORGED, anomaly_score="mahalanobis").fit(waves(200))


@pytest.fixture(scope="module")
def plain_file(plain, tmp_path_factory):
    path = tmp_path_factory.mktemp("plain") / "model.skae"
    save_model(plain, path)
    return path


@pytest.fixture(scope="module")
def gaussian_file(gaussian, tmp_path_factory):
    path = tmp_path_factory.mktemp("gaussian") / "model.skae"
    save_model(gaussian, path)
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if load_model gets as far as building a network."""

    def refuse(*args, **kwargs):
        raise AssertionError("a network was built for a file that is refused")

    build = torch.nn.LSTM.__init__

    def on_meta_only(self, *args, **kwargs):
        # the loader builds the network it expects on the meta device, where it
        # allocates nothing, to read the shapes of its weights
        build(self, *args, **kwargs)
        if any(p.device.type != "meta" for p in self.parameters()):
            refuse()

    monkeypatch.setattr(_training, "make_net", refuse)
    monkeypatch.setattr(torch.nn.LSTM, "__init__", on_meta_only)


# What refusing a file may allocate (allocated_bytes: Python, NumPy and torch): a
# refusal measured 0.1 MB; the networks and arrays the hostile files below declare
# would take 400 MB to 6.4 GB.
MAX_REFUSAL_BYTES = 2**20


def _refused(path, match):
    with pytest.raises(ValueError, match=match) as excinfo:
        load_model(path)
    message = str(excinfo.value)
    # refused for its content: the forger's digests were right
    assert "SHA-256" not in message, message
    assert str(path) in message
    return message


def test_forge_writes_files_that_load(plain, plain_file, tmp_path):
    # without this, every refusal below could be a mere digest mismatch
    restored = load_model(forge(plain_file, tmp_path / "same.skae"))
    X = _frame(120, seed=3)
    np.testing.assert_array_equal(restored.score_samples(X), plain.score_samples(X))
    weights = forge(plain_file, tmp_path / "weights.skae", tensors=lambda s: None)
    np.testing.assert_array_equal(
        load_model(weights).score_samples(X), plain.score_samples(X)
    )


# ------------------------------------------------------------------- the corpus

# (id, edit of the model dict, what the message must name)
CORPUS = [
    ("threshold-string", fitted(threshold_="abc"), "threshold_"),
    ("threshold-list", fitted(threshold_=[1.0]), "threshold_"),
    ("threshold-none", fitted(threshold_=None), "threshold_"),
    ("threshold-nan", fitted(threshold_=NAN), "threshold_"),
    ("threshold-minus-inf", fitted(threshold_=NEG_INF), "threshold_"),
    ("threshold-inf", fitted(threshold_=INF), "threshold_"),
    ("threshold-int", fitted(threshold_=5), "threshold_"),
    ("threshold-negative", fitted(threshold_=-1.0, offset_=1.0), "threshold_"),
    ("threshold-array", fitted(threshold_=array([1.0])), "threshold_"),
    ("threshold-missing", drop("threshold_"), "threshold_"),
    ("offset-plus-5", fitted(offset_=5.0), "offset_"),
    ("offset-string", fitted(offset_="-1"), "offset_"),
    ("offset-nan", fitted(offset_=NAN), "offset_"),
    ("scale-zero", fitted(scale_=array([1.0, 0.0])), "scale_"),
    ("scale-minus-1", fitted(scale_=array([-1.0, -1.0])), "scale_"),
    ("scale-inf-in-list", fitted(scale_=array([INF, 1.0], shape=[2])), "scale_"),
    ("scale-float16-overflow", fitted(scale_=array([1e5, 1.0], "<f2")), "scale_"),
    ("scale-scalar-inf", fitted(scale_=INF), "scale_"),
    ("scale-plain-list", fitted(scale_=[1.0, 1.0]), "scale_"),
    ("mean-strings", fitted(mean_=array(["a", "b"], "object")), "mean_"),
    ("mean-unicode", fitted(mean_=array(["0", "0"], "<U1")), "mean_"),
    ("mean-wrong-length", fitted(mean_=array([0.0, 0.0, 0.0])), "mean_"),
    ("mean-2d", fitted(mean_=array([[0.0], [0.0]])), "mean_"),
    ("mean-nan-in-list", fitted(mean_=array([NAN, 0.0], shape=[2])), "mean_"),
    ("mean-bool", fitted(mean_=array([True, False], "|b1")), "mean_"),
    ("mean-int", fitted(mean_=array([0, 0], "<i8")), "mean_"),
    ("mean-malformed", fitted(mean_=array("ab", shape=[2])), "mean_"),
    ("mean-shape-lies", fitted(mean_=array([0.0, 0.0], shape=[10**9])), "mean_"),
    ("mean-subarray-dtype", fitted(mean_=array([0.0], "(1000000000,)f8")), "mean_"),
    ("stride-0", fitted(score_stride_=0), "score_stride_"),
    ("stride-negative", fitted(score_stride_=-2), "score_stride_"),
    ("stride-bool", fitted(score_stride_=True), "score_stride_"),
    ("stride-above-window", fitted(score_stride_=9), "score_stride_"),
    ("stride-float", fitted(score_stride_=2.0), "score_stride_"),
    ("stride-missing", drop("score_stride_"), "score_stride_"),
    ("device-meta", fitted(device_="meta"), "device_"),
    ("device-unknown", fitted(device_="tpu"), "device_"),
    ("device-bad-index", fitted(device_="cuda:x"), "device_"),
    ("device-padded", fitted(device_="cpu "), "device_"),
    ("device-int", fitted(device_=0), "device_"),
    ("n-features-bool", fitted(n_features_in_=True), "n_features_in_"),
    ("n-features-0", fitted(n_features_in_=0), "n_features_in_"),
    ("n-features-float", fitted(n_features_in_=2.0), "n_features_in_"),
    ("n-features-3", fitted(n_features_in_=3), "mean_"),
    ("heldout-nan", fitted(heldout_errors_=array([NAN, 1.0], shape=[2])), "heldout_"),
    ("heldout-int", fitted(heldout_errors_=array([1, 2], "<i8")), "heldout_errors_"),
    ("heldout-f4", fitted(heldout_errors_=array([1.0], "<f4")), "heldout_errors_"),
    ("heldout-empty", fitted(heldout_errors_=array([], shape=[0])), "heldout_errors_"),
    ("heldout-2d", fitted(heldout_errors_=array([[1.0]])), "heldout_errors_"),
    ("heldout-negative", fitted(heldout_errors_=array([-1.0])), "heldout_errors_"),
    ("heldout-missing", drop("heldout_errors_"), "heldout_errors_"),
    ("heldout-mean-string", fitted(heldout_mean_="1"), "heldout_mean_"),
    ("heldout-mean-nan", fitted(heldout_mean_=NAN), "heldout_mean_"),
    ("heldout-mean-inconsistent", fitted(heldout_mean_=123.0), "heldout_mean_"),
    ("heldout-std-negative", fitted(heldout_std_=-1.0), "heldout_std_"),
    ("heldout-std-inconsistent", fitted(heldout_std_=123.0), "heldout_std_"),
    ("centered-out-of-range", fitted(centered_features_=[5]), "centered_features_"),
    ("centered-negative", fitted(centered_features_=[-1]), "centered_features_"),
    ("centered-unsorted", fitted(centered_features_=[1, 0]), "centered_features_"),
    ("centered-repeated", fitted(centered_features_=[1, 1]), "centered_features_"),
    ("centered-bool", fitted(centered_features_=[True]), "centered_features_"),
    ("centered-name", fitted(centered_features_=["pressure"]), "centered_features_"),
    ("centered-string", fitted(centered_features_="1"), "centered_features_"),
    ("centered-missing", drop("centered_features_"), "centered_features_"),
    ("names-too-long", fitted(feature_names_in_=array(list("abc"), "object")), "names"),
    ("names-ints", fitted(feature_names_in_=array([1, 2], "<i8")), "feature_names_in_"),
    ("names-unicode", fitted(feature_names_in_=array(["a", "b"], "<U1")), "names_in_"),
    ("names-mixed", fitted(feature_names_in_=array(["a", 1], "object")), "names_in_"),
    ("unknown-attribute", fitted(made_up_=8), "made_up_"),
    ("smoothing-negative", fitted(score_smoothing_=-1), "score_smoothing_"),
    ("smoothing-float", fitted(score_smoothing_=8.5), "score_smoothing_"),
    ("score-kind-unknown", fitted(anomaly_score_="cosine"), "anomaly_score_"),
    ("window-zero", fitted(window_size_=0), "window_size_"),
    ("window-below-stride", fitted(window_size_=1), "score_stride_"),
    ("info-not-dict", fitted(threshold_info_="mu"), "threshold_info_"),
    ("info-nested", fitted(threshold_info_={"rule": {"a": 1}}), "threshold_info_"),
    ("net-attribute", fitted(net_=None), "net_"),
    ("history-attribute", fitted(history_=[]), "history_"),
    ("odd-attribute-name", fitted(Threshold=1.0), "Threshold"),
    ("error-mean-alone", fitted(error_mean_=array([0.0, 0.0])), "error_covariance_"),
    ("window-size-bool", params(window_size=True), "window_size"),
    ("hidden-size-bool", params(hidden_size=True), "hidden_size"),
    ("hidden-size-5000", fitted(hidden_size_=5000), "hidden_size"),
    ("hidden-size-huge", params(hidden_size=10**30), "hidden_size"),
    ("hidden-size-fitted-huge", fitted(hidden_size_=10**30), "hidden_size_"),
    ("hidden-size-fitted-bool", fitted(hidden_size_=True), "hidden_size_"),
    ("num-layers-2", fitted(num_layers_=2), "num_layers"),
    ("num-layers-huge", fitted(num_layers_=10**15), "num_layers"),
    ("num-layers-0", fitted(num_layers_=0), "num_layers_"),
    ("decoder-feed-state", fitted(decoder_feed_="state"), "decoder_feed"),
    ("decoder-feed-other", params(decoder_feed="other"), "decoder_feed"),
    ("decoder-feed-fitted-other", fitted(decoder_feed_="other"), "decoder_feed_"),
    # a file without the fitted architecture is read by its parameters
    (
        "architecture-by-params",
        both(drop("hidden_size_"), params(hidden_size=5000)),
        "hidden_size",
    ),
    ("standardize-int", params(standardize=1), "standardize"),
    ("random-state-bool", params(random_state=True), "random_state"),
    ("device-param-meta", params(device="meta"), "device"),
    ("n-threads-huge", params(n_threads=100_000), "n_threads"),
    ("centered-param-nested", params(centered_features=[[1, [2]]]), "centered_f"),
    ("mahalanobis-without-gaussian", fitted(anomaly_score_="mahalanobis"), "error_"),
    (
        "flatline-reference-alone",
        drop("flatline_weight_"),
        "flatline_weight_",
    ),
    (
        "flatline-reference-shape",
        fitted(flatline_reference_=array([0.1, 0.2, 0.3]), flatline_weight_=1.0),
        "flatline_reference_",
    ),
    (
        "flatline-reference-negative",
        fitted(flatline_reference_=array([-0.1, 0.2]), flatline_weight_=1.0),
        "flatline_reference_",
    ),
    (
        "flatline-weight-negative",
        fitted(flatline_reference_=array([0.1, 0.2]), flatline_weight_=-1.0),
        "flatline_weight_",
    ),
    ("flatline-weight-alone", drop("flatline_reference_"), "flatline_reference_"),
    ("param-missing", drop("window_size", "params"), "window_size"),
    ("param-unknown", params(new_knob=1), "new_knob"),
    ("history-not-dicts", lambda m: m.update(history=[1, 2]), "history"),
    ("history-nested", lambda m: m.update(history=[{"a": [[[[1]]]]}]), "history"),
    ("history-array", lambda m: m.update(history=[{"a": array([1.0])}]), "history"),
    ("history-string", lambda m: m.update(history="epochs"), "history"),
]


@pytest.mark.parametrize(
    ("edit", "match"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS]
)
def test_forged_content_is_refused_naming_the_field(
    edit, match, plain_file, tmp_path, no_network
):
    _refused(forge(plain_file, tmp_path / "forged.skae", edit), match)


def _eigen_negative(model):
    entry = model["fitted"]["error_precision_"]
    entry["__ndarray__"][0][0] = -abs(entry["__ndarray__"][0][0])


def _asymmetric(model):
    entry = model["fitted"]["error_precision_"]
    entry["__ndarray__"][0][1] += 1.0


GAUSSIAN_CORPUS = [
    ("mean-wrong-shape", fitted(error_mean_=array([0.0, 0.0, 0.0])), "error_mean_"),
    ("mean-negative", fitted(error_mean_=array([-1.0, 0.0])), "error_mean_"),
    ("mean-nan", fitted(error_mean_=NAN), "error_mean_"),
    ("covariance-1d", fitted(error_covariance_=array([1.0, 1.0])), "covariance_"),
    ("covariance-3x3", fitted(error_covariance_=array(np.eye(3).tolist())), "cova"),
    ("precision-strings", fitted(error_precision_="eye"), "error_precision_"),
    ("precision-asymmetric", _asymmetric, "error_precision_"),
    ("precision-indefinite", _eigen_negative, "error_precision_"),
    ("precision-missing", drop("error_precision_"), "error_precision_"),
]


@pytest.mark.parametrize(
    ("edit", "match"),
    [c[1:] for c in GAUSSIAN_CORPUS],
    ids=[c[0] for c in GAUSSIAN_CORPUS],
)
def test_forged_gaussian_is_refused_naming_the_field(
    edit, match, gaussian_file, tmp_path, no_network
):
    _refused(forge(gaussian_file, tmp_path / "forged.skae", edit), match)


# ------------------------------------------------------------------- weights


def _scaled_head(state):
    state["head.weight"] = state["head.weight"].double()


def _nan_weight(state):
    state["head.bias"][0] = float("nan")


def _mask_flipped(state):
    state["center_mask"] = 1.0 - state["center_mask"]


def _extra(state):
    state["extra"] = torch.zeros(1)


def _renamed(state):
    state["head.bias2"] = state.pop("head.bias")


def _transposed(state):
    state["head.weight"] = state["head.weight"].T.contiguous()


WEIGHTS_CORPUS = [
    ("float64", _scaled_head, "float32"),
    ("nan", _nan_weight, "NaN"),
    ("center-mask", _mask_flipped, "center_mask"),
    ("extra-tensor", _extra, "tensors"),
    ("renamed-tensor", _renamed, "head.bias"),
    ("transposed", _transposed, "head.weight"),
    ("no-tensors", lambda state: {}, "tensors"),
]


@pytest.mark.parametrize(
    ("edit_tensors", "match"),
    [c[1:] for c in WEIGHTS_CORPUS],
    ids=[c[0] for c in WEIGHTS_CORPUS],
)
def test_forged_weights_are_refused_before_building_a_network(
    edit_tensors, match, plain_file, tmp_path, no_network
):
    path = forge(plain_file, tmp_path / "forged.skae", tensors=edit_tensors)
    message = _refused(path, match)
    assert "do not fit" in message


@pytest.mark.parametrize("hidden_size", [5000, 20000])
def test_huge_declared_network_fails_fast_without_allocating(
    hidden_size, plain_file, tmp_path, no_network
):
    """hidden_size=20000 would be a 6.4 GB network; the 8 KB file holds hidden 4."""
    path = forge(plain_file, tmp_path / "huge.skae", fitted(hidden_size_=hidden_size))
    assert path.stat().st_size < 20_000
    messages = []
    # the network would take 400 MB or 6.4 GB; refusing it takes about 0.1 MB
    assert allocated_bytes(lambda: messages.append(_refused(path, "hidden_size"))) < (
        MAX_REFUSAL_BYTES
    )
    assert "weights do not fit" in messages[-1]


@pytest.mark.parametrize(
    "architecture",
    [dict(hidden_size=5000), dict(num_layers=2), dict(decoder_feed="state")],
    ids=["hidden-size", "num-layers", "decoder-feed"],
)
def test_the_parameters_do_not_shape_the_network(
    plain, plain_file, tmp_path, architecture
):
    """The fitted architecture does: parameters set after fit wait for the next fit."""
    restored = load_model(
        forge(plain_file, tmp_path / "set.skae", params(**architecture))
    )
    assert restored.get_params()[next(iter(architecture))] == next(
        iter(architecture.values())
    )
    X = _frame(100, seed=2)
    np.testing.assert_array_equal(restored.score_samples(X), plain.score_samples(X))


# ------------------------------------------------------------------- other limits


def test_non_finite_json_numbers_are_refused(plain_file, tmp_path, no_network):
    # 1e999 parses as infinity; a forger can write it, but not digest it canonically
    with zipfile.ZipFile(plain_file) as archive:
        text = archive.read("skae.json").decode()
        weights = archive.read("weights.safetensors")
    value = json.loads(text)["model"]["fitted"]["threshold_"]
    path = tmp_path / "inf.skae"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("skae.json", text.replace(repr(value), "1e999", 1))
        archive.writestr("weights.safetensors", weights)
    with pytest.raises(ValueError, match="out of range"):
        load_model(path)


def test_wide_string_dtypes_do_not_allocate(plain_file, tmp_path, no_network):
    # 10 one-letter strings as <U100000000 would take 4 GB
    edit = params(centered_features=array(["a"] * 10, "<U100000000"))
    path = forge(plain_file, tmp_path / "wide.skae", edit)
    refusal = allocated_bytes(lambda: _refused(path, "centered_features.*too wide"))
    assert refusal < MAX_REFUSAL_BYTES


@pytest.mark.parametrize("device", ["meta", "cuda:x", "tpu", 0, ""])
def test_the_device_argument_is_checked(plain_file, device):
    with pytest.raises(ValueError, match="device"):
        load_model(plain_file, device=device)


def test_device_argument_accepts_torch_devices(plain, plain_file):
    restored = load_model(plain_file, device=torch.device("cpu"))
    X = _frame(100, seed=4)
    np.testing.assert_array_equal(restored.score_samples(X), plain.score_samples(X))


@pytest.mark.parametrize("trained_on", ["mps", "cuda:3"])
def test_models_trained_on_a_missing_device_load_on_cpu(
    trained_on, plain, plain_file, tmp_path, monkeypatch
):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    path = forge(plain_file, tmp_path / "device.skae", fitted(device_=trained_on))
    restored = load_model(path)
    assert restored.device_ == trained_on
    assert next(restored.net_.module_.parameters()).device.type == "cpu"
    X = _frame(100, seed=5)
    np.testing.assert_array_equal(restored.score_samples(X), plain.score_samples(X))


def test_saving_refuses_fitted_attributes_the_format_does_not_know(plain, tmp_path):
    detector = copy.deepcopy(plain)
    detector.calibration_ = 1.0
    with pytest.raises(TypeError, match="calibration_"):
        save_model(detector, tmp_path / "m.skae")


def test_every_fitted_attribute_of_fit_has_a_line(plain, gaussian):
    for detector in (plain, gaussian):
        names = {n for n in vars(detector) if _model_files.FITTED_NAME.match(n)}
        assert names - {"net_", "history_"} <= set(_model_files.FITTED)


# ------------------------------------------------------------------- valid forgeries


def test_consistent_forgery_scores_exactly_as_its_stored_weights(
    plain, plain_file, tmp_path
):
    """A forger who keeps every field consistent gets a detector that scores as
    the file says: here a shifted head and a new threshold."""

    def shift_head(state):
        state["head.bias"] += 0.25

    path = forge(
        plain_file,
        tmp_path / "forged.skae",
        fitted(threshold_=0.5, offset_=-0.5),
        tensors=shift_head,
    )
    restored = load_model(path)

    expected = copy.deepcopy(plain)
    with torch.no_grad():
        expected.net_.module_.head.bias += 0.25
    expected.threshold_, expected.offset_ = 0.5, -0.5
    X = _frame(150, seed=6)
    scores = restored.score_samples(X)
    np.testing.assert_array_equal(scores, expected.score_samples(X))
    assert not np.array_equal(scores, plain.score_samples(X))
    np.testing.assert_array_equal(restored.predict(X), expected.predict(X))


def test_consistent_forgery_of_another_architecture_scores_as_stored(
    plain, plain_file, tmp_path
):
    torch.manual_seed(1)
    module = LSTMAutoencoder(2, 3, 1, 0.0, "state", [1]).eval()
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    path = forge(
        plain_file,
        tmp_path / "forged.skae",
        fitted(hidden_size_=3, decoder_feed_="state"),
        tensors=state,
    )
    restored = load_model(path)

    expected = copy.deepcopy(plain).set_params(hidden_size=3, decoder_feed="state")
    expected.net_.module_ = module
    X = _frame(120, seed=7)
    np.testing.assert_array_equal(restored.score_samples(X), expected.score_samples(X))
    for name, tensor in restored.net_.module_.state_dict().items():
        assert torch.equal(tensor, state[name]), name


def test_the_cap_on_string_dtypes_leaves_numeric_arrays_alone():
    # the held-out errors of a long series are millions of float64 values
    entry = array([0.5] * 3_000_000)
    assert _codec.decode_array(entry, "heldout_errors_").shape == (3_000_000,)


def test_bools_load_where_parameters_take_them(plain_file, tmp_path):
    path = forge(plain_file, tmp_path / "bools.skae", params(verbose=True))
    assert load_model(path).verbose is True
