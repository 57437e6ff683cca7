"""Per-feature standardisation that stays finite for any finite float64 input.

The network computes in float32, whose largest value is about 3.4e38, while a
validated input may hold any finite float64 up to 1.8e308. The statistics are
computed on the data divided by its largest magnitude (so that squaring cannot
overflow), and scaled data whose magnitudes the network cannot take raise a clear
error instead of becoming infinities and NaN scores.
"""

import math
import warnings
from typing import NamedTuple

import numpy as np

from ._validation import user_stacklevel

# Largest magnitude the network is fed: far enough below float32's 3.4e38 that the
# first matrix product of the LSTM cannot overflow.
MAX_SCALED_MAGNITUDE = 1e30

# A feature whose standard deviation is below this share of its magnitude is
# constant up to rounding (float64 sums of n values drift by about n * eps).
_CONSTANT_RELATIVE_STD = 1e3 * np.finfo(np.float64).eps


def fit_scaling(X, standardize):
    """Return per-feature ``(mean, scale)`` of a finite float64 training series.

    ``standardize=False`` gives 0 and 1. ``scale`` is finite and positive: a
    constant feature (standard deviation zero, or mere rounding next to its
    magnitude) keeps its units (``scale = 1``), or beyond a magnitude of about
    4e12 is divided by its rounding level, so that rounding noise cannot become
    huge values.
    """
    n_features = X.shape[1]
    if not standardize:
        return np.zeros(n_features), np.ones(n_features)
    magnitude = np.max(np.abs(X), axis=0)
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    unit = X / magnitude
    mean = unit.mean(axis=0) * magnitude
    std = unit.std(axis=0) * magnitude
    constant = (std == 0) | (std <= _CONSTANT_RELATIVE_STD * np.abs(mean))
    rounding = _CONSTANT_RELATIVE_STD * np.abs(mean)
    return mean, np.where(constant, np.maximum(rounding, 1.0), std)


# dominant_values sets aside the values farthest from the median, this share
# of a feature's values (at least one), and warns when the feature's standard
# deviation is more than DOMINANT_RATIO times that of the others. On the
# training parts of NAB's 58 series and SKAB's 34 files the largest ratio was
# 3.2, but for one NAB series (ec2_network_in_5abac7: 428).
DOMINANT_SHARE = 0.01
DOMINANT_RATIO = 10.0


class DominantValue(NamedTuple):
    """A value that, with the few next farthest from the median, sets a
    feature's scale: its column, row and value, how many values were set aside,
    the standard deviation with them (``scale``) and without (``rest_scale``),
    and ``inflation = scale / rest_scale``."""

    feature: int
    row: int
    value: float
    n_values: int
    scale: float
    rest_scale: float
    inflation: float


def dominant_values(X):
    """Return a :class:`DominantValue` for each feature whose standard deviation
    a few extreme values set.

    The ``max(1, ceil(DOMINANT_SHARE * n))`` values farthest from the median are
    set aside; where the standard deviation of all values is more than
    ``DOMINANT_RATIO`` times that of the others, those few set the scaling
    alone, and after it the other values vary that many times less than one
    unit. Heavy tails, skew and a rare second level change the spread by a
    factor of 1 to 3; a feature whose other values are all equal is not reported.
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    n_aside = max(1, math.ceil(DOMINANT_SHARE * n))
    if n - n_aside < 2:
        return []
    # in units of each feature's largest magnitude, so squares cannot overflow
    magnitude = np.max(np.abs(X), axis=0)
    magnitude = np.where(magnitude > 0, magnitude, 1.0)
    unit = X / magnitude
    distance = np.abs(unit - np.median(unit, axis=0))
    farthest = np.argpartition(distance, n - n_aside, axis=0)[n - n_aside :]
    rest = np.ones(X.shape, dtype=bool)
    np.put_along_axis(rest, farthest, False, axis=0)
    rest_mean = np.sum(unit, axis=0, where=rest) / (n - n_aside)
    rest_std = np.sqrt(
        np.sum((unit - rest_mean) ** 2, axis=0, where=rest) / (n - n_aside)
    )
    std = unit.std(axis=0)
    found = []
    for feature in np.flatnonzero(std > DOMINANT_RATIO * rest_std):
        if not rest_std[feature] > 0:  # the other values are all equal
            continue
        row = int(np.argmax(distance[:, feature]))
        sizes = np.array([std[feature], rest_std[feature]]) * magnitude[feature]
        ratio = float(std[feature] / rest_std[feature])
        values = (float(X[row, feature]), n_aside, *sizes.tolist(), ratio)
        found.append(DominantValue(int(feature), row, *values))
    return found


def warn_dominant_values(X, feature_names=None, *, rows=True):
    """Warn once per feature of :func:`dominant_values`, naming it (by
    ``feature_names`` when given), the value and, with ``rows``, its row."""
    for found in dominant_values(X):
        name = f"feature {found.feature}"
        if feature_names is not None:
            name = f"feature {str(feature_names[found.feature])!r} ({name})"
        where = f" at row {found.row} of the training part" if rows else ""
        others = "it"
        if found.n_values > 1:
            others = (
                f"it and the {found.n_values - 1} value(s) next farthest from the "
                f"median ({100 * DOMINANT_SHARE:g} % of the values)"
            )
        warnings.warn(
            f"In {name}, the value {found.value:.6g}{where} lies far from the "
            f"others: without {others}, the standard deviation would be "
            f"{found.rest_scale:.3g}; with them the standardisation's scale_ is "
            f"{found.scale:.3g}, {found.inflation:.3g} times larger, so the other "
            "values vary that many times less after scaling and anomalies of "
            "their size are hard to see. If such values are errors, remove or "
            "clip them before fit; if they are normal, scale the data yourself "
            "(say, sklearn.preprocessing.RobustScaler) and pass "
            "standardize=False, or ignore this warning.",
            UserWarning,
            stacklevel=user_stacklevel(),
        )


def apply_scaling(X, mean, scale):
    """Return ``(X - mean) / scale`` as a new array, with a ValueError when a
    value exceeds ``MAX_SCALED_MAGNITUDE`` in magnitude (or overflows): the
    float32 network could only turn it into infinities."""
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = (X - mean) / scale
    magnitude = np.abs(scaled)
    # written so that NaN (from inf - inf) counts as too large
    if not (magnitude <= MAX_SCALED_MAGNITUDE).all():
        row, column = np.argwhere(~(magnitude <= MAX_SCALED_MAGNITUDE))[0]
        raise ValueError(
            f"X has a value ({X[row, column]:.6g} at row {row}, feature {column}) "
            f"that becomes {scaled[row, column]:.3g} after scaling, beyond the "
            f"magnitude {MAX_SCALED_MAGNITUDE:g} that the float32 network can take. "
            "Such a value lies absurdly far from the training data (in units of its "
            "standard deviation when standardize=True); check X for corrupt "
            "values, or rescale the data (or use standardize=True)."
        )
    return scaled
