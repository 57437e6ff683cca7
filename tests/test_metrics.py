"""skae.metrics: point-wise, event-wise, range-aware and NAB metrics; scorers."""

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import average_precision_score, get_scorer
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from skae.datasets import fetch_nab, fetch_skab, nab_series_names, skab_file_names
from skae.metrics import (
    NAB_PROFILES,
    anomaly_scorer,
    auc_pr,
    auc_roc,
    event_recall,
    nab_normalized_score,
    nab_score,
    point_adjusted_f1,
    precision_recall_f1,
    skab_outlier_scores,
    vus_pr,
)

# --------------------------------------------------------------------------
# labels and predictions


def test_precision_recall_f1_by_hand():
    y_true = [0, 0, 1, 1, 1, 0, 0, 1]
    y_pred = [0, 1, 1, 1, 0, 0, 1, 0]  # TP 2, FP 2, FN 2, TN 2
    assert precision_recall_f1(y_true, y_pred) == (0.5, 0.5, 0.5)
    y_pred = [0, 0, 1, 1, 1, 0, 1, 0]  # TP 3, FP 1, FN 1
    assert precision_recall_f1(y_true, y_pred) == (0.75, 0.75, 0.75)
    y_pred = [0, 0, 1, 0, 0, 0, 0, 0]  # TP 1, FN 3: F1 = 1 / (1 + 3 / 2)
    assert precision_recall_f1(y_true, y_pred) == (1.0, 0.25, 0.4)


def test_detector_and_binary_predictions_agree():
    rng = np.random.RandomState(0)
    y_true = rng.randint(0, 2, 50)
    binary = rng.randint(0, 2, 50)
    detector = np.where(binary == 1, -1, 1)
    expected = precision_recall_f1(y_true, binary)
    assert precision_recall_f1(y_true, detector) == expected
    assert precision_recall_f1(y_true, binary.astype(bool)) == expected
    assert precision_recall_f1(pd.Series(y_true), binary.astype(float)) == expected
    assert precision_recall_f1(y_true.reshape(-1, 1), binary) == expected


def test_all_ones_predictions_are_ambiguous_unless_told():
    y_true = [0, 1, 1, 0]
    with pytest.raises(ValueError, match="anomaly_label"):
        precision_recall_f1(y_true, [1, 1, 1, 1])
    # all anomalies with 0/1 labels, all normal with -1/+1 labels
    assert precision_recall_f1(y_true, [1, 1, 1, 1], anomaly_label=1) == (
        0.5,
        1.0,
        2 / 3,
    )
    assert precision_recall_f1(y_true, [1, 1, 1, 1], anomaly_label=-1) == (0, 0, 0)
    with pytest.raises(ValueError, match="-1"):
        precision_recall_f1(y_true, [0, 1, 1, 0], anomaly_label=-1)


def test_no_anomalies_and_all_anomalies():
    y_none = np.zeros(6, dtype=int)
    assert precision_recall_f1(y_none, np.zeros(6, dtype=int)) == (0.0, 0.0, 0.0)
    p, r, f = precision_recall_f1(y_none, y_none, zero_division=np.nan)
    assert np.isnan(p) and np.isnan(r) and np.isnan(f)
    assert precision_recall_f1(y_none, [0, 1, 0, 0, 0, 0])[0] == 0.0
    y_all = np.ones(6, dtype=int)
    assert precision_recall_f1(y_all, y_all, anomaly_label=1) == (1.0, 1.0, 1.0)
    assert precision_recall_f1(y_all, [0, 0, 0, 1, 1, 1]) == (1.0, 0.5, 2 / 3)


@pytest.mark.parametrize(
    "y_true, match",
    [
        ([-1, 1, 1, -1], r"\(y == -1\)\.astype\(int\)"),
        (["normal", "anomaly", "normal", "normal"], "0 \\(normal\\) and 1"),
        ([0, 2, 1, 0], "0 \\(normal\\) and 1"),
        ([0.0, np.nan, 1.0, 0.0], "0 \\(normal\\) and 1"),
    ],
)
def test_bad_labels_raise_with_a_conversion_hint(y_true, match):
    with pytest.raises(ValueError, match=match):
        precision_recall_f1(y_true, [0, 1, 0, 0])
    with pytest.raises(ValueError, match=match):
        auc_pr(y_true, [0.1, 0.2, 0.3, 0.4])


