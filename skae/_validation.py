"""Input checks for the three input forms, and skae's only use of private sklearn names.

A 2-D array is one series, checked by scikit-learn's ``validate_data``; a 3-D array
or a list of 2-D arrays is a set of sequences, checked by :func:`check_sequences`.
"""

import os
import sys
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

__all__ = [
    "Integral",
    "Interval",
    "NumberInterval",
    "Real",
    "StrOptions",
    "_fit_context",
    "check_is_fitted",
    "check_sequences",
    "check_series",
    "is_sequence_input",
    "user_stacklevel",
]

# skae's wrappers and scikit-learn's (``_fit_context``, a Pipeline) lie between
# a warning and the user's line that caused it
_LIBRARY_DIRS = tuple(
    os.path.dirname(os.path.abspath(module.__file__)) + os.sep
    for module in (sys.modules[__package__], sys.modules["sklearn"])
)


def user_stacklevel():
    """Return the ``stacklevel`` that points a warning at the first frame outside
    skae and scikit-learn, counted from the caller."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        frame, level = frame.f_back, level + 1
    return level


# Python integers (object arrays) can be too large for float64
_OVERFLOW = "{what} has a value too large for float64 ({exc})."


class NumberInterval(Interval):
    """scikit-learn's :class:`Interval` constraint, refusing booleans (which
    Python counts as integers) with scikit-learn's usual message."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def _check_not_masked(X, what="X"):
    """Refuse a masked array with masked values: skae cannot honour a mask."""
    if isinstance(X, np.ma.MaskedArray) and np.ma.is_masked(X):
        raise ValueError(
            f"{what} is a masked array with {int(np.ma.count_masked(X))} masked "
            "value(s); skae does not honour masks and will not ignore them "
            f"silently. Fill them ({what}.filled(value)) or drop the masked steps, "
            f"or pass np.asarray({what}) if the mask does not matter."
        )


def _check_frame_columns(X, what="X"):
    """Refuse DataFrame columns whose dtype is categorical or a date/time type."""
    if not hasattr(X, "columns") or not hasattr(X, "dtypes"):
        return
    for name, dtype in zip(X.columns, X.dtypes, strict=False):
        if getattr(dtype, "name", None) == "category":
            problem = (
                "a categorical column is not a magnitude: encode it (for example "
                "pandas.get_dummies, or .cat.codes when the order of the categories "
                "means something) or drop it"
            )
        elif getattr(dtype, "kind", None) in ("M", "m"):
            problem = (
                "time stamps are not a feature: make the column the DataFrame's "
                "index (X.set_index(column)) or drop it"
            )
        else:
            continue
        raise ValueError(
            f"Column {name!r} of {what} has dtype {dtype}, but every column "
            f"must be numeric; {problem}."
        )


def _name_non_numeric_column(X, what, exc):
    """Re-raise a failed conversion of a DataFrame naming the column at fault."""
    if hasattr(X, "columns"):
        for name in X.columns:
            try:
                np.asarray(X[name], dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Column {name!r} of {what} is not numeric ({exc}); every "
                    "column must hold numbers."
                ) from exc
    raise exc


def _check_not_list_of_1d(X):
    """Refuse a list of 1-D arrays: neither rows of a series nor sequences."""
    if (
        isinstance(X, (list, tuple))
        and len(X) > 0
        and all(getattr(member, "ndim", None) == 1 for member in X)
    ):
        raise ValueError(
            f"X is a list of {len(X)} 1-D arrays. A list is read as a set of "
            "sequences when its members are 2-D, shape (seq_len, n_features): "
            "for univariate sequences pass [s.reshape(-1, 1) for s in X]; for "
            "one series whose rows are these arrays pass np.stack(X)."
        )


def is_sequence_input(X):
    """Return True for a 3-D array or a list whose first member is 2-D (a set of
    sequences), False for anything read as one series."""
    if hasattr(X, "ndim") and hasattr(X, "shape") and not hasattr(X, "columns"):
        return X.ndim == 3  # NumPy, torch or Dask arrays
    if isinstance(X, (list, tuple)) and len(X) > 0:
        return np.ndim(X[0]) == 2
    return False


