"""Bad input and bad parameters get clear errors that name the problem."""

import numpy as np
import pytest

from skae import LSTMAutoencoderDetector, SlidingWindowTransformer


def _detector(**params):
    defaults = dict(window_size=8, hidden_size=4, max_epochs=1, random_state=0)
    return LSTMAutoencoderDetector(**{**defaults, **params})


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    return _detector().fit(rng.normal(size=(120, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_fit_is_refused(bad):
    X = np.random.default_rng(0).normal(size=(100, 2))
    X[50, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        _detector().fit(X)


def test_nan_in_scored_data_is_refused(fitted):
    X = np.zeros((50, 3))
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.score_samples(X)


def test_wrong_number_of_dimensions():
    with pytest.raises(ValueError, match="2D array"):
        _detector().fit(np.zeros(100))
    with pytest.raises(ValueError, match="dimension"):
        _detector().fit(np.zeros((5, 20, 2, 2)))


def test_wrong_number_of_features(fitted):
    with pytest.raises(ValueError, match="3 features"):
        fitted.score_samples(np.zeros((50, 2)))
    with pytest.raises(ValueError, match="3 features"):
        fitted.score_samples(np.zeros((4, 20, 2)))


def test_series_shorter_than_a_window(fitted):
    with pytest.raises(ValueError, match="fewer than window_size=8"):
        fitted.score_samples(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="n_samples = 1"):
        _detector().fit(np.zeros((1, 3)))


def test_too_little_data_for_the_heldout_split():
    with pytest.raises(ValueError, match="Too little data for the held-out split"):
        _detector().fit(np.random.default_rng(0).normal(size=(20, 2)))
    with pytest.raises(ValueError, match="Too little data for the held-out split"):
        _detector().fit(np.zeros((1, 30, 2)) + np.arange(30)[None, :, None])


def test_non_numeric_data():
    X = np.array([["a", "b"]] * 50, dtype=object)
    with pytest.raises(ValueError, match="could not convert|numeric"):
        _detector().fit(X)


def test_ragged_lists_are_checked():
    good = np.ones((30, 2))
    with pytest.raises(ValueError, match="same number of features"):
        _detector().fit([good, np.ones((30, 3))])
    with pytest.raises(ValueError, match="Sequence 1"):
        _detector().fit([good, np.full((30, 2), np.nan)])
    with pytest.raises(ValueError, match="Sequence 1"):
        _detector().fit([good, np.ones((0, 2))])


def test_unfitted_detector_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        _detector().score_samples(np.zeros((50, 2)))


@pytest.mark.parametrize(
    "param, value",
    [
        ("window_size", 0),
        ("stride", -1),
        ("hidden_size", 2.5),
        ("validation_fraction", 1.0),
        ("validation_fraction", 0.0),
        ("contamination", 0.7),
        ("contamination", "high"),
        ("decoder_feed", "sideways"),
        ("lr", 0.0),
        ("n_sigmas", -1.0),
    ],
)
def test_bad_parameters_are_refused_at_fit(param, value):
    detector = _detector(**{param: value})  # __init__ never validates
    assert detector.get_params()[param] == value
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        detector.fit(np.random.default_rng(0).normal(size=(100, 2)))


def test_cuda_requested_without_gpu_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="CUDA is not available"):
        _detector(device="cuda").fit(np.random.default_rng(0).normal(size=(100, 2)))


def test_transformer_checks_its_input():
    transformer = SlidingWindowTransformer(window_size=10).fit(np.zeros((20, 2)))
    with pytest.raises(ValueError, match="fewer than window_size=10"):
        transformer.transform(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="values for 4 windows"):
        transformer.aggregate(np.zeros(4), n_timesteps=20)
