"""StreamingScorer(threshold_window=...): a threshold that follows the stream."""

import copy

import numpy as np
import pytest
from conftest import push_in, tiny_detector, waves
from hypothesis import given, settings
from hypothesis import strategies as st

from skae import StreamingScorer


@pytest.fixture(scope="module")
def detector():
    # one batch per epoch and per update, so the tests stay fast
    # the seed's rule, so that the detector's own threshold flags some rows too
    causal = tiny_detector(
        causal=True,
        max_windows_per_epoch=64,
        batch_size=64,
        threshold_rule="mean_k_sigma",
    )
    return causal.fit(waves(300))


def test_the_threshold_is_mu_plus_k_sigma_of_the_errors_before_the_row(detector):
    window = 50
    X = waves(200, seed=1)
    result = StreamingScorer(detector, threshold_window=window).push(X)
    # oracle: the held-out errors, then the stream's own scores, in order
    seen = np.r_[detector.heldout_errors_, result.scores]
    start = len(detector.heldout_errors_)
    expected = []
    for t in range(len(X)):
        before = seen[max(0, start + t - window) : start + t]
        expected.append(before.mean() + detector.n_sigmas * before.std())
    np.testing.assert_allclose(result.thresholds, expected, rtol=1e-10)
    np.testing.assert_array_equal(result.flags, result.scores > result.thresholds)


