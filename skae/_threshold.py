"""The held-out split and the statistics that turn errors into a threshold."""

import math

import numpy as np


def split_point(n_samples, validation_fraction, min_part, unit):
    """Return how many leading samples are for training; the rest are held out.

    The held-out part is the last ``validation_fraction`` of the samples, contiguous,
    so that it lies after the training part in time.

    Parameters
    ----------
    n_samples : int
        Time steps of a series, or number of sequences.
    validation_fraction : float in (0, 1)
        Share of the samples held out.
    min_part : int
        Smallest size allowed for either part (``window_size`` for a series, 1 for
        sequences).
    unit : str
        What a sample is, for the error message.

    Returns
    -------
    n_train : int
    """
    n_heldout = math.ceil(validation_fraction * n_samples)
    n_train = n_samples - n_heldout
    if n_train < min_part or n_heldout < min_part:
        raise ValueError(
            f"Too little data for the held-out split: {n_samples} {unit} with "
            f"validation_fraction={validation_fraction} leaves {n_train} for training "
            f"and {n_heldout} held out, and each part needs at least {min_part}. "
            f"Pass at least {_needed(validation_fraction, min_part)} {unit}, or "
            "change validation_fraction or window_size."
        )
    return n_train


def _needed(validation_fraction, min_part):
    n = min_part
    while True:
        n_heldout = math.ceil(validation_fraction * n)
        if n - n_heldout >= min_part and n_heldout >= min_part:
            return n
        n += 1


# sigma used in the threshold is at least this share of mu; see mean_k_sigma.
MIN_RELATIVE_SIGMA = 1e-3


def mean_k_sigma(errors, n_sigmas):
    """Return ``(mu, sigma, mu + n_sigmas * sigma)`` of the held-out errors.

    When the held-out errors are (almost) all equal, as after training on a
    constant series, ``sigma`` is zero or mere rounding, and ``tau = mu`` would
    flag about half of the steps of that same series once it has passed through
    float32 (relative changes of 1e-7). The threshold therefore uses
    ``max(sigma, MIN_RELATIVE_SIGMA * mu)`` (``1e-3 * mu``), which leaves any real
    spread of errors untouched.

    Parameters
    ----------
    errors : array-like of shape (n_errors,)
        Reconstruction errors on the held-out split.
    n_sigmas : float
        The ``k`` of ``tau = mu + k * sigma``.

    Returns
    -------
    mu, sigma : float
        Mean and standard deviation of ``errors``.
    threshold : float
        ``mu + n_sigmas * max(sigma, MIN_RELATIVE_SIGMA * mu)``.
    """
    errors = np.asarray(errors, dtype=np.float64)
    mu = float(np.mean(errors))
    sigma = float(np.std(errors))
    return mu, sigma, mu + n_sigmas * max(sigma, MIN_RELATIVE_SIGMA * abs(mu))


def contamination_threshold(errors, contamination):
    """Return the error above which a share ``contamination`` of ``errors`` lies.

    Parameters
    ----------
    errors : array-like of shape (n_errors,)
        Reconstruction errors of the training data.
    contamination : float in (0, 0.5]
        Expected share of anomalies in the training data.

    Returns
    -------
    threshold : float
    """
    return float(np.percentile(errors, 100.0 * (1.0 - contamination)))
