"""Sequence compression: latent codes from the detector and from the transformer."""

import numpy as np
import pytest
import torch
from conftest import tiny_detector, tiny_encoder, waves
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.pipeline import make_pipeline

from skae import SlidingWindowTransformer

# enough training steps on 30 to 40 short sequences for codes that tell kinds apart
TRAINED = {"max_epochs": 5, "lr": 1e-2, "batch_size": 8}


def _two_kinds(n_per_kind, seed):
    """Ragged sines of two periods and levels, interleaved, with their labels."""
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for i in range(2 * n_per_kind):
        kind = i % 2
        length = int(rng.integers(30, 61))
        t = np.arange(length)[:, None] + rng.uniform(0, 20)
        period, level = (6.0, 0.5) if kind == 0 else (24.0, -0.5)
        signal = np.c_[np.sin(2 * np.pi * t / period), np.cos(2 * np.pi * t / period)]
        noise = 0.1 * rng.standard_normal((length, 2))
        sequences.append(signal + level + noise)
        labels.append(kind)
    return sequences, np.array(labels)


@pytest.fixture(scope="module")
def series():
    return waves(300, periods=(20,), seed=1)


@pytest.fixture(scope="module")
def series_detector(series):
    return tiny_detector(window_size=12, stride=5).fit(series)


def test_encode_series_gives_one_code_per_window(series, series_detector):
    codes = series_detector.encode(series)
    windows = SlidingWindowTransformer(window_size=12, stride=5).fit_transform(series)
    assert codes.shape == (len(windows), 8)
    module = series_detector.net_.module_
    scaled = (windows - series_detector.mean_) / series_detector.scale_
    with torch.inference_mode():
        expected = module.encode(torch.as_tensor(scaled, dtype=torch.float32))
    np.testing.assert_allclose(codes, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_encode_ragged_and_3d_sequences():
    sequences, _ = _two_kinds(6, seed=0)
    detector = tiny_detector().fit(sequences)
    codes = detector.encode(sequences)
    assert codes.shape == (12, 8)
    # a sequence's code is its own, whichever others are encoded with it
    np.testing.assert_allclose(
        detector.encode(sequences[3:4])[0], codes[3], rtol=1e-5, atol=1e-6
    )
    equal = np.stack([s[:30] for s in sequences])
    np.testing.assert_allclose(
        detector.encode(equal),
        detector.encode([s[:30] for s in sequences]),
        rtol=1e-5,
        atol=1e-6,
    )


def test_codes_decode_to_the_reconstruction():
    """The code is the whole compressed form: decoding it gives reconstruct."""
    sequences, _ = _two_kinds(5, seed=2)
    X = np.stack([s[:30] for s in sequences])
    detector = tiny_detector().fit(X)
    codes = detector.encode(X)
    with torch.inference_mode():
        decoded = detector.net_.module_.decode(
            torch.as_tensor(codes, dtype=torch.float32), 30
        )
    decoded = decoded.numpy() * detector.scale_ + detector.mean_
    np.testing.assert_allclose(decoded, detector.reconstruct(X), rtol=1e-4, atol=1e-5)


def test_transformer_series_codes_are_trailing_windows_and_prefixes(series):
    encoder = tiny_encoder(window_size=12).fit(series)
    codes = encoder.transform(series)
    assert codes.shape == (300, 8)
    detector = encoder.detector_
    # step t >= window_size - 1: the code of the window ending at t
    window_codes = detector.encode(
        np.stack([series[s : s + 12] for s in range(0, 289, 48)])
    )
    np.testing.assert_allclose(
        codes[np.arange(0, 289, 48) + 11], window_codes, rtol=1e-5, atol=1e-6
    )
    # earlier steps: the code of the prefix up to them
    for t in (0, 4, 10):
        np.testing.assert_allclose(
            codes[t], detector.encode([series[: t + 1]])[0], rtol=1e-5, atol=1e-6
        )
    # a series shorter than a window still gets one code per step
    np.testing.assert_allclose(encoder.transform(series[:5]), codes[:5], atol=1e-6)
    assert list(encoder.get_feature_names_out()) == [
        f"lstmencodertransformer{i}" for i in range(8)
    ]


def test_pipeline_kmeans_clusters_ragged_sequences_by_shape():
    sequences, labels = _two_kinds(20, seed=3)
    pipe = make_pipeline(
        tiny_encoder(**TRAINED),
        KMeans(n_clusters=2, n_init=10, random_state=0),
    )
    clusters = pipe.fit_predict(sequences)
    assert adjusted_rand_score(labels, clusters) > 0.8


def test_pipeline_logistic_regression_classifies_sequences():
    sequences, labels = _two_kinds(20, seed=4)
    test_sequences, test_labels = _two_kinds(10, seed=5)
    pipe = make_pipeline(tiny_encoder(**TRAINED), LogisticRegression())
    pipe.fit(sequences, labels)
    assert pipe.score(test_sequences, test_labels) >= 0.9
    assert pipe[0].transform(test_sequences).shape == (20, 8)


def test_transformer_checks_its_input(series):
    encoder = tiny_encoder(window_size=12).fit(series)
    with pytest.raises(ValueError, match="features"):
        encoder.transform(np.zeros((20, 3)))
    with pytest.raises(ValueError, match="Sequence 1"):
        encoder.transform([np.zeros((5, 1)), np.array([[np.nan]])])


def test_transformer_validates_a_series_once_per_call(series, monkeypatch):
    import inspect

    import skae._validation

    calls = []
    validate_data = skae._validation.validate_data

    def counting(*args, **kwargs):
        calls.append(inspect.stack()[1].function)
        return validate_data(*args, **kwargs)

    monkeypatch.setattr(skae._validation, "validate_data", counting)
    encoder = tiny_encoder(window_size=8, hidden_size=3).fit(series)
    assert calls == ["check_series"]
    calls.clear()
    encoder.transform(series)
    assert calls == ["check_series"]
    # the detector inside knows the features without seeing X again
    assert encoder.detector_.n_features_in_ == series.shape[1]
