"""detect_flatlines: a held value scores above the threshold; nothing else changes."""

import numpy as np
import pytest
from conftest import push_in, tiny_detector, waves

from skae import StreamingScorer, load_model, save_model
from skae._flatlines import (
    FLATLINE_FACTOR,
    STUCK_SHARE,
    fit_reference,
    reference_of,
    step_stillness,
    window_activity,
)
from skae.metrics import auc_pr


def _rough(n_timesteps=1300, seed=0):
    """A rough two-feature series that is never still: noise on two waves."""
    return waves(n_timesteps, (23, 9), noise=0.3, seed=seed)


def _with_flatline(X, start=1100, length=60, feature=0):
    held = X.copy()
    held[start : start + length, feature] = held[start, feature]
    return held


def test_activity_is_the_mean_absolute_step_of_each_window():
    z = np.random.default_rng(0).normal(size=(40, 3))
    expected = [np.abs(np.diff(z[i : i + 7], axis=0)).mean(axis=0) for i in range(34)]
    np.testing.assert_allclose(window_activity(z, 7), expected, rtol=1e-12)
    # a window's value does not depend on where the series starts (chunks, streams)
    np.testing.assert_array_equal(window_activity(z[5:], 7), window_activity(z, 7)[5:])


@pytest.mark.parametrize("causal", [False, True])
def test_step_stillness_is_the_log_ratio_of_the_windows_of_a_step(causal):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(60, 2)) * rng.uniform(0.01, 1, size=(60, 1))
    reference = np.array([0.5, 0.0])  # the second feature's check is off
    length = 5
    still = step_stillness(z, length, reference, causal=causal)
    window = np.minimum(np.log(0.5 / window_activity(z, length)[:, 0]), np.log(1000))
    window[window < np.log(FLATLINE_FACTOR)] = 0.0  # only stuck windows count
    assert window.any() and (window < np.log(1000)).any()
    for t in range(60):
        first = t - length + 1
        covering = range(first, first + 1) if causal else range(first, t + 1)
        values = [window[w] for w in covering if 0 <= w < len(window)]
        assert still[t, 0] == pytest.approx(max(values, default=0.0), abs=1e-12)
    assert not still[:, 1].any()
    assert step_stillness(z[:3], length, reference, causal=True).shape == (3, 2)


def test_the_fit_series_is_never_still_against_its_own_reference():
    z = np.random.default_rng(2).normal(size=(200, 2))
    assert not step_stillness(z, 8, fit_reference(z, 8)).any()


@pytest.fixture(scope="module")
def pair():
    X = _rough()[:1000]
    plain = tiny_detector(max_epochs=3, detect_flatlines=False).fit(X)
    flat = tiny_detector(max_epochs=3).fit(X)  # "auto": on for a series
    return plain, flat


def test_threshold_and_held_out_errors_do_not_change(pair):
    plain, flat = pair
    assert flat.threshold_ == plain.threshold_
    np.testing.assert_array_equal(flat.heldout_errors_, plain.heldout_errors_)
    assert not hasattr(plain, "flatline_reference_")
    assert flat.flatline_weight_ == pytest.approx(
        flat.threshold_ / np.log(FLATLINE_FACTOR)
    )


def test_a_held_value_is_flagged_and_normal_data_score_as_before(pair):
    plain, flat = pair
    normal = _rough(seed=5)
    test = _with_flatline(normal)
    np.testing.assert_array_equal(
        flat.score_samples(normal), plain.score_samples(normal)
    )
    assert (plain.predict(test)[1100:1160] == 1).mean() > 0.9  # the error misses it
    assert (flat.predict(test)[1100:1160] == -1).all()
    # only the stretch and the steps whose windows reach into it change
    changed = np.flatnonzero(flat.score_samples(test) != plain.score_samples(test))
    reach = flat.window_size - 1
    assert changed.min() >= 1100 - reach and changed.max() < 1160 + reach


def test_contributions_sum_to_the_score_and_name_the_held_feature(pair):
    _, flat = pair
    test = _with_flatline(_rough(seed=5), feature=1)
    contributions = flat.feature_contributions(test)
    np.testing.assert_allclose(
        contributions.sum(axis=1), -flat.score_samples(test), rtol=1e-9
    )
    assert (contributions[1100:1160].argmax(axis=1) == 1).all()


def test_the_setting_is_frozen_at_fit(pair):
    _, flat = pair
    test = _with_flatline(_rough(seed=5))
    before = flat.score_samples(test)
    flat.set_params(detect_flatlines=False)
    try:
        np.testing.assert_array_equal(flat.score_samples(test), before)
    finally:
        flat.set_params(detect_flatlines="auto")


def test_a_model_file_keeps_the_check_and_refuses_half_of_it(pair, tmp_path):
    _, flat = pair
    test = _with_flatline(_rough(seed=5))
    save_model(flat, tmp_path / "flat.skae")
    loaded = load_model(tmp_path / "flat.skae")
    np.testing.assert_array_equal(loaded.score_samples(test), flat.score_samples(test))
    half = tiny_detector(max_epochs=1, detect_flatlines=False).fit(_rough()[:400])
    half.flatline_reference_ = np.ones(2)  # without flatline_weight_
    save_model(half, tmp_path / "half.skae")
    with pytest.raises(ValueError, match="flatline_weight_"):
        load_model(tmp_path / "half.skae")


