"""The held-out split and the rules that turn errors into a threshold; a rule
is chosen by name in one place, :func:`threshold_from_heldout`."""

import math
import warnings
from fractions import Fraction

import numpy as np

from ._validation import user_stacklevel


def split_point(n_samples, validation_fraction, min_part, unit):
    """Return how many leading samples train; the last ``validation_fraction``
    of ``n_samples`` (time steps or sequences, ``unit`` in the message) are held
    out, and each part needs at least ``min_part``."""
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
    """Return the fewest samples that :func:`split_point` splits, in closed form
    (a fraction of 1e-9 needs billions): ``n`` splits when ``n > (m - 1) / f``
    and ``n >= m / (1 - f)``, computed exactly from the float ``f``, then moved
    by a step or two where the float product rounds the other way."""
    fraction = Fraction(float(validation_fraction))
    bound = max(
        min_part,
        math.floor((min_part - 1) / fraction) + 1,
        math.ceil(min_part / (1 - fraction)),
    )

    def splits(n):
        try:
            n_heldout = math.ceil(validation_fraction * n)
        except OverflowError:  # beyond float64: the exact bound stands
            return True
        return n - n_heldout >= min_part and n_heldout >= min_part

    for _ in range(4):
        if splits(bound):
            break
        bound += 1
    for _ in range(4):
        if bound <= min_part or not splits(bound - 1):
            break
        bound -= 1
    return bound


# sigma in the threshold is at least this share of mu: after training on a
# constant series sigma is zero or mere rounding, and mu alone would flag about
# half of that series once it has passed through float32.
MIN_RELATIVE_SIGMA = 1e-3


def mean_k_sigma(errors, n_sigmas):
    """Return ``(mu, sigma, threshold)`` of errors, the threshold by
    :func:`k_sigma_threshold`."""
    errors = np.asarray(errors, dtype=np.float64)
    mu = float(np.mean(errors))
    sigma = float(np.std(errors))
    return mu, sigma, k_sigma_threshold(mu, sigma, n_sigmas)


def k_sigma_threshold(mu, sigma, n_sigmas):
    """Return ``mu + n_sigmas * max(sigma, MIN_RELATIVE_SIGMA * |mu|)``,
    elementwise for arrays (the moving statistics of a stream)."""
    return mu + n_sigmas * np.maximum(sigma, MIN_RELATIVE_SIGMA * np.abs(mu))


def contamination_threshold(errors, contamination):
    """Return the error above which a share ``contamination`` of ``errors`` lies."""
    return float(np.percentile(errors, 100.0 * (1.0 - contamination)))


# ------------------------------------------------------------- tail-based rules

THRESHOLD_RULES = ("above_heldout", "mean_k_sigma", "pot", "contamination")
# Fewest held-out errors the tail rule accepts without a warning, fewest and
# most peaks its fit uses, and the range of the fitted shape (a prior)
MIN_HELDOUT_ERRORS = 200
MIN_PEAKS, MAX_PEAKS = 10, 500
SHAPE_BOUNDS = (0.0, 0.5)


def _profile_loglik(theta, excesses):
    """Return ``(loglik, shape)`` of the GPD profile likelihood at each ``theta
    = shape / scale``: ``shape(theta) = mean(log1p(theta * y))`` (Grimshaw,
    1993), ``loglik = -n * (log(shape / theta) + 1 + shape)``, and at ``theta =
    0`` the exponential tail's ``-n * (log(mean(y)) + 1)``."""
    theta = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    n = excesses.size
    shape = np.mean(np.log1p(np.multiply.outer(theta, excesses)), axis=1)
    loglik = np.empty_like(theta)
    zero = np.abs(theta) * excesses.max() < 1e-10
    nonzero = ~zero
    loglik[nonzero] = -n * (
        np.log(shape[nonzero] / theta[nonzero]) + 1.0 + shape[nonzero]
    )
    loglik[zero] = -n * (np.log(np.mean(excesses)) + 1.0)
    shape[zero] = 0.0
    return loglik, shape