@settings(max_examples=10, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 90), max_size=6),
    update_every=st.sampled_from([None, 40]),
)
def test_any_chunking_gives_the_thresholds_of_one_push(detector, sizes, update_every):
    X = waves(260, seed=2)
    X[150:160] += 2.0

    def scorer():
        return StreamingScorer(
            copy.deepcopy(detector), update_every=update_every, threshold_window=30
        )

    one = scorer().push(X)
    scores, flags, thresholds = push_in(scorer(), X, sizes)
    # the network sees the windows in batches of other sizes: float32 rounding
    np.testing.assert_allclose(scores, one.scores, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(thresholds, one.thresholds, rtol=1e-5)
    near = np.isclose(one.scores, one.thresholds, rtol=1e-5)
    np.testing.assert_array_equal(flags[~near], one.flags[~near])
    assert len(np.unique(one.thresholds)) > 100  # it moves with every row


def test_a_threshold_does_not_depend_on_later_rows(detector):
    X = waves(240, seed=3)
    changed = X.copy()
    changed[180:] *= 3.0
    a = StreamingScorer(detector, threshold_window=40).push(X)
    b = StreamingScorer(detector, threshold_window=40).push(changed)
    np.testing.assert_allclose(b.thresholds[:181], a.thresholds[:181], rtol=1e-12)
    assert not np.allclose(b.thresholds[182:], a.thresholds[182:])


def test_a_lasting_level_shift_stops_being_flagged(detector):
    X = waves(900, seed=4)
    X[300:] += 1.5  # a new regime, for good
    frozen = StreamingScorer(detector).push(X)
    moving = StreamingScorer(detector, threshold_window=100).push(X)
    assert frozen.flags[300:330].any() and moving.flags[300:330].any()
    assert frozen.flags[700:].mean() > 0.5  # the fixed threshold flags it forever
    assert not moving.flags[700:].any()  # the moving one has learned it


def test_a_short_spike_stands_out_against_the_rows_before_it(detector):
    X = waves(600, seed=5)
    X[400:403] += 3.0
    result = StreamingScorer(detector, threshold_window=200).push(X)
    assert result.flags[400:412].any()
    assert not result.flags[:400].any()


def test_a_saved_scorer_resumes_with_its_recent_errors(detector, tmp_path):
    X = waves(300, seed=6)
    one = StreamingScorer(detector, threshold_window=70).push(X)
    scorer = StreamingScorer(detector, threshold_window=70)
    scorer.push(X[:120])
    scorer.save(tmp_path / "stream.skae")
    resumed = StreamingScorer.load(tmp_path / "stream.skae")
    assert resumed.threshold_window == 70
    rest = resumed.push(X[120:])
    np.testing.assert_allclose(rest.thresholds, one.thresholds[120:], rtol=1e-6)


def test_more_recent_errors_than_the_window_are_refused(detector, tmp_path):
    scorer = StreamingScorer(detector, threshold_window=20)
    scorer.push(waves(50))
    scorer._recent_errors = np.r_[scorer._recent_errors, scorer._recent_errors]
    scorer.save(tmp_path / "bad.skae")
    with pytest.raises(ValueError, match="stream_recent_errors_"):
        StreamingScorer.load(tmp_path / "bad.skae")


@pytest.mark.parametrize("bad", [0, 1, 2.5, True, "100"])
def test_a_bad_threshold_window_is_refused(detector, bad):
    with pytest.raises(ValueError, match="threshold_window"):
        StreamingScorer(detector, threshold_window=bad)


def test_without_heldout_errors_the_detectors_threshold_starts_the_stream(detector):
    bare = copy.deepcopy(detector)
    bare.heldout_errors_ = np.empty(0)
    result = StreamingScorer(bare, threshold_window=10).push(waves(30, seed=7))
    assert result.thresholds[0] == result.thresholds[1] == bare.threshold_
    assert result.thresholds[2] != bare.threshold_


@pytest.mark.slow
def test_skae_stream_threshold_window(detector, tmp_path):
    import io
    import subprocess
    import sys

    import pandas as pd

    from skae import save_model

    path = tmp_path / "causal.skae"
    save_model(detector, path)
    X = waves(120, seed=8)
    X[80:] += 1.0
    text = pd.DataFrame(X, columns=["a", "b"]).to_csv(index=False)
    result = subprocess.run(
        [sys.executable, "-m", "skae", "stream", str(path), "--threshold-window", "40"],
        input=text,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = pd.read_csv(io.StringIO(result.stdout))
    expected = StreamingScorer(detector, threshold_window=40).push(X)
    frozen = StreamingScorer(detector).push(X)
    assert not np.array_equal(expected.flags, frozen.flags)  # the option matters
    np.testing.assert_allclose(out["score"], expected.scores, rtol=1e-6)
    np.testing.assert_array_equal(out["is_anomaly"], expected.flags.astype(int))


def test_learning_from_normal_rows_uses_the_moving_thresholds_flags(
    detector, monkeypatch
):
    X = waves(300, seed=9)
    X[120:126] += 1.5  # flagged against the recent errors
    learner = copy.deepcopy(detector)
    learned = []
    real_learn = learner._learn

    def spy(rows, errors, starts):
        learned.append(errors.copy())
        return real_learn(rows, errors, starts)

    monkeypatch.setattr(learner, "_learn", spy)
    scorer = StreamingScorer(
        learner, update_every=100, learn_from="normal", threshold_window=40
    )
    result = scorer.push(X)
    judged = result.scores[:300]
    normal = judged[~result.flags[:300]]
    # the rows the moving threshold flagged are not learned from, the others are
    np.testing.assert_array_equal(np.concatenate(learned), normal)
    fixed = result.scores > learner.threshold_
    assert not np.array_equal(fixed, result.flags)  # the two rules differ here


def test_a_scorer_saved_between_updates_resumes_them(detector, tmp_path):
    X = waves(260, seed=10)
    X[150:156] += 1.5
    settings = dict(update_every=100, learn_from="normal", threshold_window=40)
    one = StreamingScorer(copy.deepcopy(detector), **settings).push(X)
    scorer = StreamingScorer(copy.deepcopy(detector), **settings)
    scorer.push(X[:130])  # 30 rows wait for the next update
    scorer.save(tmp_path / "stream.skae")
    rest = StreamingScorer.load(tmp_path / "stream.skae").push(X[130:])
    np.testing.assert_allclose(rest.scores, one.scores[130:], rtol=1e-6)
    np.testing.assert_allclose(rest.thresholds, one.thresholds[130:], rtol=1e-6)
