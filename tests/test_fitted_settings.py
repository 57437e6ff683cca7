"""What shapes the scores and the threshold is fixed at fit, as in scikit-learn.

``set_params`` after ``fit`` changes no score, threshold or flag until the next
``fit``; the threshold rule is chosen by name and its fitted attributes say what
the threshold came from.
"""

import warnings

import joblib
import numpy as np
import pytest
from conftest import tiny_detector, waves
from sklearn.base import clone

from skae import load_model, save_model


@pytest.fixture(scope="module")
def fitted():
    return tiny_detector().fit(waves(600))


# every parameter that shapes the scores or the threshold, with another value
CHANGES = [
    {"score_smoothing": 0},
    {"score_smoothing": 3},
    {"anomaly_score": "mahalanobis"},
    {"window_size": 20},
    {"score_stride": 1},
    {"n_sigmas": 1.0},
    {"threshold_rule": "pot"},
    {"threshold_rule": "pot", "false_alarm_risk": 0.3},
    {"threshold_rule": "mean_k_sigma", "n_sigmas": 0.5},
    {"detect_flatlines": False},
    {"contamination": 0.2},
    {"standardize": False},
]


@pytest.mark.filterwarnings("ignore:Only .* held-out errors")
@pytest.mark.parametrize("change", CHANGES, ids=lambda c: "-".join(c))
def test_set_params_after_fit_changes_nothing_until_the_next_fit(fitted, change):
    X = waves(600, seed=1)
    X[300:310] += 3.0
    X[450:520] = X[450]  # a held value, for the flatline check
    scores = fitted.score_samples(X)
    flags = fitted.predict(X)
    threshold = fitted.threshold_
    changed = tiny_detector().fit(waves(600)).set_params(**change)
    np.testing.assert_array_equal(changed.score_samples(X), scores)
    np.testing.assert_array_equal(changed.predict(X), flags)
    assert changed.threshold_ == threshold
    # ...and the next fit takes the new value
    refitted = changed.fit(waves(600))
    key, value = next(iter(change.items()))
    if key in ("window_size", "score_smoothing", "anomaly_score"):
        assert getattr(refitted, f"{key}_") == value
    assert refitted.threshold_ != threshold or not np.array_equal(
        refitted.score_samples(X), scores
    )


def test_the_threshold_says_what_it_came_from(fitted):
    info = fitted.threshold_info_
    heldout = fitted.heldout_errors_
    assert info["rule"] == "above_heldout"
    assert info["n_errors"] == len(heldout)
    k_sigma = info["mean"] + 6.0 * info["std"]
    assert info["k_sigma_value"] == pytest.approx(k_sigma)
    above = 2 * heldout.max() - np.median(heldout)
    assert fitted.threshold_ == pytest.approx(max(k_sigma, above))
    assert info["binding"] == ("max" if above > k_sigma else "k_sigma")
    assert fitted.heldout_mean_ == info["mean"]
    # no held-out step is flagged
    assert (heldout < fitted.threshold_).all()
    seed = clone(fitted).set_params(threshold_rule="mean_k_sigma").fit(waves(600))
    assert seed.threshold_info_["rule"] == "mean_k_sigma"
    assert seed.threshold_ == pytest.approx(k_sigma)
    assert seed.threshold_ <= fitted.threshold_


def test_pot_rule_sets_the_threshold_from_the_tail_at_the_given_risk():
    X = waves(2000)
    thresholds = []
    for risk in (1e-2, 1e-3, 1e-5):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # 400 held-out errors
            detector = tiny_detector(threshold_rule="pot", false_alarm_risk=risk).fit(X)
        info = detector.threshold_info_
        assert info["rule"] == "pot" and info["risk"] == risk
        assert info["n_peaks"] >= 10
        thresholds.append(detector.threshold_)
    # a smaller false-alarm risk is a higher threshold
    assert thresholds[0] < thresholds[1] < thresholds[2]
    # at a risk of 1 %, about 1 % of the held-out errors lie above it
    heldout = detector.heldout_errors_
    assert np.mean(heldout > thresholds[0]) < 0.05


def test_pot_warns_when_the_heldout_part_is_short():
    with pytest.warns(UserWarning, match="200"):
        tiny_detector(threshold_rule="pot").fit(waves(400))


def test_contamination_keeps_scikit_learns_meaning():
    X = waves(600)
    detector = tiny_detector(contamination=0.1).fit(X)
    assert detector.threshold_info_ == {"rule": "contamination", "contamination": 0.1}
    assert np.mean(detector.predict(X) == -1) == pytest.approx(0.1, abs=0.01)


def test_fixed_settings_survive_both_file_formats(fitted, tmp_path):
    X = waves(600, seed=2)
    fitted = tiny_detector(threshold_rule="pot").fit(waves(2000))
    fitted.set_params(score_smoothing=0, window_size=30)
    expected = fitted.score_samples(X)
    save_model(fitted, tmp_path / "m.skae")
    joblib.dump(fitted, tmp_path / "m.joblib")
    for restored in (
        load_model(tmp_path / "m.skae"),
        joblib.load(tmp_path / "m.joblib"),
    ):
        np.testing.assert_array_equal(restored.score_samples(X), expected)
        assert restored.threshold_info_ == fitted.threshold_info_