def fit_generalized_pareto(excesses, shape_bounds=(-0.5, 1.0)):
    """Return the maximum-likelihood ``(shape, scale)`` of a generalized Pareto tail.

    The fit (location 0) searches ``theta = shape / scale`` (Grimshaw, 1993) on
    a log-spaced grid on both sides of 0, refined by golden-section search. The
    shape is kept within ``shape_bounds`` (``(0, 0)``: an exponential tail),
    which also avoids the unbounded likelihood of shapes below -1. ``excesses``
    are the non-negative amounts by which the peaks exceed the initial level, at
    least two of them positive.
    """
    excesses = np.asarray(excesses, dtype=np.float64).ravel()
    lower, upper = (float(b) for b in shape_bounds)
    if not lower <= upper:
        raise ValueError(f"shape_bounds must be ordered, got {shape_bounds}.")
    if not np.all(np.isfinite(excesses)) or np.any(excesses < 0):
        raise ValueError("excesses must be finite and non-negative.")
    if np.count_nonzero(excesses) < 2:
        raise ValueError(
            f"A tail fit needs at least two positive excesses, got "
            f"{np.count_nonzero(excesses)}."
        )
    y_max, y_mean = excesses.max(), excesses.mean()
    # theta > -1 / y_max keeps every log1p argument positive; the grid spans
    # shapes from below -1 to far above any tail met in practice.
    negative = -(1.0 - np.logspace(-8, 0, 60, endpoint=False)) / y_max
    positive = np.logspace(-6, 6, 121) / y_mean
    grid = np.concatenate([negative, [0.0], positive])
    loglik, shape = _profile_loglik(grid, excesses)
    # Shapes below -1 have an unbounded likelihood at theta -> -1 / y_max.
    loglik = np.where(shape >= -1.0, loglik, -np.inf)
    best = int(np.argmax(loglik))
    theta = _golden_max(
        lambda t: _profile_value(t, excesses),
        grid[max(best - 1, 0)],
        grid[min(best + 1, grid.size - 1)],
    )
    if _profile_value(theta, excesses) < loglik[best]:
        theta = grid[best]
    _, (xi,) = _profile_loglik(theta, excesses)
    if xi < lower or xi > upper or xi == 0.0:
        # The likelihood is unimodal in the shape, so the constrained maximum
        # lies on the nearest bound.
        return _fixed_shape_fit(excesses, float(np.clip(xi, lower, upper)))
    return float(xi), float(xi / theta)


def _profile_value(theta, excesses):
    loglik, shape = _profile_loglik(theta, excesses)
    return float(loglik[0]) if shape[0] >= -1.0 else -np.inf


