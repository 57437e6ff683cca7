"""Behaviour of LSTMAutoencoderDetector on series, sequences and ragged lists."""

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_detector, waves
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import LSTMAutoencoderDetector


@pytest.fixture(scope="module")
def fitted():
    X = waves()
    return tiny_detector().fit(X), X


@pytest.mark.slow
def test_planted_shape_change_is_flagged():
    # the shape of the first sensor changes (a square wave replaces the sine) for
    # 40 steps; the flags must fall on those steps
    X = waves(2400)
    train, test = X[:1500], X[1500:].copy()
    start, stop = 500, 540
    test[start:stop, 0] = np.sign(test[start:stop, 0]) * 1.5
    detector = LSTMAutoencoderDetector(
        window_size=24,
        hidden_size=32,
        max_epochs=30,
        stride=2,
        score_stride=1,  # every window scores every step: flags to the step
        random_state=0,
    ).fit(train)
    flagged = np.flatnonzero(detector.predict(test) == -1)
    assert len(flagged) > 0
    # flags sit on the anomaly or on the windows that overlap it
    near = (flagged >= start - 24) & (flagged < stop + 24)
    assert near.mean() >= 0.9
    # most of the anomaly itself is flagged
    assert np.isin(np.arange(start, stop), flagged).mean() >= 0.5
    # the anomaly's error is far above a typical step's
    errors = -detector.score_samples(test)
    assert errors[start:stop].mean() > 20 * np.median(errors)


def test_threshold_is_mean_plus_k_sigma_of_heldout_errors(fitted):
    detector, _ = fitted
    errors = detector.heldout_errors_
    assert errors.ndim == 1 and len(errors) == 160  # last 20% of 800 steps
    expected = errors.mean() + detector.n_sigmas * errors.std()
    assert detector.threshold_ == pytest.approx(expected, rel=1e-12)
    assert detector.offset_ == -detector.threshold_
    assert detector.heldout_mean_ == pytest.approx(errors.mean())


def test_n_sigmas_moves_the_threshold():
    X = waves()
    low = tiny_detector(n_sigmas=1.0, threshold_rule="mean_k_sigma").fit(X)
    high = tiny_detector(n_sigmas=5.0, threshold_rule="mean_k_sigma").fit(X)
    np.testing.assert_allclose(low.heldout_errors_, high.heldout_errors_)
    assert high.threshold_ - low.threshold_ == pytest.approx(
        4 * low.heldout_errors_.std()
    )


def test_decision_predict_and_score_agree(fitted):
    detector, X = fitted
    scores = detector.score_samples(X)
    decision = detector.decision_function(X)
    np.testing.assert_allclose(decision, scores - detector.offset_)
    prediction = detector.predict(X)
    assert prediction.dtype.kind == "i"
    np.testing.assert_array_equal(prediction, np.where(decision < 0, -1, 1))
    assert detector.score(X) == pytest.approx(scores.mean())
    # higher is more normal: the error is the negated score
    assert (scores <= 0).all()


def test_every_time_step_gets_a_score(fitted):
    detector, X = fitted
    scores = detector.score_samples(X[:37])
    assert scores.shape == (37,)
    assert np.isfinite(scores).all()


def test_same_random_state_gives_identical_scores():
    X = waves()
    a = tiny_detector(random_state=7).fit(X)
    b = tiny_detector(random_state=7).fit(X)
    c = tiny_detector(random_state=8).fit(X)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert not np.array_equal(a.score_samples(X), c.score_samples(X))


def test_fit_does_not_touch_global_torch_rng():
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_detector(max_epochs=1).fit(waves(200))
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_appending_data_changes_only_the_last_window(fitted):
    detector, X = fitted
    w = detector.window_size
    short = detector.score_samples(X[:500])
    longer = detector.score_samples(X[:600])
    np.testing.assert_allclose(longer[: 500 - (w - 1)], short[: 500 - (w - 1)])
    assert not np.allclose(longer[500 - (w - 1) : 500], short[500 - (w - 1) :])


def test_threshold_does_not_depend_on_scored_data(fitted):
    detector, X = fitted
    before = detector.threshold_
    detector.predict(X * 10)
    assert detector.threshold_ == before


