"""Metrics for time-series anomaly detection, with 1 = anomaly as the positive class.

Labels ``y_true`` hold ``1`` (anomaly) and ``0`` (normal) per time step, as in
:mod:`skae.datasets`. Binary predictions ``y_pred`` are ``0``/``1`` or a
detector's ``predict`` output ``-1``/``+1`` (-1 = anomaly); anomaly ``scores``
are larger for more anomalous steps, so pass ``-detector.score_samples(X)``.

scikit-learn's scorer strings (``"average_precision"``, ``"roc_auc"``, ``"f1"``)
rank a detector's normal points first and so reward the worst model with these
labels: use :func:`anomaly_scorer` in ``GridSearchCV`` and ``cross_validate``.
"""

import numbers
from typing import NamedTuple

import numpy as np
from sklearn.utils import Bunch

from ._labels import (
    _anomaly_mask,
    _check_labels,
    _check_length,
    _intervals,
    _labels_and_flags,
    _labels_and_scores,
    _overlaps_any,
    _ratio,
    _segment_ids,
    _segments,
    _undefined,
    caught_runs,
)
from ._nab_scoring import NAB_PROFILES, nab_normalized_score, nab_score

__all__ = [
    "NAB_PROFILES",
    "anomaly_scorer",
    "auc_pr",
    "auc_roc",
    "event_counts",
    "event_f1",
    "event_precision_recall_f1",
    "event_recall",
    "nab_normalized_score",
    "nab_score",
    "point_adjusted_f1",
    "precision_recall_f1",
    "skab_outlier_scores",
    "vus_pr",
]


# point-wise metrics
def _counts(y, flagged, sample_weight=None):
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    masks = (y & flagged, ~y & flagged, y & ~flagged, ~y & ~flagged)  # tp, fp, fn, tn
    return tuple(float(np.sum(w[mask])) for mask in masks)


def _prf(tp, fp, fn, zero_division):
    precision = _ratio(tp, tp + fp, zero_division)
    recall = _ratio(tp, tp + fn, zero_division)
    f1 = _ratio(tp, tp + (fp + fn) / 2, zero_division)
    return precision, recall, f1


def precision_recall_f1(
    y_true, y_pred, *, anomaly_label="auto", zero_division=0.0, sample_weight=None
):
    """Return point-wise precision, recall and F1 with anomalies as positives.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 = anomaly, 0 = normal.
    y_pred : array-like of shape (n_timesteps,)
        0/1 (1 = anomaly) or a detector's ``predict`` output (-1 = anomaly).
    anomaly_label : {"auto", 1, -1}, default="auto"
        The value of ``y_pred`` that means anomaly. ``"auto"`` infers it, and
        raises ``ValueError`` when ``y_pred`` holds only 1s.
    zero_division : float, default=0.0
        The value of a ratio whose denominator is 0, e.g. ``numpy.nan``.
    sample_weight : array-like of shape (n_timesteps,), default=None
        Weights of the time steps.

    Returns
    -------
    precision, recall, f1 : float
        ``TP / (TP + FP)``, ``TP / (TP + FN)`` and ``TP / (TP + (FP + FN) / 2)``,
        counted over time steps.

    Examples
    --------
    >>> from skae.metrics import precision_recall_f1
    >>> precision_recall_f1([0, 1, 1, 0], [1, 1, -1, 1])
    (1.0, 0.5, 0.6666666666666666)
    """
    y, flagged = _labels_and_flags(y_true, y_pred, anomaly_label)
    tp, fp, fn, _ = _counts(y, flagged, sample_weight)
    return _prf(tp, fp, fn, zero_division)


