"""Metrics for time-series anomaly detection, with 1 = anomaly as the positive class.

Labels ``y_true`` are per time step (or per sequence): ``1`` = anomaly, ``0`` =
normal, the convention of SKAB, NAB, TSB-AD and :mod:`skae.datasets`.

Two kinds of prediction are accepted:

- ``y_pred``, a binary decision per step: either ``0``/``1`` (1 = anomaly) or a
  detector's ``predict`` output ``-1``/``+1`` (-1 = anomaly). ``anomaly_label``
  says which; by default it is inferred, and an array of only ``1`` values, which
  means the opposite in the two conventions, raises an error asking to choose.
- ``scores``, anomaly scores where **larger means more anomalous**. A
  detector's ``score_samples`` is the opposite (larger = more normal, as in
  scikit-learn): pass ``-detector.score_samples(X)``.

Warning: scikit-learn's scorer strings (``scoring="average_precision"``,
``"roc_auc"``, ``"f1"``) rank a detector's *normal* points first, so with
``1 = anomaly`` labels they reward the worst model. Use :func:`anomaly_scorer`
in ``GridSearchCV`` and ``cross_validate``.
"""

import numbers
from typing import NamedTuple

import numpy as np
from sklearn.utils import Bunch

from ._labels import (
    _anomaly_mask,
    _check_labels,
    _check_length,
    _check_scores,
    _labels_and_flags,
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

# --------------------------------------------------------------------------
# point-wise metrics


def _counts(y, flagged, sample_weight=None):
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    tp = float(np.sum(w[y & flagged]))
    fp = float(np.sum(w[~y & flagged]))
    fn = float(np.sum(w[y & ~flagged]))
    tn = float(np.sum(w[~y & ~flagged]))
    return tp, fp, fn, tn


def _prf(tp, fp, fn, zero_division):
    precision = _ratio(tp, tp + fp, zero_division)
    recall = _ratio(tp, tp + fn, zero_division)
    f1 = _ratio(tp, tp + (fp + fn) / 2, zero_division)
    return precision, recall, f1


def precision_recall_f1(
    y_true, y_pred, *, anomaly_label="auto", zero_division=0.0, sample_weight=None
):
    """Return point-wise precision, recall and F1 with anomalies as positives.

    ``F1 = TP / (TP + (FP + FN) / 2)``, the harmonic mean of precision and
    recall, counted over time steps without any adjustment for segments.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 = anomaly, 0 = normal.
    y_pred : array-like of shape (n_timesteps,)
        0/1 (1 = anomaly) or a detector's ``predict`` output -1/+1
        (-1 = anomaly).
    anomaly_label : {"auto", 1, -1}, default="auto"
        The value of ``y_pred`` that means anomaly. ``"auto"`` infers it: ``-1``
        if ``y_pred`` holds a ``-1``, ``1`` if it holds a ``0``; an array of
        only ``1`` values is ambiguous and raises ``ValueError``.
    zero_division : float, default=0.0
        The value of a ratio whose denominator is 0 (e.g. precision when
        nothing is flagged). Use ``numpy.nan`` to see such cases.
    sample_weight : array-like of shape (n_timesteps,), default=None
        Weights of the time steps.

    Returns
    -------
    precision : float
        ``TP / (TP + FP)``: the fraction of flagged steps that are anomalies.
    recall : float
        ``TP / (TP + FN)``: the fraction of anomalous steps that are flagged.
    f1 : float
        ``TP / (TP + (FP + FN) / 2)``.

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
    """Return SKAB's outlier-detection leaderboard metrics over many files.

    TP, FP, FN and TN are counted per time step in each file and summed over
    all files before the ratios are taken (no point adjustment):
    ``F1 = TP / (TP + (FP + FN) / 2)``, ``FAR = 100 * FP / (FP + TN)`` (false
    alarm rate, %), ``MAR = 100 * FN / (FN + TP)`` (missed alarm rate, %). SKAB's
    protocol scores each file's rows after its first 400.

    Parameters
    ----------
    y_trues : sequence of array-like of shape (n_timesteps_i,)
        The labels of each file's test part, 1 = anomaly.
    y_preds : sequence of array-like of shape (n_timesteps_i,)
        The predictions for the same steps, 0/1 or -1/+1 (see
        :func:`precision_recall_f1`).
    anomaly_label : {"auto", 1, -1}, default="auto"
        The value of ``y_pred`` that means anomaly; ``"auto"`` infers one
        convention from all files together.
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
    tp = fp = fn = tn = 0
    for i, (y_true, y_pred) in enumerate(zip(y_trues, y_preds, strict=True)):
        y = _check_labels(y_true, f"y_trues[{i}]").astype(bool)
        flagged = _anomaly_mask(y_pred, anomaly_label, f"y_preds[{i}]")
        _check_length(len(y), len(flagged), f"y_preds[{i}]")
        tp += int(np.sum(y & flagged))
        fp += int(np.sum(~y & flagged))
        fn += int(np.sum(y & ~flagged))
        tn += int(np.sum(~y & ~flagged))
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

    A segment is a maximal run of consecutive 1s in ``y_true``; it counts as
    detected if ``y_pred`` flags any of its steps. Flags outside segments are
    ignored, so pair this with a false-alarm measure.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 = anomaly, 0 = normal.
    y_pred : array-like of shape (n_timesteps,)
        0/1 or -1/+1 (see :func:`precision_recall_f1`).
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

    Point adjustment: if any step of a labelled anomaly segment is flagged,
    every step of that segment counts as flagged; then the point-wise F1 is
    computed. This is the protocol of many deep-learning papers, and it is
    **optimistic**: one lucky flag inside a long segment earns credit for the
    whole segment, so even random flags can score high on data with long
    segments. Report it only next to point-wise :func:`precision_recall_f1`.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 = anomaly, 0 = normal.
    y_pred : array-like of shape (n_timesteps,)
        0/1 or -1/+1 (see :func:`precision_recall_f1`).
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
    starts, _ = _segments(y)
    ids = _segment_ids(y, starts)
    hit = np.bincount(ids[y & flagged], minlength=len(starts)) > 0
    adjusted = flagged.copy()
    adjusted[y] |= hit[ids[y]]
    tp, fp, fn, _ = _counts(y, adjusted)
    return _prf(tp, fp, fn, zero_division)[2]


# --------------------------------------------------------------------------
# overlap-segment counts (Orion's event-level metric)


class EventCounts(NamedTuple):
    """Counts of labelled and detected intervals under the overlap rule."""

    tp: int
    """Labelled intervals that overlap at least one detected interval."""
    fp: int
    """Detected intervals that overlap no labelled interval."""
    fn: int
    """Labelled intervals that overlap no detected interval."""


_INTERVALS_HELP = (
    "Pass a per-step 0/1 (or bool) array of shape (n_timesteps,), a sequence of "
    "inclusive (start, end) pairs of shape (n_intervals, 2), or a DataFrame with "
    "'start' and 'end' columns (e.g. the events of a detector)."
)


def _intervals(value, name):
    """Return ``(starts, ends, n_steps)`` of the intervals ``value`` describes.

    ``ends`` are inclusive; ``n_steps`` is the length of a per-step array, or
    None when ``value`` lists intervals (or is empty).
    """
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        missing = [c for c in ("start", "end") if c not in value.columns]
        if missing:
            raise ValueError(
                f"{name} is a DataFrame without the column(s) {missing}. "
                f"{_INTERVALS_HELP}"
            )
        if len(value) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64), None
        pairs = np.column_stack([value["start"].to_numpy(), value["end"].to_numpy()])
    else:
        if isinstance(value, (str, bytes)) or value is None:
            raise TypeError(
                f"{name} must be array-like, got {value!r}. {_INTERVALS_HELP}"
            )
        pairs = np.asarray(value)
        if pairs.size == 0:
            # no step or no interval: nothing to count, whatever the shape
            return np.empty(0, np.int64), np.empty(0, np.int64), None
        if pairs.ndim == 1 or (pairs.ndim == 2 and pairs.shape[1] == 1):
            flags = _check_labels(pairs, name).astype(bool)
            starts, ends = _segments(flags)
            return starts, ends, len(flags)
        if pairs.ndim != 2 or pairs.shape[1] != 2:
            raise ValueError(
                f"{name} has shape {pairs.shape}, which is neither per-step flags "
                f"nor (start, end) pairs. {_INTERVALS_HELP}"
            )
    if pairs.dtype == object:
        try:
            pairs = pairs.astype(np.float64)
        except (TypeError, ValueError):
            try:
                pairs = pairs.astype("datetime64[ns]")
            except (TypeError, ValueError):
                pass
    if pairs.dtype.kind not in "iufM":
        raise ValueError(
            f"{name}'s (start, end) pairs must be numbers or timestamps, got dtype "
            f"{pairs.dtype}. {_INTERVALS_HELP}"
        )
    if pairs.dtype.kind == "f" and not np.isfinite(pairs).all():
        raise ValueError(f"{name}'s (start, end) pairs contain NaN or infinity.")
    if pairs.dtype.kind == "M" and np.isnat(pairs).any():
        raise ValueError(f"{name}'s (start, end) pairs contain NaT.")
    starts, ends = pairs[:, 0], pairs[:, 1]
    backwards = np.flatnonzero(ends < starts)
    if len(backwards):
        i = backwards[0]
        raise ValueError(
            f"{name} holds an interval that ends before it starts: "
            f"({starts[i]}, {ends[i]}) at row {i}. Intervals are inclusive "
            "(start, end) pairs with start <= end."
        )
    return starts, ends, None