def test_pipeline_with_scaler_fits_and_predicts():
    X = waves() * 50 + 300
    pipe = make_pipeline(StandardScaler(), tiny_detector())
    pipe.set_params(lstmautoencoderdetector__random_state=0)
    labels = pipe.fit(X).predict(X)
    assert labels.shape == (len(X),)
    assert set(np.unique(labels)) <= {-1, 1}
    assert pipe.score_samples(X).shape == (len(X),)


def test_contamination_float_flags_that_share_of_training_steps():
    X = waves()
    detector = tiny_detector(contamination=0.1)
    labels = detector.fit_predict(X)
    assert abs((labels == -1).mean() - 0.1) < 0.01
    errors = -detector.score_samples(X)
    assert detector.threshold_ == pytest.approx(np.percentile(errors, 90))


def test_dataframe_keeps_feature_names():
    X = pd.DataFrame(waves(300), columns=["pressure", "flow"])
    detector = tiny_detector(max_epochs=1).fit(X)
    np.testing.assert_array_equal(detector.feature_names_in_, ["pressure", "flow"])
    with pytest.raises(ValueError, match="feature names"):
        detector.score_samples(X.rename(columns={"flow": "temperature"}))


def test_reconstruct_and_encode_series(fitted):
    detector, X = fitted
    X_hat = detector.reconstruct(X)
    assert X_hat.shape == X.shape
    # in the data's units, and a better guess than the series' mean
    assert np.mean((X_hat - X) ** 2) < np.mean((X - X.mean(axis=0)) ** 2)
    codes = detector.encode(X)
    assert codes.shape == (len(X) - detector.window_size + 1, detector.hidden_size)


@pytest.mark.parametrize("decoder_feed", ["repeat", "state"])
def test_three_d_sequences_score_per_sequence(decoder_feed):
    X = waves(2000)
    sequences = np.stack([X[i : i + 30] for i in range(0, 1950, 30)])
    detector = tiny_detector(decoder_feed=decoder_feed).fit(sequences)
    scores = detector.score_samples(sequences)
    assert scores.shape == (len(sequences),)
    assert detector.heldout_errors_.shape == (13,)  # ceil(0.2 * 65)
    assert detector.reconstruct(sequences).shape == sequences.shape
    assert detector.encode(sequences).shape == (len(sequences), 8)
    # a corrupted sequence scores lower than the normal ones
    broken = sequences[:1].copy()
    broken[0, 10:20, 0] = 3.0
    assert detector.score_samples(broken)[0] < scores.min()


def test_ragged_list_scores_each_sequence():
    X = waves(3000)
    rng = np.random.default_rng(1)
    starts = np.arange(0, 2800, 70)
    sequences = [
        X[s : s + n]
        for s, n in zip(starts, rng.integers(15, 60, len(starts)), strict=True)
    ]
    detector = tiny_detector()
    detector.fit(sequences)
    scores = detector.score_samples(sequences)
    assert scores.shape == (len(sequences),)
    alone = detector.score_samples([sequences[3]])
    np.testing.assert_allclose(alone[0], scores[3], rtol=1e-5)
    recon = detector.reconstruct(sequences)
    assert [r.shape for r in recon] == [s.shape for s in sequences]


def test_callers_arrays_are_not_modified():
    X = waves(400)
    X_before = X.copy()
    sequences = [X[:50].copy(), X[50:120].copy(), X[120:160].copy(), X[200:260].copy()]
    seq_before = [s.copy() for s in sequences]
    detector = tiny_detector(max_epochs=1).fit(X)
    detector.score_samples(X)
    detector.predict(X)
    detector.reconstruct(X)
    detector.encode(X)
    np.testing.assert_array_equal(X, X_before)
    detector = tiny_detector(hidden_size=4, max_epochs=1)
    detector.fit(sequences).score_samples(sequences)
    for s, before in zip(sequences, seq_before, strict=True):
        np.testing.assert_array_equal(s, before)


def test_verbose_prints_the_epoch_table(capsys):
    tiny_detector(verbose=1).fit(waves(200))
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_loss" in out


def test_history_and_early_stopping():
    detector = tiny_detector(max_epochs=200, patience=2, lr=0.05)
    detector.fit(waves(300))
    epochs = len(detector.history_)
    assert 3 <= epochs < 200
    valid = detector.history_[:, "valid_loss"]
    assert len(valid) == epochs and np.isfinite(valid).all()
