"""Bad input and bad parameters get clear errors that name the problem."""

import numpy as np
import pytest
from conftest import tiny_detector

from skae import SlidingWindowTransformer

# the inputs below are sized for these (window 8: the messages name it)
SMALL = dict(window_size=8, hidden_size=4, max_epochs=1)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    return tiny_detector(SMALL).fit(rng.normal(size=(120, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_fit_is_refused(bad):
    X = np.random.default_rng(0).normal(size=(100, 2))
    X[50, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        tiny_detector(SMALL).fit(X)


def test_nan_in_scored_data_is_refused(fitted):
    X = np.zeros((50, 3))
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.score_samples(X)


def test_wrong_number_of_dimensions():
    with pytest.raises(ValueError, match="2D array"):
        tiny_detector(SMALL).fit(np.zeros(100))
    with pytest.raises(ValueError, match="dimension"):
        tiny_detector(SMALL).fit(np.zeros((5, 20, 2, 2)))


def test_wrong_number_of_features(fitted):
    with pytest.raises(ValueError, match="3 features"):
        fitted.score_samples(np.zeros((50, 2)))
    with pytest.raises(ValueError, match="3 features"):
        fitted.score_samples(np.zeros((4, 20, 2)))


def test_series_shorter_than_a_window(fitted):
    with pytest.raises(ValueError, match="fewer than window_size=8"):
        fitted.score_samples(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="n_samples = 1"):
        tiny_detector(SMALL).fit(np.zeros((1, 3)))


def test_too_little_data_for_the_heldout_split():
    with pytest.raises(ValueError, match="Too little data for the held-out split"):
        tiny_detector(SMALL).fit(np.random.default_rng(0).normal(size=(20, 2)))
    with pytest.raises(ValueError, match="Too little data for the held-out split"):
        tiny_detector(SMALL).fit(np.zeros((1, 30, 2)) + np.arange(30)[None, :, None])


def test_non_numeric_data():
    X = np.array([["a", "b"]] * 50, dtype=object)
    with pytest.raises(ValueError, match="could not convert|numeric"):
        tiny_detector(SMALL).fit(X)


def test_ragged_lists_are_checked():
    good = np.ones((30, 2))
    with pytest.raises(ValueError, match="same number of features"):
        tiny_detector(SMALL).fit([good, np.ones((30, 3))])
    with pytest.raises(ValueError, match="Sequence 1"):
        tiny_detector(SMALL).fit([good, np.full((30, 2), np.nan)])
    with pytest.raises(ValueError, match="Sequence 1"):
        tiny_detector(SMALL).fit([good, np.ones((0, 2))])


def test_unfitted_detector_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        tiny_detector(SMALL).score_samples(np.zeros((50, 2)))


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
    detector = tiny_detector(SMALL, **{param: value})  # __init__ never validates
    assert detector.get_params()[param] == value
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        detector.fit(np.random.default_rng(0).normal(size=(100, 2)))


def test_cuda_requested_without_gpu_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="CUDA is not available"):
        tiny_detector(SMALL, device="cuda").fit(
            np.random.default_rng(0).normal(size=(100, 2))
        )


def test_transformer_checks_its_input():
    transformer = SlidingWindowTransformer(window_size=10).fit(np.zeros((20, 2)))
    with pytest.raises(ValueError, match="fewer than window_size=10"):
        transformer.transform(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="values for 4 windows"):
        transformer.aggregate(np.zeros(4), n_timesteps=20)


# ------------------------------------------------- issue 12, item 6: clear errors


@pytest.mark.parametrize(
    "param", ["window_size", "hidden_size", "max_epochs", "n_sigmas", "lr"]
)
def test_booleans_are_not_numbers(param):
    # before: True satisfied Interval(Integral, ...) and was taken as 1
    with pytest.raises(ValueError, match=f"'{param}' parameter.*Got True"):
        tiny_detector(SMALL, **{param: True}).fit(
            np.random.default_rng(0).normal(size=(100, 2))
        )


def test_booleans_are_not_numbers_in_the_transformers():
    from skae import LSTMEncoderTransformer

    with pytest.raises(ValueError, match="'stride' parameter.*Got True"):
        SlidingWindowTransformer(stride=True).fit(np.zeros((20, 2)))
    with pytest.raises(ValueError, match="'hidden_size' parameter.*Got False"):
        LSTMEncoderTransformer(hidden_size=False).fit(np.zeros((20, 2)))


@pytest.mark.parametrize("device", ["foo", "", "xpu", "cuda:x"])
def test_unknown_device_is_a_clear_error(device):
    # before: torch.device("foo") raised a RuntimeError from deep inside torch
    with pytest.raises(ValueError, match=rf"device='{device}'.*\"cpu\", \"cuda\""):
        tiny_detector(SMALL, device=device).fit(
            np.random.default_rng(0).normal(size=(100, 2))
        )


@pytest.mark.parametrize("kind", ["category", "datetime", "timedelta", "strings"])
def test_dataframe_column_of_the_wrong_kind_is_named(kind):
    pd = pytest.importorskip("pandas")
    n = 60
    columns = {
        "category": pd.Categorical([1.0, 2.0] * (n // 2)),
        "datetime": pd.date_range("2024-01-01", periods=n, freq="h"),
        "timedelta": pd.to_timedelta(np.arange(n), unit="s"),
        "strings": ["a", "b"] * (n // 2),
    }
    X = pd.DataFrame({"level": np.arange(n, dtype=float), "odd": columns[kind]})
    before = X.copy()
    # before: a numeric category was silently used as a number; a datetime
    # column failed with numpy's DTypePromotionError
    with pytest.raises(ValueError, match="Column 'odd' of X"):
        tiny_detector(SMALL).fit(X)
    pd.testing.assert_frame_equal(X, before)


def test_list_of_1d_arrays_is_refused():
    rng = np.random.default_rng(0)
    # before: read as a series of 4 rows ("fewer than window_size"), or with
    # equal lengths silently as one series with 30 features
    for lengths in ([30, 40, 35, 50], [30, 30, 30, 30]):
        X = [rng.normal(size=n) for n in lengths]
        with pytest.raises(ValueError, match=r"list of 4 1-D arrays.*reshape"):
            tiny_detector(SMALL).fit(X)
    # lists of rows (lists of numbers) stay one series
    rows = rng.normal(size=(60, 2)).tolist()
    assert tiny_detector(SMALL).fit(rows).n_features_in_ == 2


def test_masked_array_is_refused_not_silently_unmasked():
    X = np.random.default_rng(0).normal(size=(100, 2))
    masked = np.ma.masked_array(X, mask=X > 1.5)
    # before: the mask was dropped and the masked values trained the model
    with pytest.raises(ValueError, match="masked array with .* masked value"):
        tiny_detector(SMALL).fit(masked)
    with pytest.raises(ValueError, match="sequence 1 is a masked array"):
        tiny_detector(SMALL).fit(
            [X[:50], np.ma.masked_array(X[50:], mask=X[50:] > 1.5)]
        )
    with pytest.raises(ValueError, match="masked array"):
        tiny_detector(SMALL).fit(np.ma.masked_array(X.reshape(4, 25, 2), mask=True))
    assert np.ma.count_masked(masked) > 0  # the caller's mask is kept
    # a masked array with nothing masked loses nothing
    tiny_detector(SMALL).fit(np.ma.masked_array(X))