def _overlaps_any(starts, ends, other_starts, other_ends):
    """Return, per interval, whether it shares a point with any other interval.

    Inclusive intervals ``[s, e]`` and ``[s', e']`` overlap when ``s <= e'``
    and ``s' <= e``. Among the other intervals that start at or before ``e``
    (a prefix once sorted by start), one overlaps if the largest end is >= s.
    """
    if len(other_starts) == 0:
        return np.zeros(len(starts), dtype=bool)
    order = np.argsort(other_starts, kind="stable")
    sorted_starts = other_starts[order]
    furthest_end = np.maximum.accumulate(other_ends[order])
    n_before = np.searchsorted(sorted_starts, ends, side="right")
    found = n_before > 0
    return found & (furthest_end[np.maximum(n_before - 1, 0)] >= starts)


def event_counts(y_true, y_pred):
    """Return Orion's overlap-segment counts ``(tp, fp, fn)`` of two sets of intervals.

    The rule of Orion's ``contextual_confusion_matrix(..., weighted=False)``:

    - a labelled interval that overlaps at least one detected interval is one
      true positive (however many detected intervals it overlaps);
    - a labelled interval that overlaps no detected interval is one false
      negative;
    - a detected interval that overlaps no labelled interval is one false
      positive. A detected interval that overlaps two labelled intervals makes
      two true positives and no false positive.

    Two intervals overlap when they share at least one time step: the
    inclusive intervals ``(s1, e1)`` and ``(s2, e2)`` overlap when
    ``s1 <= e2`` and ``s2 <= e1``, so ``(0, 4)`` and ``(4, 9)`` overlap but
    ``(0, 4)`` and ``(5, 9)``, which touch, do not. (Orion widens each
    ``(start, end)`` to ``(start, end + 1)`` and asks for a strict overlap,
    which is the same rule for integer steps or timestamps.) There are no
    true negatives.

    Parameters
    ----------
    y_true : array-like or DataFrame
        The labelled intervals, in one of three forms:

        - per-step flags of shape ``(n_timesteps,)``, 0/1 or bool (1 =
          anomaly): each maximal run of 1s is one interval;
        - inclusive ``(start, end)`` pairs, of shape ``(n_intervals, 2)``:
          step positions, or any numbers or timestamps as long as both
          arguments use the same ones;
        - a DataFrame with ``start`` and ``end`` columns, such as the events
          of a detector (positions).

        An empty sequence means no interval.
    y_pred : array-like or DataFrame
        The detected intervals, in the same forms. A detector's ``predict``
        output (-1 = anomaly) must be converted first: ``predict(X) == -1``.

    Returns
    -------
    counts : EventCounts
        A named tuple ``(tp, fp, fn)`` of ints.

    See Also
    --------
    event_precision_recall_f1 : Precision, recall and F1 from these counts.
    event_recall : The same recall, from per-step arrays.

    Notes
    -----
    To score a dataset of several signals as Orion's leaderboard does, sum the
    counts over the signals and take the ratios of the sums, e.g.
    ``tp, fp, fn = np.sum([event_counts(t, p) for t, p in pairs], axis=0)``
    then ``F1 = 2 TP / (2 TP + FP + FN)``. (Adding the named tuples with ``+``
    concatenates them.)

    Examples
    --------
    >>> from skae.metrics import event_counts
    >>> event_counts([(10, 20), (30, 40), (60, 70)], [(15, 35), (50, 55)])
    EventCounts(tp=2, fp=1, fn=1)
    >>> event_counts([0, 1, 1, 0, 0, 1], [0, 0, 1, 1, 0, 0])
    EventCounts(tp=1, fp=0, fn=1)
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

    From the counts of :func:`event_counts`, as Orion computes them:
    precision ``TP / (TP + FP)``, recall ``TP / (TP + FN)`` (the fraction of
    labelled intervals found) and ``F1 = 2 TP / (2 TP + FP + FN)``. TP counts
    labelled intervals and FP detected ones, so precision is not exactly the
    fraction of detected intervals that found something: a detected interval
    overlapping two labelled ones adds two to TP.

    Parameters
    ----------
    y_true, y_pred : array-like or DataFrame
        The labelled and the detected intervals, as per-step 0/1 flags,
        inclusive ``(start, end)`` pairs or a DataFrame with ``start`` and
        ``end`` columns (see :func:`event_counts`).
    zero_division : float, default=0.0
        The value of a ratio whose denominator is 0: precision when nothing is
        detected, recall when nothing is labelled, F1 when neither. Use
        ``numpy.nan`` to see such cases.

    Returns
    -------
    precision, recall, f1 : float

    Notes
    -----
    Over several signals, sum the counts of :func:`event_counts` first (see
    its Notes); the mean of per-signal F1s is a different figure.

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

    See Also
    --------
    event_counts : The counts, to sum over several signals first.

    Examples
    --------
    >>> from skae.metrics import event_f1
    >>> event_f1([0, 1, 1, 0, 0, 1, 0], [0, 0, 1, 0, 0, 0, 1])
    0.5
    """
    return event_precision_recall_f1(y_true, y_pred, zero_division=zero_division)[2]