def _golden_max(function, lo, hi, n_iter=60):
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = function(c), function(d)
    for _ in range(n_iter):
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = function(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = function(d)
    return (a + b) / 2.0


def _fixed_shape_fit(excesses, shape):
    """Return ``(shape, scale)`` with the scale's maximum likelihood at that shape."""
    if shape == 0.0:
        return 0.0, float(np.mean(excesses))
    # For a fixed shape the scale's likelihood equation has one root; bisect it
    # in log-scale between values that bracket it.
    y = excesses

    def gradient(log_scale):
        scale = np.exp(log_scale)
        z = 1.0 + shape * y / scale
        return -y.size + (1.0 + 1.0 / shape) * np.sum(shape * y / scale / z)

    if shape < 0:  # the scale must exceed -shape * max(y)
        lo = np.log(-shape * y.max()) + 1e-12
    else:
        lo = np.log(y.mean() * 1e-6)
    hi = np.log(y.max() * 1e6 + y.mean())
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if gradient(mid) > 0:
            lo = mid
        else:
            hi = mid
    return float(shape), float(np.exp((lo + hi) / 2.0))


def pot_threshold(errors, risk, *, tail_share=0.05, shape_bounds=SHAPE_BOUNDS):
    """Return a peaks-over-threshold threshold and what it came from.

    The ``tail_share`` of the errors above an initial level ``u`` (the peaks,
    between ``MIN_PEAKS`` and ``MAX_PEAKS``) are fitted by a generalized Pareto
    tail (Siffer et al., 2017) with its shape in ``shape_bounds`` (at least as
    heavy as an exponential tail by default), and the threshold is the error a
    new one exceeds with probability ``risk``: ``u + scale / shape * ((risk * n
    / n_peaks) ** -shape - 1)`` (``u - scale * log(risk * n / n_peaks)`` for
    shape 0), or the empirical ``1 - risk`` quantile when ``risk >= n_peaks /
    n``. ``info`` holds ``initial_level``, ``n_peaks``, ``shape``, ``scale``
    and ``n_errors``.
    """
    errors = np.sort(np.asarray(errors, dtype=np.float64))
    n = errors.size
    n_peaks = int(np.clip(math.ceil(tail_share * n), MIN_PEAKS, MAX_PEAKS))
    n_peaks = min(n_peaks, n - 1)
    level = float(errors[n - n_peaks - 1])
    excesses = errors[n - n_peaks :] - level
    if np.count_nonzero(excesses) >= 2:
        shape, scale = fit_generalized_pareto(excesses, shape_bounds)
    else:  # (almost) constant errors: a small exponential tail, as mean_k_sigma
        shape, scale = 0.0, MIN_RELATIVE_SIGMA * max(abs(float(np.mean(errors))), 1e-12)
    ratio = risk * n / n_peaks
    if ratio >= 1.0:
        threshold = float(np.quantile(errors, 1.0 - risk))
    elif shape == 0.0:
        threshold = level - scale * math.log(ratio)
    else:
        threshold = level + scale / shape * (ratio**-shape - 1.0)
    info = dict(initial_level=level, n_peaks=n_peaks, shape=shape, scale=scale)
    return float(threshold), {**info, "n_errors": n}


def quantile_margin_threshold(errors, quantile, margin):
    """Return ``(q + margin * (q - median), info)`` with ``q`` the ``quantile``
    of the errors (1: their maximum); ``info`` holds ``quantile_value`` and
    ``median``."""
    errors = np.asarray(errors, dtype=np.float64)
    value = float(np.quantile(errors, quantile))
    median = float(np.median(errors))
    spread = max(value - median, MIN_RELATIVE_SIGMA * abs(median))
    return value + margin * spread, {"quantile_value": value, "median": median}


def above_heldout_threshold(errors, k_sigma_value):
    """Return the larger of ``k_sigma_value`` and ``max + (max - median)`` of the
    errors, and ``info`` (``k_sigma_value``, ``median``, ``margin`` and
    ``binding``: which of the two is the threshold)."""
    above, details = quantile_margin_threshold(errors, 1.0, 1.0)
    binding = "max" if above > k_sigma_value else "k_sigma"
    info = dict(k_sigma_value=float(k_sigma_value), median=details["median"])
    info.update(margin=1.0, binding=binding)
    return float(max(above, k_sigma_value)), info


def threshold_from_heldout(
    errors,
    rule="above_heldout",
    *,
    n_sigmas=6.0,
    risk=1e-4,
    contamination=None,
    mean=None,
    std=None,
):
    """Return the threshold a rule sets from errors, and what it came from.

    Parameters
    ----------
    errors : array-like of shape (n_errors,)
        Anomaly scores of normal held-out data (of the training data for
        ``"contamination"``).
    rule : {"above_heldout", "mean_k_sigma", "pot", "contamination"}, \
default="above_heldout"
        The larger of ``mu + n_sigmas * sigma`` and ``max + (max - median)``;
        ``mu + n_sigmas * sigma``; peaks over threshold at the false-alarm
        probability ``risk`` (:func:`pot_threshold`); or the ``1 -
        contamination`` quantile.
    n_sigmas, risk, contamination : float
        The parameters of the rules.
    mean, std : float, default=None
        ``mu`` and ``sigma`` when they weigh more errors than ``errors`` (the
        forgetting statistics of ``partial_fit``); None: those of ``errors``.

    Returns
    -------
    threshold : float
    info : dict
        ``rule``, and ``contamination`` or ``n_errors``, ``mean``, ``std``,
        ``max`` and the rule's own figures.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"rule must be one of {THRESHOLD_RULES}, got {rule!r}.")
    if rule == "contamination":
        threshold = contamination_threshold(errors, contamination)
        return threshold, {"rule": rule, "contamination": contamination}
    errors = np.asarray(errors, dtype=np.float64)
    needed = 2 if rule == "pot" else 1
    if errors.ndim != 1 or errors.size < needed:
        raise ValueError(
            f"errors must be a 1-D array of at least {needed} value(s) for rule "
            f"{rule!r}, got shape {errors.shape}."
        )
    if not np.all(np.isfinite(errors)):
        raise ValueError("errors must be finite; got NaN or infinity.")
    mean = float(np.mean(errors)) if mean is None else float(mean)
    std = float(np.std(errors)) if std is None else float(std)
    info = dict(rule=rule, n_errors=errors.size, mean=mean, std=std)
    info["max"] = float(np.max(errors))
    if rule == "pot":
        if not 0.0 < risk < 1.0:
            raise ValueError(f"risk must be in (0, 1), got {risk}.")
        if errors.size < MIN_HELDOUT_ERRORS:
            warnings.warn(
                f"Only {errors.size} held-out errors; the 'pot' threshold needs at "
                f"least {MIN_HELDOUT_ERRORS} for a tail estimate. Hold out more data "
                "(a longer series or a larger validation_fraction).",
                UserWarning,
                stacklevel=user_stacklevel(),
            )
        threshold, details = pot_threshold(errors, risk)
        info.update(details, risk=float(risk))
        return threshold, info
    if not np.isfinite(n_sigmas):
        raise ValueError(f"n_sigmas must be finite, got {n_sigmas}.")
    info["n_sigmas"] = float(n_sigmas)
    threshold = k_sigma_threshold(mean, std, n_sigmas)
    if rule == "above_heldout":
        threshold, details = above_heldout_threshold(errors, threshold)
        info.update(details)
    return float(threshold), info
