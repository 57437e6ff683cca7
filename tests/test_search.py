"""Tuning the detector with GridSearchCV, with and without labels."""

import numpy as np
import pytest
from conftest import tiny_detector, waves
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from skae.metrics import anomaly_scorer, auc_pr


def _labelled_series(n=900):
    X = waves(n, periods=(30, 45))
    y = np.zeros(n, dtype=int)
    for start in (420, 700, 820):  # one anomaly in each test fold of the split
        X[start : start + 15, 0] += 2.0
        y[start : start + 15] = 1
    return X, y


GRID = {"window_size": [8, 16], "hidden_size": [2, 12]}


def test_grid_search_with_per_step_labels_and_anomaly_scorer():
    X, y = _labelled_series()
    cv = TimeSeriesSplit(n_splits=2)
    search = GridSearchCV(
        tiny_detector(), GRID, scoring=anomaly_scorer("average_precision"), cv=cv
    ).fit(X, y)
    results = search.cv_results_
    assert len(results["params"]) == 4
    # the scorer is the AUC-PR of the anomalies (1 = anomaly), far above the share
    # of anomalies that a random ranking would get
    assert np.min(results["mean_test_score"]) > 3 * y.mean()
    assert search.best_score_ == pytest.approx(np.max(results["mean_test_score"]))
    # recompute one fold by hand: fit on the fold's train part, AUC-PR on its test
    train, test = list(cv.split(X))[1]
    model = tiny_detector().set_params(**search.best_params_).fit(X[train])
    expected = auc_pr(y[test], -model.score_samples(X[test]))
    assert results["split1_test_score"][search.best_index_] == pytest.approx(expected)
    assert search.best_estimator_.window_size == search.best_params_["window_size"]


def test_grid_search_without_labels_prefers_lower_reconstruction_error():
    X, _ = _labelled_series()
    search = GridSearchCV(tiny_detector(), GRID, cv=TimeSeriesSplit(n_splits=2)).fit(X)
    # the estimator's own score (mean negated error) favours the wider code
    assert search.best_params_["hidden_size"] == 12
    best = search.best_estimator_
    assert best.score(X) == pytest.approx(best.score_samples(X).mean())


def test_string_scorer_ranks_anomalies_backwards():
    # the trap DESIGN.md warns about, on this detector: the string scorer sees the
    # complement of the right ranking
    X, y = _labelled_series()
    detector = tiny_detector().set_params(window_size=8, hidden_size=12).fit(X[:400])
    right = anomaly_scorer("average_precision")(detector, X[400:], y[400:])
    from sklearn.metrics import get_scorer

    wrong = get_scorer("average_precision")(detector, X[400:], y[400:])
    assert right > 0.5 > wrong