# --------------------------------------------------------------------------
# threshold-free metrics


def auc_pr(y_true, scores, *, sample_weight=None):
    """Return the area under the precision-recall curve (average precision).

    Computed as scikit-learn's ``average_precision_score`` with anomalies as
    the positive class: ``sum_k (R_k - R_{k-1}) P_k`` over the thresholds, a
    step-wise sum without interpolation.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 = anomaly, 0 = normal.
    scores : array-like of shape (n_timesteps,)
        Anomaly scores, **larger = more anomalous**. A detector's
        ``score_samples`` is the opposite: pass ``-detector.score_samples(X)``.
    sample_weight : array-like of shape (n_timesteps,), default=None
        Weights of the time steps.

    Returns
    -------
    auc : float
        In [0, 1]; a random ranking scores about the fraction of anomalies.
        NaN (with ``UndefinedMetricWarning``) if ``y_true`` has no anomaly.

    Examples
    --------
    >>> from skae.metrics import auc_pr
    >>> auc_pr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.8333333333333333
    """
    from sklearn.metrics import average_precision_score

    y = _check_labels(y_true)
    s = _check_scores(scores, len(y))
    if not y.any():
        return _undefined("auc_pr is undefined: y_true has no anomaly.")
    return float(average_precision_score(y, s, sample_weight=sample_weight))


