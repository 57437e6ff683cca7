"""How window errors become step scores: score_smoothing and centered_features."""

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_detector, waves

from skae import (
    LSTMAutoencoder,
    SlidingWindowTransformer,
    load_model,
    save_model,
)
from skae._inference import local_mean


def _series():
    """A wave, and a wave on a slow drift (the feature to centre)."""
    return waves(300, periods=(30, 17), slopes=(0.0, 0.01))


def test_local_mean_is_the_mean_over_the_neighbourhood_inside_the_window():
    rng = np.random.default_rng(0)
    errors = rng.uniform(size=(5, 9, 3))
    for radius in (0, 1, 3, 20):
        smoothed = local_mean(torch.as_tensor(errors), radius).numpy()
        assert smoothed.shape == errors.shape
        for p in range(9):
            low, high = max(p - radius, 0), min(p + radius, 8) + 1
            np.testing.assert_allclose(smoothed[:, p], errors[:, low:high].mean(axis=1))
    np.testing.assert_array_equal(local_mean(torch.as_tensor(errors), 0), errors)


@pytest.mark.parametrize("smoothing", [0, 3])
def test_step_score_is_the_mean_of_local_means_over_covering_windows(smoothing):
    X = _series()
    detector = tiny_detector(score_smoothing=smoothing, score_stride=1).fit(X)
    # recompute by brute force: every window, its squared errors, their local
    # means, then the mean over the windows covering each step
    w = detector.window_size
    windows = SlidingWindowTransformer(window_size=w).fit_transform(
        (X - detector.mean_) / detector.scale_
    )
    with torch.inference_mode():
        x = torch.as_tensor(windows, dtype=torch.float32)
        errors = (x - detector.net_.module_(x)).pow(2).mean(dim=-1).double().numpy()
    local = np.stack(
        [
            errors[:, max(p - smoothing, 0) : min(p + smoothing, w - 1) + 1].mean(
                axis=1
            )
            for p in range(w)
        ],
        axis=1,
    )
    expected = np.zeros(len(X))
    counts = np.zeros(len(X))
    for start in range(len(windows)):
        expected[start : start + w] += local[start]
        counts[start : start + w] += 1
    np.testing.assert_allclose(
        -detector.score_samples(X), expected / counts, rtol=1e-5, atol=1e-7
    )


def test_smoothing_spreads_a_spike_over_its_neighbours_only():
    X = _series()
    # smoothing does not touch training: one seed gives one network for both
    raw_detector, detector = (
        tiny_detector(score_stride=1, score_smoothing=smoothing).fit(X)
        for smoothing in (0, 4)
    )
    spiked = X.copy()
    spiked[150, 0] += 5.0
    raw = -raw_detector.score_samples(spiked)
    smooth = -detector.score_samples(spiked)
    # the spike step itself loses weight to its neighbours...
    assert smooth[150] < raw[150]
    # ...and steps out of reach of every window covering the spike are untouched
    reach = detector.window_size - 1 + 4
    far = np.r_[0 : 150 - reach, 150 + reach + 1 : len(X)]
    base = -detector.score_samples(X)
    np.testing.assert_allclose(smooth[far], base[far], rtol=1e-6)


def test_module_passes_the_level_of_centred_features_around_the_code():
    torch.manual_seed(0)
    model = LSTMAutoencoder(n_features=3, hidden_size=6, centered_features=[1]).eval()
    x = torch.randn(4, 10, 3)
    shift = torch.tensor([0.0, 7.5, 0.0])
    with torch.inference_mode():
        np.testing.assert_allclose(
            model(x + shift).numpy(), (model(x) + shift).numpy(), atol=1e-5
        )
        np.testing.assert_allclose(
            model.encode(x + shift).numpy(), model.encode(x).numpy(), atol=1e-5
        )
        # padded sequences are centred on the mean of their real steps
        padded = torch.cat([x[:1, :6] + shift, torch.zeros(1, 4, 3)], dim=1)
        alone = model(x[:1, :6] + shift)
        packed = model(padded, lengths=torch.tensor([6]))
    np.testing.assert_allclose(packed[:, :6].numpy(), alone.numpy(), atol=1e-5)
    # an uncentred feature is judged by its level
    plain = LSTMAutoencoder(n_features=3, hidden_size=6).eval()
    with torch.inference_mode():
        moved = plain(x + shift) - plain(x)
    assert moved[..., 1].abs().max() < 7.0