def skab_outlier_scores(y_trues, y_preds, *, anomaly_label="auto", zero_division=0.0):
    """Return SKAB's leaderboard metrics: step counts summed over files, then ratios.

    ``FAR = 100 * FP / (FP + TN)`` is the false alarm rate and
    ``MAR = 100 * FN / (FN + TP)`` the missed alarm rate, in percent.

    Parameters
    ----------
    y_trues, y_preds : sequence of array-like of shape (n_timesteps_i,)
        The labels of each file's test part and the predictions, 0/1 or -1/+1.
    anomaly_label : {"auto", 1, -1}, default="auto"
        The value of ``y_pred`` that means anomaly; ``"auto"`` infers it from
        all files together.
    zero_division : float, default=0.0
        The value of a ratio whose denominator is 0.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``f1``, ``far`` and ``mar`` (percent), ``precision``, ``recall``, and
        the summed counts ``tp``, ``fp``, ``fn``, ``tn`` (int).

    Examples
    --------
    >>> from skae.metrics import skab_outlier_scores
    >>> r = skab_outlier_scores([[0, 0, 1, 1], [0, 1]], [[0, 1, 1, 0], [0, 1]])
    >>> r.tp, r.fp, r.fn, r.tn, r.f1, r.far
    (2, 1, 1, 2, 0.6666666666666666, 33.33333333333333)
    """
    y_trues, y_preds = list(y_trues), list(y_preds)
    _check_length(len(y_trues), len(y_preds), "y_preds (number of files)")
    if anomaly_label == "auto" and y_preds:
        # One convention for the whole benchmark: a file flagged throughout
        # (all 1s) is read like the others.
        values = np.unique(np.concatenate([np.ravel(p) for p in y_preds]))
        if values.dtype.kind in "iuf" and -1 in values:
            anomaly_label = -1
        elif values.dtype.kind in "iuf" and 0 in values:
            anomaly_label = 1
    counts = np.zeros(4)
    for i, (y_true, y_pred) in enumerate(zip(y_trues, y_preds, strict=True)):
        y = _check_labels(y_true, f"y_trues[{i}]").astype(bool)
        flagged = _anomaly_mask(y_pred, anomaly_label, f"y_preds[{i}]")
        _check_length(len(y), len(flagged), f"y_preds[{i}]")
        counts += _counts(y, flagged)
    tp, fp, fn, tn = (int(count) for count in counts)
    precision, recall, f1 = _prf(tp, fp, fn, zero_division)
    return Bunch(
        f1=f1,
        far=100 * _ratio(fp, fp + tn, zero_division),
        mar=100 * _ratio(fn, fn + tp, zero_division),
        precision=precision,
        recall=recall,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
    )


def event_recall(y_true, y_pred, *, anomaly_label="auto"):
    """Return the fraction of labelled anomaly segments with at least one flag.

    A segment is a run of 1s in ``y_true``. Flags outside segments are ignored,
    so pair this with a false-alarm measure.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_timesteps,)
        Labels (1 = anomaly) and predictions, 0/1 or -1/+1.
    anomaly_label : {"auto", 1, -1}, default="auto"
        The value of ``y_pred`` that means anomaly.

    Returns
    -------
    recall : float
        In [0, 1]; NaN (with ``UndefinedMetricWarning``) if ``y_true`` has no
        anomaly.

    Examples
    --------
    >>> from skae.metrics import event_recall
    >>> event_recall([0, 1, 1, 0, 1, 0], [0, 0, 1, 0, 0, 1])
    0.5
    """
    y, flagged = _labels_and_flags(y_true, y_pred, anomaly_label)
    _, _, caught = caught_runs(y, flagged)
    if len(caught) == 0:
        return _undefined("event_recall is undefined: y_true has no anomaly.")
    return float(caught.mean())


def point_adjusted_f1(y_true, y_pred, *, anomaly_label="auto", zero_division=0.0):
    """Return the F1 score after point adjustment (an optimistic figure).

    A segment of 1s in ``y_true`` with any flagged step counts as wholly
    flagged. One lucky flag earns a whole segment, so even random flags score
    high on long segments: report it only next to :func:`precision_recall_f1`.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_timesteps,)
        Labels (1 = anomaly) and predictions, 0/1 or -1/+1.
    anomaly_label : {"auto", 1, -1}, default="auto"
        The value of ``y_pred`` that means anomaly.
    zero_division : float, default=0.0
        The value of F1 when ``TP + (FP + FN) / 2`` is 0.

    Returns
    -------
    f1 : float
        The point-wise F1 of the adjusted predictions.

    Examples
    --------
    >>> from skae.metrics import point_adjusted_f1
    >>> point_adjusted_f1([0, 1, 1, 1, 0], [0, 0, 1, 0, 1])
    0.8571428571428571
    """
    y, flagged = _labels_and_flags(y_true, y_pred, anomaly_label)
    starts, _, caught = caught_runs(y, flagged)
    adjusted = flagged.copy()
    adjusted[y] |= caught[_segment_ids(y, starts)[y]]
    tp, fp, fn, _ = _counts(y, adjusted)
    return _prf(tp, fp, fn, zero_division)[2]


