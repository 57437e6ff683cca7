"""Causal scores, partial_fit and the StreamingScorer (issue 16)."""

import copy
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import push_in, tiny_detector, waves
from hypothesis import given, settings
from hypothesis import strategies as st

from skae import StreamingScorer, load_model, save_model
from skae._forgetting import merge_errors

WINDOW, SMOOTHING = 12, 3
STREAMING = dict(
    window_size=WINDOW,
    score_smoothing=SMOOTHING,
    # one batch per epoch and per update, so the tests stay fast
    max_windows_per_epoch=64,
    batch_size=64,
)


@pytest.fixture(scope="module")
def causal():
    return tiny_detector(STREAMING, causal=True, forget_half_life=150).fit(waves(400))


def _brute_force_causal(detector, X):
    """Score each step by the window ending at it (or its prefix), one at a time."""
    module = detector.net_.module_
    scaled = (X - detector.mean_) / detector.scale_
    scores = []
    for t in range(len(X)):
        segment = scaled[max(0, t - WINDOW + 1) : t + 1]
        with torch.no_grad():
            recon = module(torch.tensor(segment[None], dtype=torch.float32))
        errors = ((segment - recon[0].double().numpy()) ** 2).mean(axis=1)
        scores.append(errors[-(SMOOTHING + 1) :].mean())
    return np.array(scores)


# ------------------------------------------------------------- causal scores


def test_causal_scores_match_a_brute_force_window_per_step(causal):
    X = waves(60, seed=3)
    np.testing.assert_allclose(
        -causal.score_samples(X), _brute_force_causal(causal, X), rtol=1e-5
    )


@settings(max_examples=8, deadline=None)
@given(cut=st.integers(WINDOW, 299), shift=st.floats(-5, 5, allow_nan=False))
def test_a_causal_score_does_not_depend_on_later_data(causal, cut, shift):
    X = waves(300, seed=1)
    changed = X.copy()
    changed[cut:] += shift
    changed[cut:, 0] *= -1
    before = causal.score_samples(X)[:cut]
    np.testing.assert_allclose(
        causal.score_samples(changed)[:cut], before, rtol=1e-6, atol=1e-12
    )
    # and the prefix alone scores the same
    np.testing.assert_allclose(causal.score_samples(X[:cut]), before, rtol=1e-6)


def test_offline_scores_do_look_ahead():
    """The reason for the setting: an offline score moves with later data."""
    detector = tiny_detector(STREAMING).fit(waves(400))
    X = waves(300, seed=1)
    changed = X.copy()
    changed[200:] += 3.0
    assert not np.allclose(
        detector.score_samples(changed)[190:200], detector.score_samples(X)[190:200]
    )


def test_the_threshold_comes_from_causal_heldout_scores(causal):
    X = waves(400)
    n_train = 400 - int(np.ceil(0.2 * 400))
    # held-out steps are scored with the window_size - 1 steps before them
    np.testing.assert_allclose(
        causal.heldout_errors_, -causal.score_samples(X)[n_train:], rtol=1e-6
    )
    assert causal.threshold_ == pytest.approx(
        causal.heldout_errors_.mean() + 6 * causal.heldout_errors_.std()
    )


def test_set_params_causal_after_fit_changes_nothing(causal):
    X = waves(200, seed=2)
    expected = causal.score_samples(X)
    detector = copy.deepcopy(causal).set_params(causal=False)
    np.testing.assert_array_equal(detector.score_samples(X), expected)


def test_causal_mahalanobis_contributions_sum_to_the_score():
    detector = tiny_detector(STREAMING, causal=True, anomaly_score="mahalanobis")
    detector.fit(waves(400))
    X = waves(100, seed=5)
    np.testing.assert_allclose(
        detector.feature_contributions(X).sum(axis=1), -detector.score_samples(X)
    )


# ------------------------------------------------------------ the scorer


def test_the_scorer_scores_as_the_detector_does(causal):
    X = waves(500, seed=4)
    scores, flags, thresholds = push_in(StreamingScorer(causal), X, [1, 2, 100])
    np.testing.assert_allclose(scores, -causal.score_samples(X), rtol=1e-6)
    np.testing.assert_array_equal(flags, causal.predict(X) == -1)
    assert np.all(thresholds == causal.threshold_)


