"""Per-feature contributions to the score, and the Mahalanobis score."""

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_detector

from skae._scoring import feature_contributions, fit_error_gaussian

SCORES = ["squared_error", "mahalanobis"]


def _sensors(n_steps, seed):
    """Three correlated periodic sensors plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps)[:, None]
    base = np.sin(2 * np.pi * t / 25)
    X = np.c_[base, 0.8 * base + 0.2 * np.cos(2 * np.pi * t / 10), np.cos(t / 7)]
    return X + 0.05 * rng.standard_normal(X.shape)


@pytest.fixture(scope="module")
def train():
    return _sensors(500, seed=0)


@pytest.fixture(scope="module", params=SCORES)
def detector(request, train):
    return tiny_detector(max_epochs=3, anomaly_score=request.param).fit(train)


def test_contributions_sum_to_the_score_for_every_input_form(detector, train):
    test = _sensors(200, seed=1)
    sequences = [test[:40], test[50:61], test[100:190]]
    for X in (test, np.stack([test[:30], test[30:60]]), sequences):
        contributions = detector.feature_contributions(X)
        scores = detector.score_samples(X)
        assert contributions.shape == (len(scores), 3)
        np.testing.assert_allclose(contributions.sum(axis=1), -scores, rtol=1e-10)
    if detector.anomaly_score == "squared_error":
        assert np.all(detector.feature_contributions(test) >= 0)


def test_the_faulty_sensor_ranks_first(detector):
    test = _sensors(300, seed=2)
    for sensor in range(3):
        faulty = test.copy()
        faulty[150:200, sensor] += 1.5
        contributions = detector.feature_contributions(faulty)
        assert np.argmax(contributions[150:200].mean(axis=0)) == sensor


def test_mahalanobis_matches_an_independent_computation():
    """One window per sequence, so the error vector is |x - x^| exactly."""
    rng = np.random.default_rng(3)
    X = np.stack([_sensors(20, seed=s) for s in range(30)])
    X[:, :, 2] *= 5.0  # unequal scales: standardization matters
    detector = tiny_detector(
        max_epochs=3, anomaly_score="mahalanobis", validation_fraction=0.3
    ).fit(X)
    errors = np.abs(X - detector.reconstruct(X)) / detector.scale_
    heldout = errors[21:].reshape(-1, 3)
    np.testing.assert_allclose(detector.error_mean_, heldout.mean(axis=0), rtol=1e-4)
    # the shrunk covariance keeps the empirical one's diagonal order and is
    # positive definite; its inverse is the precision
    assert np.all(np.linalg.eigvalsh(detector.error_covariance_) > 0)
    np.testing.assert_allclose(
        detector.error_precision_ @ detector.error_covariance_, np.eye(3), atol=1e-8
    )
    X_new = X + 0.3 * rng.standard_normal(X.shape)
    errors = np.abs(X_new - detector.reconstruct(X_new)) / detector.scale_
    deviation = errors - detector.error_mean_
    per_step = np.einsum(
        "nti,ij,ntj->nt",
        deviation,
        np.linalg.inv(detector.error_covariance_),
        deviation,
    )
    np.testing.assert_allclose(
        -detector.score_samples(X_new), per_step.mean(axis=1), rtol=1e-3
    )
    # the threshold is still mu + k * sigma of the held-out scores
    heldout_scores = -detector.score_samples(X[21:])
    np.testing.assert_allclose(detector.heldout_errors_, heldout_scores, rtol=1e-6)
    assert detector.threshold_ == pytest.approx(
        heldout_scores.mean() + detector.n_sigmas * heldout_scores.std()
    )


def test_mahalanobis_sees_a_broken_correlation_that_squared_error_misses():
    """Two sensors that move together; the anomaly is one of them moving alone by
    an amount the squared error finds ordinary."""
    rng = np.random.default_rng(4)
    errors = rng.standard_normal((500, 1)) * np.array([[1.0, 1.0]])
    errors = np.abs(errors + 0.05 * rng.standard_normal((500, 2)))
    mean, covariance, precision = fit_error_gaussian(errors**2)
    assert covariance[0, 1] > 0.5 * covariance[0, 0]
    together, apart = np.array([[1.5, 1.5]]), np.array([[1.5, 0.2]])
    squared = [
        feature_contributions(e**2, "squared_error").sum() for e in (together, apart)
    ]
    mahalanobis = [
        feature_contributions(e**2, "mahalanobis", mean, precision).sum()
        for e in (together, apart)
    ]
    assert squared[1] < squared[0]
    assert mahalanobis[1] > 5 * mahalanobis[0]


def test_mahalanobis_copes_with_constant_features_and_few_steps():
    X = _sensors(200, seed=5)
    X[:, 1] = 3.0  # a sensor that never moves (SKAB has such columns)
    detector = tiny_detector(window_size=8, max_epochs=3, anomaly_score="mahalanobis")
    detector.fit(X)
    assert np.all(np.isfinite(detector.score_samples(X)))
    assert np.isfinite(detector.threshold_)
    mean, covariance, precision = fit_error_gaussian(np.ones((1, 3)))
    np.testing.assert_allclose(covariance, np.eye(3), rtol=1e-5)


def test_anomaly_score_is_validated_and_needs_a_refit(train):
    with pytest.raises(ValueError, match="anomaly_score"):
        tiny_detector(anomaly_score="absolute").fit(train)
    detector = tiny_detector(max_epochs=3, anomaly_score="mahalanobis").fit(train)
    assert detector.error_covariance_.shape == (3, 3)
    # a refit with the squared error drops the Gaussian; switching back needs a fit
    detector.set_params(anomaly_score="squared_error").fit(train)
    assert not hasattr(detector, "error_mean_")
    expected = detector.score_samples(train)
    # the score kind is fixed at fit: the parameter acts at the next fit only
    detector.set_params(anomaly_score="mahalanobis")
    np.testing.assert_array_equal(detector.score_samples(train), expected)
    assert detector.anomaly_score_ == "squared_error"


# Files whose anomaly shows in one sensor: its mean standardized shift during the
# anomaly (against the normal test steps) is over ten times any other sensor's.
SINGLE_SENSOR_FILES = [
    ("other/14.csv", "Thermocouple"),
    ("valve1/0.csv", "Temperature"),
    ("valve1/11.csv", "Volume Flow RateRMS"),
]


@pytest.mark.slow
@pytest.mark.parametrize("anomaly_score", SCORES)
def test_skab_anomaly_in_one_sensor_ranks_that_sensor_first(shared_data, anomaly_score):
    for name, sensor in SINGLE_SENSOR_FILES:
        frame = pd.read_csv(shared_data / "SKAB" / "data" / name, sep=";")
        y = frame.pop("anomaly").to_numpy()[400:]
        X = frame.drop(columns=["datetime", "changepoint"])
        detector = tiny_detector(
            hidden_size=16, max_epochs=15, batch_size=64, anomaly_score=anomaly_score
        ).fit(X.iloc[:400])
        contributions = detector.feature_contributions(X.iloc[400:])
        # what the anomaly adds to each sensor's share, against normal operation
        excess = contributions[y == 1].mean(axis=0) - contributions[y == 0].mean(0)
        ranked = detector.feature_names_in_[np.argsort(-excess)]
        assert ranked[0] == sensor, (name, list(ranked[:3]))