def test_bad_shapes_and_predictions():
    with pytest.raises(ValueError, match="different lengths"):
        precision_recall_f1([0, 1, 0], [0, 1])
    with pytest.raises(ValueError, match="1-D"):
        precision_recall_f1(np.zeros((3, 2)), [0, 1, 0])
    with pytest.raises(ValueError, match="y_pred must hold"):
        precision_recall_f1([0, 1, 0], [0, 2, 0])
    with pytest.raises(ValueError, match="NaN"):
        auc_roc([0, 1, 0], [0.1, np.nan, 0.2])
    with pytest.raises(ValueError, match="anomaly_label"):
        precision_recall_f1([0, 1, 0], [0, 1, 0], anomaly_label=0)


# --------------------------------------------------------------------------
# SKAB aggregate


def test_skab_outlier_scores_sums_counts_over_files():
    result = skab_outlier_scores(
        [[0, 0, 1, 1, 1], [0, 0, 0, 1]],
        [[0, 1, 1, 1, 0], [1, 0, 0, 1]],
    )
    # file 1: TP 2, FP 1, FN 1, TN 1; file 2: TP 1, FP 1, FN 0, TN 2
    assert (result.tp, result.fp, result.fn, result.tn) == (3, 2, 1, 3)
    assert result.f1 == pytest.approx(3 / (3 + 3 / 2))
    assert result.far == pytest.approx(100 * 2 / 5)
    assert result.mar == pytest.approx(100 * 1 / 4)
    assert result.precision == 0.6 and result.recall == 0.75


def test_skab_outlier_scores_infers_one_convention_for_all_files():
    # the second file is flagged throughout: with 0/1 elsewhere, 1 = anomaly
    result = skab_outlier_scores([[0, 1], [0, 1]], [[0, 1], [1, 1]])
    assert (result.tp, result.fp, result.fn, result.tn) == (2, 1, 0, 1)
    result = skab_outlier_scores([[0, 1], [0, 1]], [[1, -1], [1, 1]])
    assert (result.tp, result.fp, result.fn, result.tn) == (1, 0, 1, 2)
    with pytest.raises(ValueError, match="different lengths"):
        skab_outlier_scores([[0, 1]], [[0, 1], [0, 1]])


def _skab_test_parts(shared_data):
    """Map the first test timestamp of each leaderboard file to its test labels."""
    parts = {}
    for name in skab_file_names():
        skab = fetch_skab(name, data_home=shared_data, download_if_missing=False)
        labels = pd.Series(skab.target, index=skab.timestamps)[skab.train_size :]
        parts[labels.index[0]] = labels
    return parts


def test_skab_leaderboard_lstm_ae_counts(shared_data):
    """The SKAB leaderboard's stored LSTM-AE predictions give its published counts."""
    predictions = pd.read_pickle(shared_data / "SKAB/results/results-LSTM_AE.pkl")
    # a list of 34 pandas Series of 0/1, one per file, in directory-listing
    # order rather than sorted: match each to its file by its timestamps
    assert isinstance(predictions, list) and len(predictions) == 34
    parts = _skab_test_parts(shared_data)
    y_trues = []
    for prediction in predictions:
        labels = parts.pop(prediction.index[0])
        assert labels.index.equals(prediction.index)
        y_trues.append(labels.to_numpy())
    assert not parts

    result = skab_outlier_scores(y_trues, predictions)
    assert (result.tp, result.tn, result.fp, result.fn) == (9461, 7725, 3305, 3310)
    assert result.f1 == pytest.approx(0.74, abs=0.005)
    assert result.far == pytest.approx(29.96, abs=0.005)
    assert result.mar == pytest.approx(25.92, abs=0.005)

    # flagging every test step: F1 0.698 at FAR 100 % (12,771 of 23,801 anomalous)
    everything = [np.ones(len(y), dtype=int) for y in y_trues]
    result = skab_outlier_scores(y_trues, everything, anomaly_label=1)
    assert (result.tp, result.fp) == (12771, 23801 - 12771)
    assert result.f1 == pytest.approx(0.698, abs=0.0005)
    assert result.far == 100.0 and result.mar == 0.0


# --------------------------------------------------------------------------
# event-wise and point-adjusted