def auc_roc(y_true, scores, *, sample_weight=None):
    """Return the area under the ROC curve with anomalies as the positive class.

    Parameters
    ----------
    y_true, scores : array-like of shape (n_timesteps,)
        Labels (1 = anomaly) and anomaly scores (larger = more anomalous), as
        for :func:`auc_pr`.
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

    y = _check_labels(y_true)
    s = _check_scores(scores, len(y))
    if y.all() or not y.any():
        return _undefined("auc_roc is undefined: y_true holds only one class.")
    return float(roc_auc_score(y, s, sample_weight=sample_weight))


def vus_pr(y_true, scores, *, max_buffer=10):
    """Return the volume under the precision-recall surface over buffer widths.

    A range-aware, threshold-free measure in the spirit of VUS-PR (Paparrizos
    et al., 2022, used by TSB-AD), implemented in skae from this definition.
    Labels are widened by a buffer of ``l`` steps on each side of every
    anomaly segment, for each ``l = 0, 1, ..., max_buffer``; the average
    precision ``AP_l`` is computed against the widened labels, and the result
    is the mean of the ``AP_l``. Flagging a step just before or after a
    segment therefore earns partial credit, which point-wise
    :func:`auc_pr` withholds.

    For a buffer width ``l``, with ``d(t)`` the distance from step ``t`` to the
    nearest labelled step:

    - soft label ``y_l(t) = 1`` if ``d(t) = 0``, ``sqrt(1 - d(t) / (l + 1))`` if
      ``1 <= d(t) <= l``, else 0;
    - at a threshold flagging the set ``F`` of highest-scored steps (ties
      together): ``TP_l = sum_{t in F} y_l(t)``, precision ``P_l = TP_l /
      |F|``, recall ``R_l = min(1, TP_l / n_anomalous) * E_l`` where
      ``n_anomalous`` is the number of labelled steps and ``E_l`` the fraction
      of segments with a flagged step within ``l`` steps of them (a step near
      two segments counts for the nearer one);
    - ``AP_l = sum_k (R_l,k - R_l,k-1) P_l,k`` over the thresholds in
      decreasing order, with ``R_l,-1 = 0``.

    A perfect ranking scores 1 for every ``l``. With ``max_buffer=0`` the
    measure is average precision with recall multiplied by the fraction of
    segments found.

    Parameters
    ----------
    y_true : array-like of shape (n_timesteps,)
        1 = anomaly, 0 = normal, in time order.
    scores : array-like of shape (n_timesteps,)
        Anomaly scores, **larger = more anomalous** (negate a detector's
        ``score_samples``).
    max_buffer : int, default=10
        The largest buffer width, in time steps. Choose it of the order of the
        detection delay you are willing to accept (e.g. the window size). The
        larger it is, the more credit near misses get, and the higher a random
        ranking scores.

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
    y = _check_labels(y_true).astype(bool)
    s = _check_scores(scores, len(y))
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
    n_flagged = cut + 1
    rank = np.arange(n)

    aps = []
    for width in range(max_buffer + 1):
        soft = np.sqrt(np.clip(1 - distance / (width + 1), 0.0, None))
        true_positive = np.cumsum(soft)[cut]
        precision = true_positive / n_flagged
        near = distance <= width
        first = np.full(len(starts), n)
        np.minimum.at(first, nearest[near], rank[near])
        found = np.cumsum(np.bincount(first, minlength=n + 1)[:n])[cut] / len(starts)
        recall = np.minimum(1.0, true_positive / y.sum()) * found
        aps.append(np.sum(np.diff(recall, prepend=0.0) * precision))
    return float(np.mean(aps))