def test_a_level_shift_of_a_centred_feature_does_not_change_the_scores():
    X = _series()
    shifted = X + np.array([0.0, 3.0])
    centred = tiny_detector(centered_features=[1]).fit(X)
    np.testing.assert_allclose(
        centred.score_samples(shifted), centred.score_samples(X), rtol=1e-4
    )
    np.testing.assert_allclose(
        centred.reconstruct(shifted), centred.reconstruct(X) + [0.0, 3.0], atol=1e-4
    )
    plain = tiny_detector().fit(X)
    assert plain.score_samples(shifted).mean() < plain.score_samples(X).mean() - 1.0


def test_centred_features_by_name_and_for_sequences():
    X = _series()
    frame = pd.DataFrame(X, columns=["wave", "drift"])
    by_name = tiny_detector(centered_features=["drift"]).fit(frame)
    by_index = tiny_detector(centered_features=[-1]).fit(X)
    np.testing.assert_allclose(
        by_name.score_samples(frame), by_index.score_samples(X), rtol=1e-6
    )
    both = tiny_detector(centered_features=[0, "drift"]).fit(frame)
    assert both.centered_features_ == [0, 1]
    sequences = [X[:40], X[40:100] + [0.0, 2.0], X[100:130], X[130:200]]
    seq = tiny_detector(centered_features=[1]).fit(sequences)
    moved = [s + [0.0, 5.0] for s in sequences]
    np.testing.assert_allclose(
        seq.score_samples(moved), seq.score_samples(sequences), rtol=1e-4
    )


@pytest.mark.parametrize(
    "features, error, match",
    [
        ([2], ValueError, "out of range"),
        (["drift"], ValueError, "not a DataFrame"),
        ([1.5], TypeError, "column indices"),
    ],
)
def test_bad_centred_features(features, error, match):
    detector = tiny_detector(centered_features=features)
    with pytest.raises(error, match=match):
        detector.fit(_series())


def test_unknown_feature_name():
    frame = pd.DataFrame(_series(), columns=["wave", "drift"])
    detector = tiny_detector(centered_features=["temperature"])
    with pytest.raises(ValueError, match="unknown feature 'temperature'"):
        detector.fit(frame)


def test_centred_features_survive_both_ways_of_saving(tmp_path):
    import joblib

    X = _series()
    detector = tiny_detector(centered_features=[1], score_smoothing=2).fit(X)
    assert detector.centered_features_ == [1]
    shifted = X + np.array([0.0, 4.0])
    expected = detector.score_samples(shifted)
    save_model(detector, tmp_path / "model.skae")
    joblib.dump(detector, tmp_path / "model.joblib")
    for restored in (
        load_model(tmp_path / "model.skae"),
        joblib.load(tmp_path / "model.joblib"),
    ):
        np.testing.assert_array_equal(restored.score_samples(shifted), expected)


def test_smoothing_is_applied_on_the_default_stride_too():
    X = _series()
    raw_detector, detector = (
        tiny_detector(score_smoothing=smoothing).fit(X) for smoothing in (0, 3)
    )
    assert detector.score_stride_ == 4  # window_size // 4
    raw = raw_detector.score_samples(X)
    smooth = detector.score_samples(X)
    assert not np.allclose(raw, smooth)
    # averaging inside windows keeps each window's total error for interior steps
    # only approximately, but never changes the scale of the scores much
    assert 0.5 < smooth.mean() / raw.mean() < 2.0