@settings(max_examples=10, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 130), max_size=8),
    update_every=st.sampled_from([None, 7, 50]),
    learn_from=st.sampled_from(["normal", "all"]),
)
def test_any_chunking_gives_the_scores_of_one_push(
    causal, sizes, update_every, learn_from
):
    X = waves(330, seed=6)
    X[200:215] += 2.0  # an anomaly, which "normal" does not learn from
    one = StreamingScorer(
        copy.deepcopy(causal), update_every=update_every, learn_from=learn_from
    ).push(X)
    chunked = push_in(
        StreamingScorer(
            copy.deepcopy(causal), update_every=update_every, learn_from=learn_from
        ),
        X,
        sizes,
    )
    np.testing.assert_allclose(chunked[0], one.scores, rtol=1e-6, atol=1e-12)
    # the updated thresholds come from errors that are as close as the scores
    # (chunks change the batches the network runs on, hence the float32 rounding)
    np.testing.assert_allclose(chunked[2], one.thresholds, rtol=1e-6)
    # a flag can only differ where a score is within rounding of the threshold
    near = np.isclose(one.scores, one.thresholds, rtol=1e-6)
    np.testing.assert_array_equal(chunked[1][~near], one.flags[~near])
    if update_every is not None:
        assert len(np.unique(one.thresholds)) > 1  # the updates did happen


def test_updates_learn_a_new_regime_and_move_the_threshold(causal):
    X = waves(1200, seed=7)
    X[300:] = 2.0 * X[300:] + 1.5  # a lasting change
    frozen = StreamingScorer(copy.deepcopy(causal)).push(X)
    learning = StreamingScorer(
        copy.deepcopy(causal).set_params(lr=0.01, max_windows_per_epoch=1024),
        update_every=50,
        learn_from="all",
    ).push(X)
    late = slice(900, None)
    assert frozen.flags[late].mean() > 0.5
    assert learning.scores[late].mean() < 0.5 * frozen.scores[late].mean()
    assert learning.flags[late].mean() < 0.5 * frozen.flags[late].mean()


def test_learning_from_normal_rows_merges_only_their_errors(causal):
    detector = copy.deepcopy(causal)
    scorer = StreamingScorer(detector, update_every=100)
    X = waves(100, seed=8)
    X[40:60] += 4.0
    result = scorer.push(X)
    assert 0 < result.flags.sum() < 100
    expected = merge_errors(
        len(causal.heldout_errors_),
        causal.heldout_mean_,
        causal.heldout_std_**2,
        result.scores[~result.flags],
        150,
    )
    assert detector.heldout_weight_ == pytest.approx(expected[0])
    assert detector.heldout_mean_ == pytest.approx(expected[1])
    assert detector.heldout_std_ == pytest.approx(np.sqrt(expected[2]))


def test_memory_does_not_grow_with_the_stream(causal):
    scorer = StreamingScorer(copy.deepcopy(causal), update_every=40)
    for seed in range(6):
        scorer.push(waves(250, seed=seed))
        assert len(scorer._rows) < WINDOW - 1 + 40
        assert len(scorer._pending_errors) < 40
    assert scorer.n_steps_ == 1500
    frozen = StreamingScorer(causal)
    frozen.push(waves(1000))
    assert len(frozen._rows) == WINDOW - 1


def test_a_dataframe_is_pushed_by_column_name():
    X = pd.DataFrame(waves(400), columns=["a", "b"])
    detector = tiny_detector(STREAMING, causal=True).fit(X)
    scorer = StreamingScorer(detector)
    result = scorer.push(X.iloc[:50])
    np.testing.assert_allclose(
        result.scores, -detector.score_samples(X.iloc[:50]), rtol=1e-6
    )
    with pytest.raises(ValueError, match="feature names"):
        scorer.push(X.iloc[:5].rename(columns={"a": "c"}))