# overlap-segment counts (Orion's event-level metric)
class EventCounts(NamedTuple):
    """Labelled intervals found (``tp``) and missed (``fn``), and detected
    intervals that overlap no labelled one (``fp``)."""

    tp: int
    fp: int
    fn: int


def event_counts(y_true, y_pred):
    """Return Orion's overlap-segment counts ``(tp, fp, fn)`` of two sets of intervals.

    A labelled interval that overlaps a detected one is a true positive, else a
    false negative; a detected interval that overlaps no labelled one is a false
    positive. Inclusive intervals overlap when they share a step: ``(0, 4)`` and
    ``(4, 9)`` do, ``(0, 4)`` and ``(5, 9)`` do not. This is Orion's
    ``contextual_confusion_matrix(..., weighted=False)``.

    Parameters
    ----------
    y_true : array-like or DataFrame
        The labelled intervals: per-step 0/1 flags of shape ``(n_timesteps,)``
        (each run of 1s is one interval), inclusive ``(start, end)`` pairs of
        shape ``(n_intervals, 2)`` (numbers or timestamps), or a DataFrame with
        ``start`` and ``end`` columns such as a detector's events.
    y_pred : array-like or DataFrame
        The detected intervals, in the same forms; convert a detector's
        ``predict`` output with ``predict(X) == -1``.

    Returns
    -------
    counts : EventCounts
        A named tuple ``(tp, fp, fn)`` of ints.

    Notes
    -----
    Orion's leaderboard sums the counts over a dataset's signals before taking
    ratios: ``np.sum([event_counts(t, p) for t, p in pairs], axis=0)``.

    Examples
    --------
    >>> from skae.metrics import event_counts
    >>> event_counts([(10, 20), (30, 40), (60, 70)], [(15, 35), (50, 55)])
    EventCounts(tp=2, fp=1, fn=1)
    """
    true_starts, true_ends, n_true = _intervals(y_true, "y_true")
    pred_starts, pred_ends, n_pred = _intervals(y_pred, "y_pred")
    if n_true is not None and n_pred is not None:
        _check_length(n_true, n_pred, "y_pred")
    if len(true_starts) and len(pred_starts):
        kinds = {true_starts.dtype.kind == "M", pred_starts.dtype.kind == "M"}
        if len(kinds) == 2:
            raise TypeError(
                "y_true and y_pred must both give their intervals as timestamps or "
                f"both as numbers, got dtypes {true_starts.dtype} and "
                f"{pred_starts.dtype}."
            )
    found = _overlaps_any(true_starts, true_ends, pred_starts, pred_ends)
    useful = _overlaps_any(pred_starts, pred_ends, true_starts, true_ends)
    return EventCounts(
        tp=int(found.sum()), fp=int((~useful).sum()), fn=int((~found).sum())
    )


def event_precision_recall_f1(y_true, y_pred, *, zero_division=0.0):
    """Return event-level precision, recall and F1 under Orion's overlap rule.

    Parameters
    ----------
    y_true, y_pred : array-like or DataFrame
        The labelled and the detected intervals (see :func:`event_counts`).
    zero_division : float, default=0.0
        The value of a ratio whose denominator is 0, e.g. ``numpy.nan``.

    Returns
    -------
    precision, recall, f1 : float
        ``TP / (TP + FP)``, ``TP / (TP + FN)`` and ``2 TP / (2 TP + FP + FN)``
        of the counts of :func:`event_counts`.

    Examples
    --------
    >>> from skae.metrics import event_precision_recall_f1
    >>> event_precision_recall_f1([(10, 20), (30, 40)], [(15, 35), (50, 55)])
    (0.6666666666666666, 1.0, 0.8)
    """
    tp, fp, fn = event_counts(y_true, y_pred)
    return (
        _ratio(tp, tp + fp, zero_division),
        _ratio(tp, tp + fn, zero_division),
        _ratio(2 * tp, 2 * tp + fp + fn, zero_division),
    )


def event_f1(y_true, y_pred, *, zero_division=0.0):
    """Return the event-level F1 ``2 TP / (2 TP + FP + FN)`` of Orion's overlap rule.

    Parameters
    ----------
    y_true, y_pred : array-like or DataFrame
        The labelled and the detected intervals (see :func:`event_counts`).
    zero_division : float, default=0.0
        The value returned when nothing is labelled and nothing detected.

    Returns
    -------
    f1 : float

    Examples
    --------
    >>> from skae.metrics import event_f1
    >>> event_f1([0, 1, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0, 1])
    0.5
    """
    return event_precision_recall_f1(y_true, y_pred, zero_division=zero_division)[2]