def test_event_recall_and_point_adjusted_f1_by_hand():
    y_true = [0, 1, 1, 1, 0, 0, 1, 1, 0, 1]  # segments [1, 3], [6, 7], [9]
    y_pred = [1, 0, 0, 1, 0, 0, 0, 0, 0, 1]
    assert event_recall(y_true, y_pred) == pytest.approx(2 / 3)
    # adjusted: segment 1 and 3 fully flagged -> TP 4, FP 1, FN 2
    assert point_adjusted_f1(y_true, y_pred) == pytest.approx(4 / (4 + 3 / 2))
    assert precision_recall_f1(y_true, y_pred)[2] == pytest.approx(2 / (2 + 5 / 2))
    detector = np.where(np.array(y_pred) == 1, -1, 1)
    assert event_recall(y_true, detector) == pytest.approx(2 / 3)


def test_point_adjustment_is_optimistic():
    # one flag inside a long segment earns the whole segment
    y_true = np.r_[np.zeros(100), np.ones(100), np.zeros(100)].astype(int)
    y_pred = np.zeros(300, dtype=int)
    y_pred[150] = 1
    assert precision_recall_f1(y_true, y_pred)[2] < 0.02
    assert point_adjusted_f1(y_true, y_pred) == 1.0


def test_event_recall_without_anomalies_is_undefined():
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(event_recall([0, 0, 0], [0, 1, 0]))
    assert event_recall([1, 1, 1], [0, 0, 0]) == 0.0
    assert point_adjusted_f1([0, 0, 0], [0, 0, 0]) == 0.0


# --------------------------------------------------------------------------
# threshold-free


def test_auc_pr_and_auc_roc_by_hand():
    y_true = [0, 0, 1, 1]
    scores = [0.1, 0.4, 0.35, 0.8]
    # ranking: 0.8 (anomaly), 0.4 (normal), 0.35 (anomaly), 0.1 (normal)
    assert auc_pr(y_true, scores) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert auc_roc(y_true, scores) == pytest.approx(3 / 4)
    # negating the scores reverses the ranking: the score_samples trap
    assert auc_roc(y_true, np.negative(scores)) == pytest.approx(1 / 4)


