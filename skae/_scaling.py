"""Per-feature standardisation that stays finite for any finite float64 input.

The network computes in float32, whose largest value is about 3.4e38, while a
validated input may hold any finite float64 up to 1.8e308. The statistics are
computed on the data divided by its largest magnitude (so that squaring cannot
overflow), and scaled data whose magnitudes the network cannot take raise a clear
error instead of becoming infinities and NaN scores.
"""

import numpy as np

# Largest magnitude the network is fed: far enough below float32's 3.4e38 that the
# first matrix product of the LSTM cannot overflow.
MAX_SCALED_MAGNITUDE = 1e30

# A feature whose standard deviation is below this share of its magnitude is
# constant up to rounding (float64 sums of n values drift by about n * eps).
_CONSTANT_RELATIVE_STD = 1e3 * np.finfo(np.float64).eps


def fit_scaling(X, standardize):
    """Return per-feature ``(mean, scale)`` of a training series.

    Parameters
    ----------
    X : ndarray of shape (n_timesteps, n_features), dtype float64, finite
        The training data.
    standardize : bool
        False gives ``mean = 0`` and ``scale = 1`` (the data are used as they are).

    Returns
    -------
    mean, scale : ndarray of shape (n_features,)
        Finite, and ``scale > 0``. A constant feature (standard deviation zero, or
        mere rounding next to its magnitude) keeps its units (``scale = 1``)
        rather than being divided by (almost) zero; only beyond a magnitude of
        about 4e12, where float64 rounding itself exceeds 1, is it divided by that
        rounding level, so that its rounding noise cannot become huge values.
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


def apply_scaling(X, mean, scale):
    """Return ``(X - mean) / scale``, checked to be safe for the float32 network.

    Parameters
    ----------
    X : ndarray of shape (n_timesteps, n_features), dtype float64, finite
    mean, scale : ndarray of shape (n_features,)
        From :func:`fit_scaling`.

    Returns
    -------
    scaled : ndarray of shape (n_timesteps, n_features)
        A new array; ``X`` is not modified.

    Raises
    ------
    ValueError
        When a scaled value exceeds ``MAX_SCALED_MAGNITUDE`` in magnitude (or
        overflows float64): the network could only turn it into infinities.
    """
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