# threshold-free metrics
def auc_pr(y_true, scores, *, sample_weight=None):
    """Return the average precision (area under the precision-recall curve).

    scikit-learn's ``average_precision_score`` with anomalies as positives.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 = anomaly, 0 = normal.
    scores : array-like of shape (n_timesteps,)
        Anomaly scores, larger = more anomalous: ``-detector.score_samples(X)``.
    sample_weight : array-like of shape (n_timesteps,), default=None
        Weights of the time steps.

    Returns
    -------
    auc : float
        In [0, 1], about the fraction of anomalies for a random ranking; NaN
        (with ``UndefinedMetricWarning``) if ``y_true`` has no anomaly.

    Examples
    --------
    >>> from skae.metrics import auc_pr
    >>> auc_pr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.8333333333333333
    """
    from sklearn.metrics import average_precision_score

    y, s = _labels_and_scores(y_true, scores)
    if not y.any():
        return _undefined("auc_pr is undefined: y_true has no anomaly.")
    return float(average_precision_score(y, s, sample_weight=sample_weight))


def auc_roc(y_true, scores, *, sample_weight=None):
    """Return the area under the ROC curve with anomalies as the positive class.

    Parameters
    ----------
    y_true, scores : array-like of shape (n_timesteps,)
        Labels and anomaly scores, as for :func:`auc_pr`.
    sample_weight : array-like of shape (n_timesteps,), default=None
        Weights of the time steps.

    Returns
    -------
    auc : float
        In [0, 1], 0.5 for a random ranking. NaN (with
        ``UndefinedMetricWarning``) unless ``y_true`` holds both classes.

    Examples
    --------
    >>> from skae.metrics import auc_roc
    >>> auc_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    from sklearn.metrics import roc_auc_score

    y, s = _labels_and_scores(y_true, scores)
    if y.all() or not y.any():
        return _undefined("auc_roc is undefined: y_true holds only one class.")
    return float(roc_auc_score(y, s, sample_weight=sample_weight))


def vus_pr(y_true, scores, *, max_buffer=10):
    """Return the volume under the precision-recall surface over buffer widths.

    A range-aware, threshold-free measure after VUS-PR [1]_. For each buffer
    width ``l = 0, ..., max_buffer``, a step at distance ``1 <= d <= l`` from
    the nearest anomaly segment gets the soft label ``sqrt(1 - d / (l + 1))``;
    recall is multiplied by the fraction of segments with a flagged step within
    ``l`` steps. The result is the mean over ``l`` of the average precision
    against these labels, so a flag just before or after a segment earns the
    partial credit that :func:`auc_pr` withholds.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 = anomaly, 0 = normal, in time order.
    scores : array-like of shape (n_timesteps,)
        Anomaly scores, larger = more anomalous.
    max_buffer : int, default=10
        The largest buffer width, in time steps: about the detection delay you
        accept. The larger, the more credit near misses and random rankings get.

    Returns
    -------
    vus : float
        In [0, 1]; NaN (with ``UndefinedMetricWarning``) if ``y_true`` has no
        anomaly.

    References
    ----------
    .. [1] J. Paparrizos, P. Boniol, T. Palpanas, R. S. Tsay, A. Elmore and
       M. J. Franklin, "Volume Under the Surface: A New Accuracy Evaluation
       Measure for Time-Series Anomaly Detection", PVLDB 15(11), 2022.

    Examples
    --------
    >>> from skae.metrics import vus_pr
    >>> y = [0, 0, 0, 1, 1, 0, 0, 0]
    >>> vus_pr(y, [0, 0, 0, 1, 1, 0, 0, 0], max_buffer=2)
    1.0
    >>> round(vus_pr(y, [0, 0, 1, 0, 0, 0, 0, 0], max_buffer=2), 3)  # early flag
    0.488
    """
    if not isinstance(max_buffer, numbers.Integral) or max_buffer < 0:
        raise ValueError(f"max_buffer must be an int >= 0, got {max_buffer!r}.")
    y, s = _labels_and_scores(y_true, scores)
    y = y.astype(bool)
    if not y.any():
        return _undefined("vus_pr is undefined: y_true has no anomaly.")
    n = len(y)
    starts, ends = _segments(y)
    steps = np.arange(n)
    # distance to, and index of, the nearest segment
    before = np.searchsorted(starts, steps, side="right") - 1
    after = np.searchsorted(ends, steps, side="left")
    d_before = np.where(before >= 0, steps - ends[np.maximum(before, 0)], n)
    d_after = np.where(
        after < len(starts), starts[np.minimum(after, len(starts) - 1)] - steps, n
    )
    d_before, d_after = np.maximum(d_before, 0), np.maximum(d_after, 0)
    distance = np.minimum(d_before, d_after)
    nearest = np.where(d_before <= d_after, before, after)

    order = np.argsort(-s, kind="stable")
    distance, nearest = distance[order], nearest[order]
    # only the last step of a run of tied scores is a threshold
    cut = np.flatnonzero(np.append(s[order][1:] != s[order][:-1], True))

    aps = []
    for width in range(max_buffer + 1):
        soft = np.sqrt(np.clip(1 - distance / (width + 1), 0.0, None))
        true_positive = np.cumsum(soft)[cut]
        precision = true_positive / (cut + 1)  # over the steps flagged
        near = distance <= width
        first = np.full(len(starts), n)
        np.minimum.at(first, nearest[near], np.flatnonzero(near))
        found = np.cumsum(np.bincount(first, minlength=n + 1)[:n])[cut] / len(starts)
        recall = np.minimum(1.0, true_positive / y.sum()) * found
        aps.append(np.sum(np.diff(recall, prepend=0.0) * precision))
    return float(np.mean(aps))


# scikit-learn scorers: metrics of the ranking by -score_samples, and of the
# decisions predict == -1 (the position of each in the result of _prf)
_RANKING_METRICS = {"average_precision": auc_pr, "roc_auc": auc_roc}
_DECISION_METRICS = {"precision": 0, "recall": 1, "f1": 2}


class _AnomalyScorer:
    """A scikit-learn scorer with 1 = anomaly as the positive class."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"anomaly_scorer({self.name!r})"

    def __call__(self, estimator, X, y_true, sample_weight=None):
        y = _check_labels(y_true)
        if self.name in _RANKING_METRICS:
            if not hasattr(estimator, "score_samples"):
                raise TypeError(
                    f"{self!r} needs an estimator with score_samples (higher = "
                    f"more normal); {type(estimator).__name__} has none."
                )
            scores = -np.asarray(estimator.score_samples(X), dtype=np.float64)
            metric = _RANKING_METRICS[self.name]
            return metric(y, scores, sample_weight=sample_weight)
        flagged = _anomaly_mask(estimator.predict(X), -1, "estimator.predict(X)")
        _check_length(len(y), len(flagged), "estimator.predict(X)")
        tp, fp, fn, _ = _counts(y.astype(bool), flagged, sample_weight)
        return _prf(tp, fp, fn, 0.0)[_DECISION_METRICS[self.name]]