def test_bad_scorer_arguments_are_refused(causal):
    offline = tiny_detector(STREAMING).fit(waves(400))
    with pytest.raises(ValueError, match="causal=True"):
        StreamingScorer(offline)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="update_every"):
            StreamingScorer(causal, update_every=bad)
    with pytest.raises(ValueError, match="learn_from"):
        StreamingScorer(causal, learn_from="anomalies")
    scorer = StreamingScorer(causal)
    with pytest.raises(ValueError, match="features"):
        scorer.push(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN|infinity"):
        scorer.push(np.full((2, 2), np.nan))
    assert scorer.push(np.empty((0, 2))).scores.shape == (0,)
    assert scorer.n_steps_ == 0


def test_pushed_data_are_not_modified(causal):
    X = waves(120)
    copy_of_x = X.copy()
    StreamingScorer(copy.deepcopy(causal), update_every=30).push(X)
    np.testing.assert_array_equal(X, copy_of_x)


# ------------------------------------------------------------ saving


def test_a_saved_scorer_resumes_the_stream(causal, tmp_path):
    X = waves(400, seed=9)
    one = StreamingScorer(copy.deepcopy(causal), update_every=60).push(X)
    scorer = StreamingScorer(copy.deepcopy(causal), update_every=60)
    first = scorer.push(X[:175])
    path = tmp_path / "stream.skae"
    scorer.save(path)
    resumed = StreamingScorer.load(path)
    assert (resumed.n_steps_, resumed.update_every) == (175, 60)
    rest = resumed.push(X[175:])
    np.testing.assert_allclose(
        np.r_[first.scores, rest.scores], one.scores, rtol=1e-6, atol=1e-12
    )
    # load_model reads the detector and leaves the stream state out
    detector = load_model(path)
    assert not {"stream_info_", "stream_rows_"} & set(vars(detector))
    assert detector.n_partial_fits_ == 2


def test_a_detector_file_loads_as_a_fresh_scorer(causal, tmp_path):
    path = tmp_path / "model.skae"
    save_model(causal, path)
    scorer = StreamingScorer.load(path)
    assert scorer.n_steps_ == 0 and scorer.update_every is None
    X = waves(50)
    np.testing.assert_allclose(
        scorer.push(X).scores, -causal.score_samples(X), rtol=1e-6
    )


def _rewrite(path, out, edit):
    """Write ``out``: ``path`` with its JSON model edited and digests recomputed."""
    from skae import _codec

    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read(_codec.JSON_NAME))
        weights = archive.read(_codec.WEIGHTS_NAME)
    edit(document["model"])
    _codec.write(out, document["model"], weights)


def test_an_inconsistent_stream_state_is_refused(causal, tmp_path):
    scorer = StreamingScorer(copy.deepcopy(causal), update_every=60)
    scorer.push(waves(100))
    path = tmp_path / "stream.skae"
    scorer.save(path)

    def more_steps_than_rows(model):
        model["fitted"]["stream_info_"]["n_steps"] = 5  # 40 errors wait

    bad = tmp_path / "bad.skae"
    _rewrite(path, bad, more_steps_than_rows)
    with pytest.raises(ValueError, match="stream state is inconsistent"):
        StreamingScorer.load(bad)

    def wrong_width(model):
        model["fitted"]["stream_rows_"]["shape"][1] = 1
        rows = model["fitted"]["stream_rows_"]
        rows["__ndarray__"] = [r[:1] for r in rows["__ndarray__"]]

    _rewrite(path, bad, wrong_width)
    with pytest.raises(ValueError, match="stream_rows_"):
        StreamingScorer.load(bad)


# ------------------------------------------------------------ partial_fit


def test_partial_fit_judges_before_it_learns(causal):
    detector = copy.deepcopy(causal)
    X = waves(300, seed=10) * 1.3
    errors_before = -detector.score_samples(X)
    weights_before = copy.deepcopy(detector.net_.module_.state_dict())
    detector.partial_fit(X)
    weight, mean, variance = merge_errors(
        len(causal.heldout_errors_),
        causal.heldout_mean_,
        causal.heldout_std_**2,
        errors_before,
        150,
    )
    assert detector.heldout_mean_ == pytest.approx(mean)
    assert detector.threshold_ == pytest.approx(mean + 6 * np.sqrt(variance))
    assert detector.offset_ == -detector.threshold_
    assert detector.threshold_info_["weight"] == pytest.approx(weight)
    changed = [
        not torch.equal(weights_before[k], v)
        for k, v in detector.net_.module_.state_dict().items()
    ]
    assert any(changed)
    assert detector.n_partial_fits_ == 1


def test_partial_fit_learns_a_new_regime(causal):
    detector = copy.deepcopy(causal).set_params(lr=0.01, max_windows_per_epoch=1024)
    shifted = waves(300, seed=11) * 2.0 + 1.5
    before = -detector.score_samples(shifted).mean()
    for seed in range(8):
        detector.partial_fit(waves(300, seed=20 + seed) * 2.0 + 1.5)
    assert -detector.score_samples(shifted).mean() < 0.5 * before