def check_series(estimator, X, *, reset):
    """Validate one time series ``(n_timesteps, n_features)`` into float64.

    ``estimator`` gets ``n_features_in_`` and ``feature_names_in_`` when ``reset``
    (in ``fit``), and is checked against them otherwise.
    """
    _check_not_list_of_1d(X)
    _check_not_masked(X)
    _check_frame_columns(X)
    if hasattr(X, "ndim") and X.ndim > 3:
        raise ValueError(
            f"X has {X.ndim} dimensions; expected a 2-D series (n_timesteps, "
            "n_features), a 3-D array (n_sequences, seq_len, n_features) or a list "
            "of 2-D arrays."
        )
    try:
        return validate_data(
            estimator,
            X,
            reset=reset,
            dtype=np.float64,
            ensure_min_samples=1,
            ensure_all_finite=True,
        )
    except OverflowError as exc:
        raise ValueError(_OVERFLOW.format(what="X", exc=exc)) from exc
    except ValueError as exc:
        if hasattr(X, "columns") and "could not convert" in str(exc):
            _name_non_numeric_column(X, "X", exc)
        raise


def check_sequences(estimator, X, *, reset):
    """Validate a 3-D array or a list of 2-D arrays into a list of float64 arrays.

    ``estimator`` gets ``n_features_in_`` when ``reset``, and is checked against it
    otherwise.
    """
    _check_not_masked(X)
    if hasattr(X, "ndim") and hasattr(X, "shape"):  # NumPy, torch or Dask arrays
        X = np.asarray(X)
        if X.ndim != 3:
            raise ValueError(
                "Expected a 3-D array of shape (n_sequences, seq_len, n_features), "
                f"got an array with {X.ndim} dimension(s) and shape {X.shape}."
            )
        if X.dtype.kind in "biuf" and X.shape[0] and X.shape[1]:
            # one check for the whole array (a clean array is the common case;
            # the loop below names the sequence when something is wrong)
            try:
                checked = check_array(
                    X, dtype=np.float64, ensure_all_finite=True, allow_nd=True
                )
            except ValueError:
                checked = None
            if checked is not None:
                return _set_n_features(estimator, list(checked), X.shape[2], reset)
        members = list(X)
    elif isinstance(X, (list, tuple)):
        members = list(X)
    else:
        raise TypeError(
            "Expected a 2-D series, a 3-D array or a list of 2-D arrays, "
            f"got {type(X).__name__}."
        )
    if len(members) == 0:
        raise ValueError(
            "Found 0 sequences (n_samples = 0) while a minimum of 1 is required."
        )

    sequences = []
    for i, member in enumerate(members):
        if np.ndim(member) != 2:
            raise ValueError(
                f"Sequence {i} has {np.ndim(member)} dimension(s); every sequence "
                "must be 2-D with shape (seq_len, n_features)."
            )
        _check_not_masked(member, f"sequence {i}")
        _check_frame_columns(member, f"sequence {i}")
        try:
            seq = check_array(
                member,
                dtype=np.float64,
                ensure_all_finite=True,
                ensure_min_samples=1,
                input_name=f"sequence {i}",
            )
        except OverflowError as exc:
            raise ValueError(_OVERFLOW.format(what=f"Sequence {i}", exc=exc)) from exc
        except ValueError as exc:
            raise ValueError(f"Sequence {i}: {exc}") from exc
        sequences.append(seq)

    n_features = {seq.shape[1] for seq in sequences}
    if len(n_features) > 1:
        raise ValueError(
            "All sequences must have the same number of features, got "
            f"{sorted(n_features)}."
        )
    return _set_n_features(estimator, sequences, n_features.pop(), reset)


def _set_n_features(estimator, sequences, n_features, reset):
    """Record ``n_features_in_`` (``reset``) or check it; return ``sequences``."""
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    return sequences


def feature_indices(estimator, features):
    """Return the sorted column indices that ``features`` names (indices, or names
    from ``feature_names_in_``), or None when it names none."""
    if features is None:
        return None
    # a list keeps each entry's type; np.asarray would turn [0, "a"] into strings
    features = np.ravel(features).tolist() if hasattr(features, "ndim") else features
    if len(features) == 0:
        return None
    n_features = estimator.n_features_in_
    names = getattr(estimator, "feature_names_in_", None)
    indices = []
    for feature in features:
        if isinstance(feature, str):
            if names is None or feature not in names:
                known = "no names (X was not a DataFrame)"
                if names is not None:
                    known = f"the names {list(names)}"
                raise ValueError(
                    f"centered_features: unknown feature {feature!r}; X has {known}."
                )
            indices.append(int(np.flatnonzero(names == feature)[0]))
        elif isinstance(feature, Integral) and not isinstance(feature, bool):
            if not -n_features <= feature < n_features:
                raise ValueError(
                    f"centered_features: index {feature} is out of range for X "
                    f"with {n_features} features."
                )
            indices.append(int(feature) % n_features)
        else:
            raise TypeError(
                "centered_features must hold column indices (int) or feature "
                f"names (str), got {feature!r} of type {type(feature).__name__}."
            )
    return sorted(set(indices))