def test_sequences_are_refused_before_training_and_auto_leaves_them_alone():
    with pytest.raises(ValueError, match="detect_flatlines"):
        tiny_detector(detect_flatlines=True).fit(np.zeros((20, 30, 2)))
    sequences = np.random.default_rng(3).normal(size=(20, 30, 2))
    detector = tiny_detector(max_epochs=1).fit(sequences)
    assert not hasattr(detector, "flatline_reference_")
    assert detector.score_samples(sequences).shape == (20,)


def test_causal_scores_and_a_stream_see_the_flatline_alike():
    X = _rough()[:1000]
    detector = tiny_detector(max_epochs=3, detect_flatlines=True, causal=True).fit(X)
    test = _with_flatline(_rough(seed=5))
    batch = detector.score_samples(test)
    # the window ending at a step lies inside the stretch from its 16th step on
    assert (batch[1100 + detector.window_size - 1 : 1160] < detector.offset_).all()
    scores, _, _ = push_in(StreamingScorer(detector), test, [1, 7, 300, 5])
    np.testing.assert_allclose(scores, -batch, rtol=1e-9)


def test_dask_chunks_score_a_flatline_as_memory_does(pair):
    da = pytest.importorskip("dask.array")
    from skae import score_dask

    _, flat = pair
    test = _with_flatline(_rough(seed=5), start=1090)
    lazy = score_dask(flat, da.from_array(test, chunks=(97, 2)))
    np.testing.assert_allclose(lazy.compute(), flat.score_samples(test), rtol=1e-12)


def test_the_reference_is_a_share_of_the_typical_activity_never_above_the_least():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(500, 2)) * [1.0, 0.1]
    activity = window_activity(z, 10)
    reference = fit_reference(z, 10)
    expected = FLATLINE_FACTOR * STUCK_SHARE * np.median(activity, axis=0)
    np.testing.assert_allclose(reference, expected, rtol=1e-12)
    assert (reference <= activity.min(axis=0)).all()
    # a stretch twice as calm as the calmest of the fit data is normal...
    calm = z[:100] * 0.5
    assert not step_stillness(calm, 10, reference).any()
    # ...a held value is not
    assert (step_stillness(np.repeat(z[:1], 30, axis=0), 10, reference) > 0).all()


def test_features_whose_fit_data_repeat_values_or_rest_are_left_out():
    rng = np.random.default_rng(5)
    steady = rng.normal(size=400)
    coarse = np.round(rng.normal(size=400) * 1.5)  # a fifth of its steps repeat
    calm_once = rng.normal(size=400) * np.where(np.arange(400) < 300, 1.0, 0.02)
    z = np.column_stack([steady, coarse, calm_once])
    reference = fit_reference(z, 10)
    assert reference[0] > 0 and reference[1] == 0 and reference[2] == 0
    # the coarse feature is left out for its repeats alone
    assert reference_of(z, 10, repeat_share=1.0)[1] > 0


def _calm_machine(seed):
    """A noisy, slow four-feature series, and a test part with calm normal
    stretches (the noise at 5 %, calmer than any stretch of the fit part), a
    level shift and a spike; returns ``fit, test, labels``."""
    rng = np.random.default_rng(seed)
    fit = waves(700, (200, 150, 300, 250), noise=0.3, seed=seed)
    noise = 0.3 * rng.normal(size=(900, 4))
    noise[50:400, 1] *= 0.05
    noise[450:850, 2] *= 0.05
    test = waves(900, (200, 150, 300, 250), noise=0.0) + noise
    labels = np.zeros(900, dtype=int)
    test[250:290, [0, 3]] += 1.5  # a level shift in two features
    labels[250:290] = 1
    test[600:603, :] += 2.0  # a spike in every feature
    labels[600:603] = 1
    return fit, test, labels


def test_calm_normal_stretches_cost_no_ranking_and_a_stuck_sensor_is_flagged():
    fit, test, labels = _calm_machine(seed=6)
    detector = tiny_detector(max_epochs=3).fit(fit)
    with_check = -detector.score_samples(test)
    plain = tiny_detector(max_epochs=3, detect_flatlines=False).fit(fit)
    without = -plain.score_samples(test)
    assert auc_pr(labels, with_check) >= auc_pr(labels, without) - 0.005
    # the calm stretches score as without the check
    calm = np.r_[60:230, 310:390, 460:580, 620:840]
    np.testing.assert_array_equal(with_check[calm], without[calm])
    # a sensor stuck at its last value is flagged, which the error misses
    stuck = test.copy()
    stuck[700:760, 0] = stuck[700, 0]
    assert (plain.predict(stuck)[700:760] == 1).mean() > 0.9
    assert (detector.predict(stuck)[700:760] == -1).all()
