"""Property-based tests: every input either scores cleanly or is refused clearly.

For any input, a call returns finite scores of the right shape or raises a
``ValueError``/``TypeError`` with a message; it never returns NaN, never raises
anything else, and inputs that are valid must be accepted. A valid series may be
refused for two documented reasons only: a value further than 1e30 training
standard deviations from the training data, judged here from statistics the test
computes itself rather than from skae's scaling, and, with ``standardize=False``,
raw values so large that the float32 training loss overflows
(``TrainingDivergedError``). Each test draws at most
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
from conftest import tiny_detector
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skae import TrainingDivergedError

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
# a detector that fits in a fraction of a second
FUZZ = dict(
    window_size=3,
    hidden_size=2,
    max_epochs=1,
    batch_size=16,
    validation_fraction=VALIDATION_FRACTION,
)

# The documented limit (docs/distributed.rst): a value further than this from the
# training data, in training standard deviations (in raw units with
# standardize=False), is refused with a ValueError, not fed to the float32 network.
LIMIT = 1e30
# With standardize=False the float32 training loss squares raw values; from this
# magnitude on, training may stop with TrainingDivergedError (its docstring names
# this cause). Below it, the squares of a whole batch stay far below float32's 3e38.
RAW_OVERFLOW = 1e15


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


def scaling_oracle(train_part):
    """Per-feature ``(mean, low, high)``: the training part's mean, and bounds on
    the scale the detector may divide each feature by, computed here with numpy
    rather than by skae.

    The statistics are taken of the values divided by each feature's largest
    magnitude, so that squaring 1e300 cannot overflow. A feature that varies is
    divided by its standard deviation (up to rounding). A feature constant up to
    float64 rounding keeps its units instead of being divided by (almost) zero
    (docs/distributed.rst); skae's ``_scaling`` divides such a feature by 1, or by
    its rounding level once that exceeds 1, or by its standard deviation: so the
    scale lies between the smaller and the larger of these.
    """
    values = np.asarray(train_part, dtype=np.float64)
    magnitude = np.max(np.abs(values), axis=0)
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    unit = values / magnitude
    mean = unit.mean(axis=0) * magnitude
    std = unit.std(axis=0) * magnitude
    constant = np.ptp(unit, axis=0) <= 1e-10
    rounding = 1e-12 * np.abs(mean)
    low = np.where(constant, np.where(std > 0, np.minimum(std, 1.0), 1.0), std)
    high = np.where(
        constant, np.maximum.reduce([std, np.ones_like(std), rounding]), std
    )
    return mean, low * (1 - 1e-6), high * (1 + 1e-6)


def distance_bounds(train_part, everything, standardize=True):
    """Bounds on the largest distance of a value of ``everything`` from the
    training part, in the units the detector scales by (raw units when
    ``standardize=False``)."""
    everything = np.asarray(everything, dtype=np.float64)
    if not standardize:
        largest = float(np.max(np.abs(everything), initial=0.0))
        return largest, largest
    mean, low, high = scaling_oracle(train_part)
    with np.errstate(all="ignore"):
        deviation = np.abs(everything - mean)
        return float(np.max(deviation / high)), float(np.max(deviation / low))


def check_range_refusal(error, train_part, everything, standardize=True):
    """Assert that a valid input was refused only as beyond the network's range,
    and that an input surely beyond it was refused."""
    nearest, furthest = distance_bounds(train_part, everything, standardize)
    if nearest > LIMIT:  # the documented refusal, naming the value
        assert "after scaling" in str(error), f"{nearest:.3g} away: {error!r}"
    if error is None:
        return
    if "after scaling" in str(error):
        assert furthest > LIMIT, f"refused, though within range: {error!r}"
        return
    raw = np.max(np.abs(np.asarray(everything, dtype=np.float64)), initial=0.0)
    assert isinstance(error, TrainingDivergedError) and (
        not standardize and raw >= RAW_OVERFLOW
    ), f"a valid input was refused: {error!r}"


def assert_scores(scores, n_expected, anomaly_score="squared_error"):
    assert scores.shape == (n_expected,)
    assert scores.dtype == np.float64
    assert np.isfinite(scores).all()
    if anomaly_score == "squared_error":
        assert (scores <= 0).all()


NOISE = np.random.default_rng(0).normal(size=(12, 2))
# a constant training part and a held-out tail 1e40 above it: 1e40 is beyond the
# limit in units, but not in the rounding level of 1e50 that skae may divide by
CONSTANT_THEN_STEP = np.r_[np.full((9, 1), 1e50), np.full((3, 1), 1e50 + 1e40)]


@quiet_inf
@fuzz
@given(
    X=series(),
    window_size=st.integers(1, 5),
    standardize=st.booleans(),
    anomaly_score=st.sampled_from(["squared_error", "mahalanobis"]),
)
# each outcome at least once, whatever the draws: NaN without standardisation
# (refused all the same), a held-out tail and raw values beyond the limit
# (refused), raw values whose squares overflow float32 (may diverge), and
# magnitudes or a constant part that standardisation handles (accepted)
@pytest.mark.slow
@example(np.r_[NOISE[:11], [[np.nan, 0.0]]], 2, False, "squared_error")
@example(np.r_[NOISE[:9], np.full((3, 2), 1e35)], 2, True, "squared_error")
@example(1e31 * NOISE, 2, False, "squared_error")
@example(1e20 * NOISE, 2, False, "squared_error")
@example(1e300 * NOISE, 2, True, "mahalanobis")
@example(CONSTANT_THEN_STEP, 1, True, "mahalanobis")
def test_fit_and_score_any_series(X, window_size, standardize, anomaly_score):
    X_before = X.copy()
    detector = tiny_detector(
        **{**FUZZ, "window_size": window_size},
        standardize=standardize,
        anomaly_score=anomaly_score,
    )
    fitted, error = outcome(detector.fit, X)
    np.testing.assert_array_equal(X, X_before)

    valid = X.shape[1] >= 1 and finite_float64(X) and split_fits(len(X), window_size)
    if not valid:
        assert error is not None, "an invalid series was accepted"
        return
    n_train = len(X) - math.ceil(VALIDATION_FRACTION * len(X))
    check_range_refusal(error, X[:n_train], X, standardize)
    if error is not None:
        return
    # the scaling is the training part's, as computed here
    if standardize:
        mean, low, high = scaling_oracle(X[:n_train])
        magnitude = np.max(np.abs(X[:n_train].astype(np.float64)), axis=0)
        assert np.all(np.abs(fitted.mean_ - mean) <= 1e-9 * magnitude)
        assert np.all((low <= fitted.scale_) & (fitted.scale_ <= high))
    else:
        np.testing.assert_array_equal(fitted.mean_, 0.0)
        np.testing.assert_array_equal(fitted.scale_, 1.0)
    assert math.isfinite(fitted.threshold_)
    # a fitted model scores its own training data, whatever its magnitude
    scores, error = outcome(fitted.score_samples, X)
    assert error is None, f"training data could not be scored: {error!r}"
    assert_scores(scores, len(X), anomaly_score)
    assert set(np.unique(fitted.predict(X))) <= {-1, 1}
    np.testing.assert_array_equal(X, X_before)


@functools.cache
def fitted_on_noise():
    X = np.random.default_rng(0).normal(size=(60, 2))
    return tiny_detector(**FUZZ).fit(X), X[: 60 - math.ceil(VALIDATION_FRACTION * 60)]


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
    detector, train_part = fitted_on_noise()
    scores, error = outcome(detector.score_samples, X)
    if error is not None:
        is_valid_series = (
            isinstance(X, np.ndarray)
            and X.ndim == 2
            and X.shape[1] == 2
            and len(X) >= detector.window_size
            and X.dtype.kind in "biuf"
            and finite_float64(X)
            and distance_bounds(train_part, X)[1] <= LIMIT
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
    detector = tiny_detector(**FUZZ, decoder_feed=decoder_feed)
    fitted, error = outcome(detector.fit, sequences)
    for member, copy in zip(sequences, before, strict=True):
        np.testing.assert_array_equal(member, copy)
    valid = (
        split_fits(len(sequences), 1)
        and len({s.shape[1] for s in sequences}) == 1
        and all(len(s) > 0 and finite_float64(s) for s in sequences)
    )
    if not valid:
        assert error is not None, "invalid sequences were accepted"
        if sequences and any(len(s) == 0 for s in sequences):
            assert "0 sample" in str(error) or "Sequence" in str(error)
        return
    n_train = len(sequences) - math.ceil(VALIDATION_FRACTION * len(sequences))
    train_part = np.concatenate(sequences[:n_train])
    check_range_refusal(error, train_part, np.concatenate(sequences))
    if error is not None:
        return
    assert math.isfinite(fitted.threshold_)
    assert_scores(fitted.score_samples(sequences), len(sequences))
    recon = fitted.reconstruct(sequences)
    assert [r.shape for r in recon] == [s.shape for s in sequences]
    assert all(np.isfinite(r).all() for r in recon)