# --------------------------------------------------------------------------
# scikit-learn scorers

# metrics of the ranking by -score_samples, and of the decisions predict == -1
# (the position of each in the result of _prf)
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

    scikit-learn's scorer strings treat a larger ``decision_function`` as the
    positive class, but for an outlier detector larger means *more normal*:
    with ``1 = anomaly`` labels, ``scoring="average_precision"`` or
    ``"roc_auc"`` rank anomalies backwards and ``GridSearchCV`` picks the worst
    model. These scorers use the detector's own conventions instead:

    - ``"average_precision"`` (:func:`auc_pr`) and ``"roc_auc"``
      (:func:`auc_roc`) on ``-estimator.score_samples(X)``;
    - ``"f1"``, ``"precision"`` and ``"recall"`` on
      ``estimator.predict(X) == -1`` (0 when undefined).

    The estimator may be any detector with ``score_samples`` / ``predict``
    (skae's, scikit-learn's ``IsolationForest``...) or a ``Pipeline`` ending
    in one.

    Parameters
    ----------
    name : {"average_precision", "roc_auc", "f1", "precision", "recall"}
        The metric.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` returns the metric (greater is better).
        ``y`` must hold 0 (normal) and 1 (anomaly), per time step for a 2-D
        series; other labels raise ``ValueError``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skae.metrics import anomaly_scorer
    >>> rng = np.random.RandomState(0)
    >>> y = (rng.uniform(size=400) < 0.05).astype(int)  # 1 = anomaly
    >>> X = rng.normal(size=(400, 2)) + 6 * y[:, None]
    >>> search = GridSearchCV(
    ...     IsolationForest(random_state=0),
    ...     {"contamination": [0.01, 0.05, 0.3]},
    ...     scoring=anomaly_scorer("f1"),
    ...     cv=3,
    ... ).fit(X, y)
    >>> search.best_params_
    {'contamination': 0.05}
    """
    valid = [*_RANKING_METRICS, *_DECISION_METRICS]
    if name not in valid:
        raise ValueError(
            f"Unknown anomaly scorer {name!r}. Valid names are: {', '.join(valid)}."
        )
    return _AnomalyScorer(name)
