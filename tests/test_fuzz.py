"""Property-based tests: every input either scores cleanly or is refused clearly.

For any input, a call returns finite scores of the right shape or raises a
``ValueError``/``TypeError`` with a message; it never returns NaN, never raises
anything else, and inputs that are valid must be accepted. Each test draws at most
``SKAE_FUZZ_EXAMPLES`` examples (30 by default) from a derandomised profile, so CI
runs the same examples every time; ``SKAE_FUZZ_EXPLORE=1`` draws fresh ones (and
``SKAE_FUZZ_EXAMPLES=500`` more of them) when hunting for new bugs. Every bug these
tests found has its own regression test in ``test_robustness.py``.
"""

import functools
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skae import LSTMAutoencoderDetector
from skae._scaling import MAX_SCALED_MAGNITUDE, fit_scaling

settings.register_profile(
    "skae-fuzz",
    max_examples=int(os.environ.get("SKAE_FUZZ_EXAMPLES", "30")),
    deadline=None,
    derandomize=not os.environ.get("SKAE_FUZZ_EXPLORE"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
fuzz = settings(settings.get_profile("skae-fuzz"))
# scikit-learn's finiteness check sums the array, and inf + (-inf) warns
quiet_inf = pytest.mark.filterwarnings(
    "ignore:invalid value encountered in reduce:RuntimeWarning"
)

MAGNITUDES = [0.0, 1e-300, 1e-30, 1e-6, 1.0, 1e6, 1e30, 1e150, 1e300]
OFFSETS = [0.0, 1.0, -1e6, 1e30]
DTYPES = ["float64", "float32", "float16", "int64", "int32", "uint8", "bool"]
CORRUPTIONS = [None, None, np.nan, np.inf, -np.inf]
VALIDATION_FRACTION = 0.25


def tiny_detector(**params):
    """A detector small enough to fit in a fraction of a second."""
    defaults = dict(
        window_size=3,
        hidden_size=2,
        max_epochs=1,
        batch_size=16,
        validation_fraction=VALIDATION_FRACTION,
        device="cpu",
        random_state=0,
    )
    return LSTMAutoencoderDetector(**{**defaults, **params})


@st.composite
def series(draw, max_rows=40, n_features=None):
    """A 2-D series of any dtype: noise, constant, step or raw values, at any
    magnitude, sometimes with a NaN or infinity planted in it."""
    n_rows = draw(st.integers(0, max_rows))
    kind = draw(st.sampled_from(["noise", "constant", "step", "raw"]))
    if n_features is None:
        choices = [1, 2, 3] if kind == "raw" else [1, 2, 3, 64]
        n_features = draw(st.sampled_from(choices))
    dtype = draw(st.sampled_from(DTYPES))
    if kind == "raw":
        return draw(arrays(dtype, (n_rows, n_features)))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    base = {
        "noise": lambda: rng.normal(size=(n_rows, n_features)),
        "constant": lambda: np.ones((n_rows, n_features)),
        "step": lambda: np.repeat(
            (np.arange(n_rows) >= n_rows // 2)[:, None], n_features, axis=1
        ),
    }[kind]()
    magnitude = draw(st.sampled_from(MAGNITUDES))
    offset = draw(st.sampled_from(OFFSETS))
    with np.errstate(all="ignore"):
        X = (base * magnitude + offset).astype(dtype)
    corruption = draw(st.sampled_from(CORRUPTIONS))
    if corruption is not None and n_rows > 0 and X.dtype.kind == "f":
        X[draw(st.integers(0, n_rows - 1)), draw(st.integers(0, n_features - 1))] = (
            corruption
        )
    return X


def outcome(method, *args):
    """Return ``(result, None)`` or ``(None, error)`` for a ValueError/TypeError;
    any other exception propagates and fails the test."""
    try:
        return method(*args), None
    except (ValueError, TypeError) as exc:
        assert len(str(exc)) > 20, f"unclear message: {exc!r}"
        return None, exc


def finite_float64(X):
    with np.errstate(all="ignore"):
        values = np.asarray(X, dtype=np.float64)
    return bool(np.isfinite(values).all())


def split_fits(n_samples, min_part):
    n_heldout = math.ceil(VALIDATION_FRACTION * n_samples)
    return n_samples - n_heldout >= min_part and n_heldout >= min_part


def beyond_network_range(train_part, everything, standardize):
    """True when a value lies further than the network takes (``1e30`` in the
    scaling fitted on the training part): the documented refusal."""
    train_part = np.asarray(train_part, dtype=np.float64)
    mean, scale = fit_scaling(train_part, standardize)
    with np.errstate(all="ignore"):
        scaled = (np.asarray(everything, dtype=np.float64) - mean) / scale
    return not (np.abs(scaled) <= MAX_SCALED_MAGNITUDE).all()


def refused_as_beyond_range(error, train_part, everything, standardize):
    return "after scaling" in str(error) and beyond_network_range(
        train_part, everything, standardize
    )


def assert_scores(scores, n_expected, anomaly_score="squared_error"):
    assert scores.shape == (n_expected,)
    assert scores.dtype == np.float64
    assert np.isfinite(scores).all()
    if anomaly_score == "squared_error":
        assert (scores <= 0).all()


@quiet_inf
@fuzz
@given(
    X=series(),
    window_size=st.integers(1, 5),
    standardize=st.booleans(),
    anomaly_score=st.sampled_from(["squared_error", "mahalanobis"]),
)
def test_fit_and_score_any_series(X, window_size, standardize, anomaly_score):
    X_before = X.copy()
    detector = tiny_detector(
        window_size=window_size, standardize=standardize, anomaly_score=anomaly_score
    )
    fitted, error = outcome(detector.fit, X)
    np.testing.assert_array_equal(X, X_before)

    valid = (
        X.shape[1] >= 1
        and finite_float64(X)
        and split_fits(len(X), window_size)
        # without standardisation the float32 network squares raw values
        and (standardize or np.max(np.abs(X.astype(np.float64)), initial=0) < 1e15)
    )
    if error is not None:
        n_train = len(X) - math.ceil(VALIDATION_FRACTION * len(X))
        assert not valid or refused_as_beyond_range(
            error, X[:n_train], X, standardize
        ), f"a valid series was refused: {error!r}"
        return
    assert valid or not standardize, "an invalid series was accepted"
    assert math.isfinite(fitted.threshold_)
    scores, error = outcome(fitted.score_samples, X)
    if error is None:
        assert_scores(scores, len(X), anomaly_score)
        assert set(np.unique(fitted.predict(X))) <= {-1, 1}
    else:
        # only data beyond what the float32 network takes, unstandardised
        assert not standardize, f"training data could not be scored: {error!r}"
    np.testing.assert_array_equal(X, X_before)


@functools.cache
def fitted_on_noise():
    X = np.random.default_rng(0).normal(size=(60, 2))
    return tiny_detector().fit(X)


def anything():
    """Arrays of 0 to 3 dimensions and any dtype, nested lists, and odd objects."""
    shapes = st.lists(st.integers(0, 6), min_size=0, max_size=3).map(tuple)
    numeric = arrays(
        st.sampled_from(DTYPES + ["complex128", "int8"]),
        shapes,
    )
    text = arrays(st.just("U3"), shapes)
    two_features = series(max_rows=12, n_features=2)
    wrong_features = series(max_rows=12, n_features=3)
    sequences = st.lists(series(max_rows=5, n_features=2), max_size=4)
    odd = st.sampled_from([None, 1.5, "abc", {"a": 1}, [[1, 2], [3]], [], object()])
    return (
        st.one_of(
            numeric, text, two_features, wrong_features, sequences, sequences.map(tuple)
        )
        | odd
    )


@quiet_inf
@fuzz
@given(X=anything())
def test_score_anything(X):
    detector = fitted_on_noise()
    scores, error = outcome(detector.score_samples, X)
    if error is not None:
        is_valid_series = (
            isinstance(X, np.ndarray)
            and X.ndim == 2
            and X.shape[1] == 2
            and len(X) >= detector.window_size
            and X.dtype.kind in "biuf"
            and finite_float64(X)
            and np.all(
                np.abs((X.astype(float) - detector.mean_) / detector.scale_)
                <= MAX_SCALED_MAGNITUDE
            )
        )
        assert not is_valid_series, f"a valid series was refused: {error!r}"
        return
    assert_scores(scores, len(X))


@st.composite
def ragged(draw):
    """A list of 2-D sequences of different lengths, some possibly empty, with
    the same or (rarely) different numbers of features."""
    n_features = draw(st.integers(1, 3))
    lengths = draw(st.lists(st.integers(0, 7), min_size=0, max_size=6))
    members = []
    for length in lengths:
        width = draw(st.sampled_from([n_features] * 5 + [n_features + 1]))
        members.append(
            draw(series(max_rows=0, n_features=width))
            if length == 0
            else draw(series(max_rows=length, n_features=width))
        )
    return members


@quiet_inf
@fuzz
@given(sequences=ragged(), decoder_feed=st.sampled_from(["repeat", "state"]))
def test_fit_and_score_ragged_sequences(sequences, decoder_feed):
    before = [s.copy() for s in sequences]
    detector = tiny_detector(decoder_feed=decoder_feed)
    fitted, error = outcome(detector.fit, sequences)
    for member, copy in zip(sequences, before, strict=True):
        np.testing.assert_array_equal(member, copy)
    valid = (
        split_fits(len(sequences), 1)
        and len({s.shape[1] for s in sequences}) == 1
        and all(len(s) > 0 and finite_float64(s) for s in sequences)
    )
    if error is not None:
        n_train = len(sequences) - math.ceil(VALIDATION_FRACTION * len(sequences))
        assert not valid or refused_as_beyond_range(
            error, np.concatenate(sequences[:n_train]), np.concatenate(sequences), True
        ), f"valid sequences were refused: {error!r}"
        if sequences and any(len(s) == 0 for s in sequences):
            assert "0 sample" in str(error) or "Sequence" in str(error)
        return
    assert valid, "invalid sequences were accepted"
    assert math.isfinite(fitted.threshold_)
    assert_scores(fitted.score_samples(sequences), len(sequences))
    recon = fitted.reconstruct(sequences)
    assert [r.shape for r in recon] == [s.shape for s in sequences]
    assert all(np.isfinite(r).all() for r in recon)
