"""From per-feature reconstruction errors to anomaly scores, and back to features.

Two scores are available, both computed from the per-time-step, per-feature squared
errors ``E[t, f]`` (for a series, the mean over the windows covering step ``t``):

``"squared_error"``
    ``a_t = mean_f E[t, f]``. Feature ``f`` contributes ``E[t, f] / n_features``.
``"mahalanobis"`` (Malhotra et al., 2016)
    The error vector ``e_t = sqrt(E[t, :])`` (``|x_t - x^_t|`` when one window
    covers the step) is scored by its squared Mahalanobis distance to a Gaussian
    ``N(mu, Sigma)`` fitted on the held-out split's error vectors:
    ``a_t = (e_t - mu)^T P (e_t - mu)`` with ``P = Sigma^-1``. Feature ``f``
    contributes ``(e_t - mu)_f * (P (e_t - mu))_f``; these terms sum to ``a_t``
    exactly, and a term is negative when the feature's error makes the vector
    *more* typical given the correlations between features.

``Sigma`` is the Ledoit-Wolf shrinkage estimate plus a tiny ridge, so that near-constant
features (SKAB has several) or few held-out steps do not make it singular.
"""

import numpy as np
from sklearn.covariance import ledoit_wolf

ANOMALY_SCORES = ("squared_error", "mahalanobis")

# Added to the covariance's diagonal, relative to its mean variance; errors are in
# standardized units, so the absolute floor is tiny against any real variance.
_RIDGE_RELATIVE = 1e-6
_RIDGE_ABSOLUTE = 1e-9


def fit_error_gaussian(squared_errors):
    """Return ``(mean, covariance, precision)`` of the absolute error vectors
    ``sqrt(squared_errors)`` (``(n_steps, n_features)``, of the held-out part):
    ``mu``, the shrunk, regularised ``Sigma`` and ``Sigma^-1``."""
    errors = np.sqrt(np.asarray(squared_errors, dtype=np.float64))
    n_steps, n_features = errors.shape
    mean = errors.mean(axis=0)
    if n_steps < 2:
        # one error vector says nothing about spread: fall back to unit variance
        covariance = np.eye(n_features)
    else:
        covariance, _ = ledoit_wolf(errors)
    ridge = _RIDGE_RELATIVE * np.trace(covariance) / n_features + _RIDGE_ABSOLUTE
    covariance = covariance + ridge * np.eye(n_features)
    precision = np.linalg.inv(covariance)
    # symmetric by construction; remove the rounding of the inverse
    precision = (precision + precision.T) / 2
    return mean, covariance, precision


def feature_contributions(squared_errors, anomaly_score, mean=None, precision=None):
    """Return each feature's term of each step's anomaly score, ``(n_steps,
    n_features)``, from squared errors; rows sum to the scores. ``mean`` and
    ``precision`` (:func:`fit_error_gaussian`) are needed for ``"mahalanobis"``."""
    squared_errors = np.asarray(squared_errors, dtype=np.float64)
    if anomaly_score == "squared_error":
        return squared_errors / squared_errors.shape[1]
    deviation = np.sqrt(squared_errors) - mean
    return deviation * (deviation @ precision)
