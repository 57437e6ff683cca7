"""Scoring with a stride: which windows score a step, and in bounded memory."""

import copy

import numpy as np
import pytest
import torch
from conftest import tiny_detector, waves

from skae import SlidingWindowTransformer
from skae._inference import series_errors

WINDOW = 8


@pytest.fixture(scope="module")
def fitted():
    X = waves(200)
    detector = tiny_detector(
        window_size=WINDOW,
        score_smoothing=0,  # each step's own error: what the brute force recomputes
    ).fit(X)
    return detector, X


def _all_window_errors(detector, X):
    """Per-window, per-position squared errors of every window (stride 1)."""
    windows = SlidingWindowTransformer(window_size=WINDOW).fit_transform(X)
    scaled = (windows - detector.mean_) / detector.scale_
    with torch.inference_mode():
        x = torch.as_tensor(scaled, dtype=torch.float32)
        errors = (x - detector.net_.module_(x)).pow(2).mean(-1)
    return errors.numpy().astype(np.float64)


def _expected_errors(window_errors, n, stride):
    """Mean over the grid windows covering each step; the end-aligned window
    fills the steps after the last grid window."""
    grid = list(range(0, n - WINDOW + 1, stride))
    expected = np.zeros(n)
    for t in range(n):
        covering = [s for s in grid if s <= t < s + WINDOW]
        if covering:
            expected[t] = np.mean([window_errors[s, t - s] for s in covering])
        else:
            tail = n - WINDOW
            expected[t] = window_errors[tail, t - tail]
    return expected


@pytest.mark.parametrize("stride", [1, 3, WINDOW])
def test_strided_scores_are_means_of_the_same_windows_as_stride_one(fitted, stride):
    detector, X = fitted
    X = X[:101]  # 101 - 8 is no multiple of 3 or 8: a tail window is needed
    window_errors = _all_window_errors(detector, X)
    scorer = copy.copy(detector)  # what fit(score_stride=stride) would score with
    scorer.score_stride_ = stride
    del scorer._fitted_core  # fit builds the scorer's core; here it is rebuilt
    scores = scorer.score_samples(X)
    expected = _expected_errors(window_errors, len(X), stride)
    np.testing.assert_allclose(-scores, expected, rtol=1e-5, atol=1e-8)
    if stride == WINDOW:
        # one window per step: the step's score is that window's error there
        np.testing.assert_allclose(
            -scores[:WINDOW], window_errors[0], rtol=1e-5, atol=1e-8
        )


@pytest.mark.parametrize("score_stride", [1, 3, "auto"])
def test_appending_changes_only_the_last_window_minus_one_scores(score_stride):
    X = waves(160, seed=1)
    detector = tiny_detector(
        window_size=WINDOW, max_epochs=1, score_stride=score_stride
    ).fit(X[:120])
    for n in (97, 100, 101):
        head = detector.score_samples(X[:n])
        longer = detector.score_samples(X[: n + 13])
        kept = n - (WINDOW - 1)
        np.testing.assert_allclose(longer[:kept], head[:kept], rtol=1e-5, atol=1e-9)
        assert np.isfinite(longer).all()


def test_auto_and_clipped_score_stride():
    X = waves(120)
    auto = tiny_detector(window_size=12, max_epochs=1).fit(X)
    assert auto.score_stride_ == 3
    small = tiny_detector(window_size=3, max_epochs=1).fit(X)
    assert small.score_stride_ == 1
    clipped = tiny_detector(window_size=6, max_epochs=1, score_stride=50).fit(X)
    assert clipped.score_stride_ == 6
    assert np.isfinite(clipped.score_samples(X)).all()
    # the threshold comes from held-out errors scored with the same stride
    heldout = X[len(X) - clipped.heldout_errors_.shape[0] :]
    np.testing.assert_allclose(
        clipped.heldout_errors_, -clipped.score_samples(heldout), rtol=1e-10
    )
    with pytest.raises(ValueError, match="score_stride"):
        tiny_detector(score_stride=0).fit(X)


def test_reconstruct_still_averages_every_window(fitted):
    detector, X = fitted
    windows = SlidingWindowTransformer(window_size=WINDOW).fit(X)
    scaled = (windows.transform(X) - detector.mean_) / detector.scale_
    with torch.inference_mode():
        recon = detector.net_.module_(torch.as_tensor(scaled, dtype=torch.float32))
    recon = recon.numpy().astype(np.float64) * detector.scale_ + detector.mean_
    assert detector.score_stride_ > 1
    np.testing.assert_allclose(
        detector.reconstruct(X), windows.inverse_transform(recon), rtol=1e-5, atol=1e-6
    )


def test_series_errors_batches_do_not_change_the_result(fitted):
    detector, X = fitted
    scaled = (X - detector.mean_) / detector.scale_
    module = detector.net_.module_
    scaled = scaled[:60]
    one = series_errors(module, scaled, WINDOW, 3, batch_size=1)
    many = series_errors(module, scaled, WINDOW, 3, batch_size=1000)
    np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-9)
    assert one.shape == scaled.shape and one.dtype == np.float64


def test_transformer_aggregate_adds_only_into_the_covered_span():
    rng = np.random.default_rng(0)
    n, window, stride = 53, 7, 3
    transformer = SlidingWindowTransformer(window_size=window, stride=stride)
    windows = transformer.fit_transform(rng.normal(size=(n, 2)))
    values = rng.normal(size=windows.shape[:2])
    result = transformer.aggregate(values, n)
    grid = list(range(0, n - window + 1, stride))
    for t in (0, 1, 25, 46, 47, 50, 52):
        covering = [i for i, s in enumerate(grid) if s <= t < s + window]
        expected = (
            np.mean([values[i, t - grid[i]] for i in covering])
            if covering
            else values[-1, t - (n - window)]
        )
        assert result[t] == pytest.approx(expected)