def test_forget_half_life_sets_how_fast_the_threshold_follows(causal):
    noisy = [
        waves(300, seed=s) + np.random.default_rng(s).normal(size=(300, 2))
        for s in range(4)
    ]
    thresholds = {}
    for half_life in (None, 50):
        detector = copy.deepcopy(causal).set_params(
            forget_half_life=half_life, lr=1e-12, threshold_rule="mean_k_sigma"
        )
        for X in noisy:
            detector.partial_fit(X)
        thresholds[half_life] = detector.threshold_
        assert detector.heldout_errors_.size <= 10_000
    recent = -causal.score_samples(noisy[-1])
    # forgetting fast, mu tracks the recent errors; never forgetting, the
    # held-out errors of fit still pull it down
    fitted_k_sigma = causal.threshold_info_["k_sigma_value"]
    assert thresholds[50] > thresholds[None] > fitted_k_sigma
    assert abs(
        copy.deepcopy(causal)
        .set_params(forget_half_life=50)
        .partial_fit(noisy[-1])
        .heldout_mean_
        - recent.mean()
    ) < abs(causal.heldout_mean_ - recent.mean())


def test_partial_fit_is_reproducible_and_fits_an_unfitted_detector(causal):
    X = waves(300, seed=12)
    a = copy.deepcopy(causal).partial_fit(X).score_samples(X)
    b = copy.deepcopy(causal).partial_fit(X).score_samples(X)
    np.testing.assert_array_equal(a, b)
    fresh = tiny_detector(STREAMING, causal=True).partial_fit(waves(400))
    expected = tiny_detector(STREAMING, causal=True).fit(waves(400))
    assert fresh.threshold_ == expected.threshold_
    assert not hasattr(fresh, "n_partial_fits_")


def test_partial_fit_refuses_bad_input_and_keeps_the_data(causal):
    detector = copy.deepcopy(causal)
    with pytest.raises(ValueError, match="features"):
        detector.partial_fit(np.zeros((100, 3)))
    with pytest.raises(ValueError, match="window_size"):
        detector.partial_fit(np.zeros((WINDOW - 1, 2)))
    with pytest.raises(ValueError, match="2-D series"):
        detector.partial_fit(np.zeros((4, 20, 2)))
    X = waves(100)
    before = X.copy()
    detector.partial_fit(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("rule", ["pot", "contamination"])
def test_partial_fit_with_the_other_threshold_rules(rule, tmp_path):
    params = {"threshold_rule": "pot"} if rule == "pot" else {"contamination": 0.1}
    detector = tiny_detector(STREAMING, causal=True, **params)
    with pytest.warns(UserWarning) if rule == "pot" else _nothing():
        detector.fit(waves(400))
    X = waves(2000, seed=13)
    detector.partial_fit(X)
    recent = detector.heldout_errors_
    assert recent.size == 80 + 2000  # held-out errors, then the new ones
    if rule == "contamination":
        assert detector.threshold_ == pytest.approx(np.percentile(recent, 90))
    else:
        assert detector.threshold_info_["rule"] == "pot"
        assert detector.threshold_ > np.quantile(recent, 0.99)
    path = tmp_path / "m.skae"
    save_model(detector, path)
    restored = load_model(path)
    assert restored.threshold_ == detector.threshold_
    assert restored.heldout_weight_ == detector.heldout_weight_


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_fit_forgets_what_partial_fit_learned(causal):
    detector = copy.deepcopy(causal).partial_fit(waves(200, seed=14))
    detector.fit(waves(400))
    assert not hasattr(detector, "heldout_weight_")
    assert detector.threshold_ == causal.threshold_


def test_context_rows_are_read_but_not_scored(causal):
    X = waves(300, seed=15)
    scorer = StreamingScorer(causal, context=X[:100])
    result = scorer.push(X[100:])
    np.testing.assert_allclose(result.scores, -causal.score_samples(X)[100:], rtol=1e-6)
    assert scorer.n_steps_ == 200


def test_partial_fit_keeps_the_default_rule_above_the_recent_errors(causal):
    detector = copy.deepcopy(causal).set_params(
        threshold_rule="above_heldout", lr=1e-12
    )
    X = waves(300, seed=21)
    X[100:140] += np.random.default_rng(21).normal(scale=2.0, size=(40, 2))
    detector.partial_fit(X)
    info = detector.threshold_info_
    recent = detector.heldout_errors_
    assert info["rule"] == "above_heldout"
    expected = max(info["k_sigma_value"], 2 * recent.max() - np.median(recent))
    assert detector.threshold_ == pytest.approx(expected)
    assert detector.threshold_ > recent.max()
    k_sigma = copy.deepcopy(causal).set_params(threshold_rule="mean_k_sigma", lr=1e-12)
    assert k_sigma.partial_fit(X).threshold_ == pytest.approx(info["k_sigma_value"])
