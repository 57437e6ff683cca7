"""Checks of the metrics' inputs (labels, flags, scores, intervals) and runs of 1s."""

import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

_CONVERT_HINT = (
    "If these are a detector's predict() output (-1 = anomaly, +1 = normal), "
    "convert them with y = (y == -1).astype(int); otherwise use "
    "y = (y == <your anomaly label>).astype(int)."
)


def _one_dimensional(y, name):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {y.shape}.")
    return y


def _numeric(y, name, expected):
    if y.dtype == object:
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if y.dtype.kind not in "biuf":
        values = list(dict.fromkeys(y.tolist()))[:5]
        raise ValueError(
            f"{name} must hold {expected}; got values of dtype {y.dtype} such as "
            f"{values}. {_CONVERT_HINT}"
        )
    return y


def _check_labels(y_true, name="y_true"):
    """Return ``y_true`` as an int64 array of 0/1, or raise a helpful ValueError."""
    y = _numeric(_one_dimensional(y_true, name), name, "0 (normal) and 1 (anomaly)")
    values = np.unique(y)
    if not np.isin(values, (0, 1)).all():
        raise ValueError(
            f"{name} must hold 0 (normal) and 1 (anomaly), got the values "
            f"{values[:5].tolist()}. {_CONVERT_HINT}"
        )
    return y.astype(np.int64)


def _anomaly_mask(y_pred, anomaly_label="auto", name="y_pred"):
    """Return a boolean mask of the steps that ``y_pred`` flags as anomalies."""
    if not (isinstance(anomaly_label, str) and anomaly_label == "auto") and (
        anomaly_label not in (1, -1) or isinstance(anomaly_label, bool)
    ):
        raise ValueError(
            f"anomaly_label must be 'auto', 1 or -1, got {anomaly_label!r}."
        )
    expected = "0/1 (1 = anomaly) or -1/+1 (-1 = anomaly)"
    y = _numeric(_one_dimensional(y_pred, name), name, expected)
    if y.dtype.kind == "b":
        return y.copy()
    values = set(np.unique(y).tolist())
    if anomaly_label == "auto":
        if values == {1}:
            raise ValueError(
                f"{name} holds only 1s, which means 'all anomalies' with 0/1 "
                "labels but 'all normal' with a detector's -1/+1 output. Pass "
                "anomaly_label=1 or anomaly_label=-1 to say which."
            )
        anomaly_label = -1 if -1 in values else 1
    if not values <= ({0, 1} if anomaly_label == 1 else {-1, 1}):
        raise ValueError(
            f"{name} must hold {expected}, got the values {sorted(values)[:5]}."
        )
    return y == anomaly_label


def _check_scores(scores, n_samples, name="scores"):
    s = _one_dimensional(scores, name)
    if s.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {s.dtype}.")
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    _check_length(n_samples, len(s), name)
    return s


def _check_length(n_true, n_other, name):
    if n_true != n_other:
        raise ValueError(
            f"y_true and {name} have different lengths: {n_true} and {n_other}."
        )


def _labels_and_flags(y_true, y_pred, anomaly_label):
    y = _check_labels(y_true).astype(bool)
    flagged = _anomaly_mask(y_pred, anomaly_label)
    _check_length(len(y), len(flagged), "y_pred")
    return y, flagged


def _labels_and_scores(y_true, scores):
    y = _check_labels(y_true)
    return y, _check_scores(scores, len(y))


def runs(mask):
    """Return ``(starts, ends)`` of the runs of True (or 1) in a 1-D mask; ``ends``
    are exclusive indices."""
    mask = np.asarray(mask, dtype=bool)
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def caught_runs(y, flagged):
    """Return ``(starts, ends, caught)``: the runs of 1s in ``y`` (``ends``
    exclusive) and, per run, whether ``flagged`` holds at any of its steps."""
    y, flagged = np.asarray(y, dtype=bool), np.asarray(flagged, dtype=bool)
    starts, ends = runs(y)
    hits = _segment_ids(y, starts)[y & flagged]
    return starts, ends, np.bincount(hits, minlength=len(starts)) > 0


def _segments(y):
    """Return the first and last index (inclusive) of each run of 1s in ``y``."""
    starts, ends = runs(y)
    return starts, ends - 1


def _segment_ids(y, starts):
    """Return, per step, the index of the segment holding it, or -1."""
    ids = np.searchsorted(starts, np.arange(len(y)), side="right") - 1
    return np.where(y, ids, -1)


def _undefined(message):
    warnings.warn(message, UndefinedMetricWarning, stacklevel=3)
    return float("nan")


def _ratio(numerator, denominator, zero_division):
    return float(numerator / denominator) if denominator else float(zero_division)


_INTERVALS_HELP = (
    "Pass a per-step 0/1 (or bool) array of shape (n_timesteps,), a sequence of "
    "inclusive (start, end) pairs of shape (n_intervals, 2), or a DataFrame with "
    "'start' and 'end' columns (e.g. the events of a detector)."
)


def _intervals(value, name):
    """Return inclusive ``(starts, ends)`` and the length of per-step flags, or None."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        missing = [c for c in ("start", "end") if c not in value.columns]
        if missing:
            raise ValueError(
                f"{name} is a DataFrame without the column(s) {missing}. "
                f"{_INTERVALS_HELP}"
            )
        pairs = np.column_stack([value["start"].to_numpy(), value["end"].to_numpy()])
    elif isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be array-like, got {value!r}. {_INTERVALS_HELP}")
    else:
        pairs = np.asarray(value)
    if pairs.size == 0:  # no step or no interval, whatever the shape
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
    """Return, per interval, whether it shares a point with any other interval."""
    if len(other_starts) == 0:
        return np.zeros(len(starts), dtype=bool)
    # of the others starting at or before each end, the furthest end must reach
    # the start
    order = np.argsort(other_starts, kind="stable")
    sorted_starts = other_starts[order]
    furthest_end = np.maximum.accumulate(other_ends[order])
    n_before = np.searchsorted(sorted_starts, ends, side="right")
    found = n_before > 0
    return found & (furthest_end[np.maximum(n_before - 1, 0)] >= starts)