def anomaly_scorer(name):
    """Return a scorer for ``GridSearchCV`` / ``cross_validate`` where 1 = anomaly.

    The ranking metrics score ``-estimator.score_samples(X)``, the others
    ``estimator.predict(X) == -1`` (0 when undefined). Any detector with these
    methods works, or a ``Pipeline`` ending in one.

    Parameters
    ----------
    name : {"average_precision", "roc_auc", "f1", "precision", "recall"}
        The metric: :func:`auc_pr`, :func:`auc_roc` or a point-wise one.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returns the metric (greater is better); ``y``
        holds 0 (normal) and 1 (anomaly) per time step.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skae.metrics import anomaly_scorer
    >>> rng = np.random.RandomState(0)
    >>> y = (rng.uniform(size=400) < 0.05).astype(int)  # 1 = anomaly
    >>> X = rng.normal(size=(400, 2)) + 6 * y[:, None]
    >>> grid = {"contamination": [0.01, 0.05, 0.3]}
    >>> f1 = anomaly_scorer("f1")
    >>> search = GridSearchCV(IsolationForest(random_state=0), grid, scoring=f1, cv=3)
    >>> search.fit(X, y).best_params_
    {'contamination': 0.05}
    """
    valid = [*_RANKING_METRICS, *_DECISION_METRICS]
    if name not in valid:
        raise ValueError(
            f"Unknown anomaly scorer {name!r}. Valid names are: {', '.join(valid)}."
        )
    return _AnomalyScorer(name)