def test_threshold_free_undefined_cases():
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(auc_pr([0, 0, 0], [0.1, 0.2, 0.3]))
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(auc_roc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert auc_pr([1, 1, 1], [0.1, 0.2, 0.3]) == 1.0


def test_vus_pr_perfect_and_hand_computed():
    y_true = [0, 0, 0, 1, 1, 0, 0, 0]
    assert vus_pr(y_true, y_true, max_buffer=3) == pytest.approx(1.0)
    # a single flag one step early: no credit without a buffer, partial with
    early = [0, 0, 1, 0, 0, 0, 0, 0]
    a, b, c = math.sqrt(1 / 2), math.sqrt(2 / 3), math.sqrt(1 / 3)
    ap0 = 2 / 8  # only the final cut, where everything is flagged, finds them
    ap1 = (a / 2) * a + (1 - a / 2) * (2 + 2 * a) / 8
    ap2 = (b / 2) * b + (1 - b / 2) * (2 + 2 * b + 2 * c) / 8
    assert vus_pr(y_true, early, max_buffer=0) == pytest.approx(ap0)
    assert vus_pr(y_true, early, max_buffer=2) == pytest.approx((ap0 + ap1 + ap2) / 3)


def test_vus_pr_rewards_near_misses_and_counts_every_segment():
    rng = np.random.RandomState(0)
    y_true = np.zeros(500, dtype=int)
    y_true[100:120] = 1
    scores = rng.uniform(size=500)
    # one segment, no buffer: average precision
    assert vus_pr(y_true, scores, max_buffer=0) == pytest.approx(
        average_precision_score(y_true, scores)
    )
    late = np.roll(y_true, 3) + 0.01 * scores
    assert vus_pr(y_true, late, max_buffer=10) > auc_pr(y_true, late) + 0.1
    # two segments, only one found: recall is capped by the found fraction
    y_two = y_true.copy()
    y_two[300:320] = 1
    assert vus_pr(y_two, y_true + 0.01 * scores, max_buffer=0) < 0.6


def test_vus_pr_bad_input():
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(vus_pr([0, 0, 0], [0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="max_buffer"):
        vus_pr([0, 1, 0], [0.1, 0.2, 0.3], max_buffer=-1)


# --------------------------------------------------------------------------
# NAB

COST = {"tp": 1.1, "fp": 0.11, "fn": 1.2}  # the cost matrix of NAB's unit tests
S_HALF, S_ONE = 0.8482836399575131, 0.9866142981514305  # sigma(-0.5), sigma(-1)


@pytest.mark.parametrize(
    "y_pred, y_true, probation, expected",
    [
        ([0, 0, 0, 0, 0], [0, 0, 0, 0, 0], 0, 0.0),
        ([0, 1, 0, 1, 0], [0, 0, 0, 0, 0], 0, -2 * 0.11),
        ([0, 1, 0, 1, 0], [0, 0, 0, 0, 0], 4, 0.0),
        ([0, 1, 0, 1, 0], [0, 0, 0, 0, 0], 3, -0.11),
        ([0] * 7, [0, 1, 1, 0, 1, 1, 0], 0, -2 * 1.2),
        # a detection at the window's last step is "halfway" for a 2-step window
        ([0, 0, 1, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0], 0, S_HALF * 1.1 / S_ONE),
        ([0, 0, 1, 0, 0, 0, 0], [0, 1, 1, 0, 1, 1, 0], 0, S_HALF * 1.1 / S_ONE - 1.2),
        ([0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 1, 0], 0, 1.1),
        ([0, 0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 1, 1, 0], 0, 1.1),
        ([0, 0, 1, 0, 1, 0, 0], [0, 1, 1, 0, 1, 1, 0], 0, S_HALF * 1.1 / S_ONE + 1.1),
    ],
)
def test_nab_score_matches_nab_unit_test_cases(y_pred, y_true, probation, expected):
    score = nab_score(y_true, y_pred, profile=COST, probationary_length=probation)
    assert score == pytest.approx(expected)


def test_nab_false_positive_cost_depends_on_distance_after_window():
    y_true = [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # ends at step 5
    missed = nab_score(y_true, [0] * 17, probationary_length=0)
    assert missed == pytest.approx(-1.0)

    def false_positive_cost(step):
        """What one detection at ``step`` adds to the score of the missed window."""
        y_pred = [0] * 17
        y_pred[step] = 1
        return nab_score(y_true, y_pred, probationary_length=0) - missed

    # NAB's formula, written out: A_FP * (2 / (1 + e^(5 d)) - 1) at d = distance
    # past the window's end over (width - 1), and the full A_FP beyond d = 3
    for step in range(6, 17):
        distance = (step - 5) / 3
        expected = (
            -0.11 if distance > 3 else 0.11 * (2 / (1 + math.exp(5 * distance)) - 1)
        )
        assert false_positive_cost(step) == pytest.approx(expected, abs=1e-12), step
    # 2 steps after a 4-step window (d = 2 / 3), the value NAB's formula gives
    assert false_positive_cost(7) == pytest.approx(-0.1024220, abs=1e-6)
    # the cost grows with the distance, up to the full A_FP
    costs = [false_positive_cost(step) for step in range(6, 17)]
    assert np.all(np.diff(costs) <= 0) and costs[-1] == pytest.approx(-0.11)
    far_after = [0] * 17
    far_after[16] = 1  # 11 steps after: beyond 3 widths, the full cost
    assert nab_score(y_true, far_after, probationary_length=0) == pytest.approx(-1.11)
    before = [1] + [0] * 16  # no window before it: the full cost
    assert nab_score(y_true, before, probationary_length=0) == pytest.approx(-1.11)


def test_nab_probationary_period_default():
    # 100 steps: probation floor(15) = 15 steps, not scored
    y_true = np.zeros(100, dtype=int)
    y_true[50:60] = 1
    y_pred = np.zeros(100, dtype=int)
    y_pred[14] = 1
    assert nab_score(y_true, y_pred) == pytest.approx(-1.0)
    y_pred[15] = 1
    assert nab_score(y_true, y_pred) == pytest.approx(-1.11)
    # a window wholly in the probationary period is not scored at all
    y_early = np.zeros(100, dtype=int)
    y_early[5:10] = 1
    assert nab_score(y_early, np.zeros(100, dtype=int)) == 0.0


def test_nab_profiles():
    assert NAB_PROFILES["standard"] == {"tp": 1.0, "fp": 0.11, "fn": 1.0}
    y_true = [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    y_pred = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert nab_score(
        y_true, y_pred, profile="reward_low_FN_rate", probationary_length=0
    ) == pytest.approx(-2.11)
    assert nab_score(
        y_true, y_pred, profile="reward_low_FP_rate", probationary_length=0
    ) == pytest.approx(-1.22)
    with pytest.raises(ValueError, match="standard"):
        nab_score(y_true, y_pred, profile="strict")
    with pytest.raises(ValueError, match="probationary_length"):
        nab_score(y_true, y_pred, probationary_length=-1)


def _nab_benchmark(rng, n_series=4, n=400):
    y_trues = []
    for _ in range(n_series):
        y = np.zeros(n, dtype=int)
        for start in rng.choice(np.arange(80, n - 40, 40), size=2, replace=False):
            y[start : start + rng.randint(1, 30)] = 1
        y_trues.append(y)
    # rounded scores: many ties, as NAB's detectors produce
    scores = [np.round(rng.uniform(size=n) * 0.7 + 0.3 * y, 2) for y in y_trues]
    return y_trues, scores


def test_nab_normalized_score_null_perfect_and_binary():
    rng = np.random.RandomState(0)
    y_trues, _ = _nab_benchmark(rng)
    n_windows = sum(int(np.sum(np.diff(np.r_[0, y]) == 1)) for y in y_trues)
    null = nab_normalized_score(y_trues, [np.zeros_like(y) for y in y_trues])
    assert null.score == 0.0
    assert null.null_score == -n_windows and null.perfect_score == n_windows
    first_steps = [np.diff(np.r_[0, y]) == 1 for y in y_trues]
    perfect = nab_normalized_score(y_trues, first_steps)
    assert perfect.score == pytest.approx(100.0)
    everything = nab_normalized_score(
        y_trues, [np.ones_like(y) for y in y_trues], anomaly_label=1
    )
    assert everything.score < 0
    np.testing.assert_allclose(
        everything.per_series,
        [nab_score(y, np.ones_like(y), anomaly_label=1) for y in y_trues],
    )


def test_nab_threshold_optimisation_finds_the_best_threshold():
    rng = np.random.RandomState(1)
    y_trues, scores = _nab_benchmark(rng)
    best = nab_normalized_score(y_trues, scores, threshold="optimize")

    def total(threshold):
        return sum(
            nab_score(y, s >= threshold) for y, s in zip(y_trues, scores, strict=True)
        )

    candidates = np.unique(np.concatenate(scores))
    brute_force = max(total(t) for t in candidates)
    assert best.raw_score == pytest.approx(brute_force)
    assert best.raw_score == pytest.approx(total(best.threshold))
    assert best.raw_score > best.null_score
    fixed = nab_normalized_score(y_trues, scores, threshold=best.threshold)
    assert fixed.score == pytest.approx(best.score)
    # useless scores: detecting nothing is best
    useless = nab_normalized_score(
        y_trues, [np.full(len(y), 0.5) for y in y_trues], threshold="optimize"
    )
    assert useless.threshold == np.inf and useless.score == 0.0


def test_nab_normalized_score_on_the_nab_corpus(shared_data):
    y_trues = [
        fetch_nab(name, data_home=shared_data, download_if_missing=False).target
        for name in nab_series_names()
    ]
    first_steps = [np.diff(np.r_[0, y]) == 1 for y in y_trues]
    perfect = nab_normalized_score(y_trues, first_steps)
    assert perfect.perfect_score == 116 and perfect.null_score == -116
    assert perfect.score == pytest.approx(100.0)
    # NAB's scoreboard lists a random detector at 11.0 (7.95 to 16.83 over
    # seeds) on the standard profile, with the threshold optimised
    rng = np.random.RandomState(3)
    random_scores = [rng.uniform(size=len(y)) for y in y_trues]
    result = nab_normalized_score(y_trues, random_scores, threshold="optimize")
    assert 7.95 < result.score < 16.83


def test_nab_normalized_score_edge_cases():
    with pytest.warns(UndefinedMetricWarning):
        result = nab_normalized_score([np.zeros(50, dtype=int)], [np.zeros(50)])
    assert np.isnan(result.score)
    with pytest.raises(ValueError, match="threshold"):
        nab_normalized_score([[0, 1]], [[0, 1]], threshold="best")


# --------------------------------------------------------------------------
# scikit-learn scorers


@pytest.fixture(scope="module")
def planted_outliers():
    """500 points, 25 planted outliers (label 1), shuffled."""
    rng = np.random.RandomState(42)
    X = np.r_[rng.normal(size=(475, 2)), rng.uniform(-6, 6, size=(25, 2))]
    y = np.r_[np.zeros(475, dtype=int), np.ones(25, dtype=int)]
    order = rng.permutation(500)
    return X[order], y[order]


def test_scorer_strings_rank_anomalies_backwards(planted_outliers):
    """The trap of DESIGN.md: the strings reward the wrong direction."""
    X, y = planted_outliers
    forest = IsolationForest(n_estimators=20, random_state=0).fit(X)
    assert get_scorer("average_precision")(forest, X, y) < 0.05
    assert get_scorer("roc_auc")(forest, X, y) < 0.05
    assert anomaly_scorer("average_precision")(forest, X, y) > 0.8
    assert anomaly_scorer("roc_auc")(forest, X, y) > 0.95
    expected = auc_pr(y, -forest.score_samples(X))
    assert anomaly_scorer("average_precision")(forest, X, y) == expected
    flagged = forest.predict(X) == -1
    p, r, f = precision_recall_f1(y, flagged)
    assert anomaly_scorer("precision")(forest, X, y) == p
    assert anomaly_scorer("recall")(forest, X, y) == r
    assert anomaly_scorer("f1")(forest, X, y) == f > 0.3


def test_grid_search_with_anomaly_scorer_picks_the_informative_feature(
    planted_outliers,
):
    X, y = planted_outliers
    rng = np.random.RandomState(0)
    # column 0: outliers stand out; column 1: pure noise
    X = np.c_[X[:, 0], rng.normal(size=len(X))]
    pipeline = make_pipeline(
        FunctionTransformer(lambda X, column: X[:, [column]], kw_args={"column": 0}),
        StandardScaler(),
        IsolationForest(n_estimators=20, random_state=0),
    )
    grid = {"functiontransformer__kw_args": [{"column": 0}, {"column": 1}]}
    cv = KFold(3, shuffle=True, random_state=0)
    right = GridSearchCV(pipeline, grid, scoring=anomaly_scorer("average_precision"))
    right.set_params(cv=cv).fit(X, y)
    assert right.best_params_["functiontransformer__kw_args"] == {"column": 0}
    wrong = GridSearchCV(pipeline, grid, scoring="average_precision", cv=cv).fit(X, y)
    assert wrong.best_params_["functiontransformer__kw_args"] == {"column": 1}


def test_grid_search_tunes_contamination_with_f1(planted_outliers):
    X, y = planted_outliers
    search = GridSearchCV(
        IsolationForest(n_estimators=20, random_state=0),
        {"contamination": [0.005, 0.05, 0.3]},
        scoring=anomaly_scorer("f1"),
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    assert search.best_params_ == {"contamination": 0.05}


def test_cross_validate_with_several_anomaly_scorers(planted_outliers):
    X, y = planted_outliers
    scoring = {name: anomaly_scorer(name) for name in ("average_precision", "f1")}
    result = cross_validate(
        IsolationForest(n_estimators=20, random_state=0),
        X,
        y,
        scoring=scoring,
        cv=KFold(3, shuffle=True, random_state=0),
        error_score="raise",
    )
    assert np.all(result["test_average_precision"] > 0.6)
    assert np.all(result["test_f1"] > 0.2)


def test_anomaly_scorer_rejects_bad_labels_names_and_estimators(planted_outliers):
    X, y = planted_outliers
    forest = IsolationForest(n_estimators=10, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"\(y == -1\)\.astype\(int\)"):
        anomaly_scorer("roc_auc")(forest, X, np.where(y == 1, -1, 1))
    with pytest.raises(ValueError, match="0 \\(normal\\) and 1"):
        anomaly_scorer("f1")(forest, X, np.where(y == 1, "anomaly", "normal"))
    with pytest.raises(ValueError, match=r"\(y == -1\)"):
        GridSearchCV(
            forest,
            {"n_estimators": [5]},
            scoring=anomaly_scorer("f1"),
            error_score="raise",
        ).fit(X, np.where(y == 1, -1, 1))
    with pytest.raises(
        ValueError, match="average_precision, roc_auc, precision, recall, f1"
    ):
        anomaly_scorer("accuracy")
    with pytest.raises(TypeError, match="score_samples"):
        anomaly_scorer("roc_auc")(StandardScaler().fit(X), X, y)


def test_anomaly_scorer_repr_and_pickle(planted_outliers):
    X, y = planted_outliers
    scorer = anomaly_scorer("roc_auc")
    assert repr(scorer) == "anomaly_scorer('roc_auc')"
    forest = IsolationForest(n_estimators=10, random_state=0).fit(X)
    assert pickle.loads(pickle.dumps(scorer))(forest, X, y) == scorer(forest, X, y)
