"""Flatlines: stretches that vary far less than any stretch of the training data.

An autoencoder reconstructs a held value (a stuck sensor) easily, so its
reconstruction error does not rise there; ``detect_flatlines`` adds what the
error misses. A stretch's *activity*, per feature, is the mean absolute step
``|z[t] - z[t - 1]|`` of the scaled values ``z`` over a window of
:func:`flatline_length` steps. At ``fit`` the reference ``r_f`` is the least
activity of any such window of the fit data (training and held-out parts); a
feature flat somewhere in them (``r_f = 0``) is left out. A window's stillness is
``log(r_f / a_f)``, clipped to ``[0, log 1000]``: zero wherever the data vary at
least as much as they did in their stillest fitted stretch, so the held-out
scores, and the threshold, are those of the errors alone. A step's stillness is
the largest of the windows covering it (the window ending at it, for causal
scores); the detector's score is ``max(error, weight * stillness)`` with
``weight = threshold_ / log(FLATLINE_FACTOR)``: a stretch with less than
``1 / FLATLINE_FACTOR`` of the reference activity scores above the threshold.
"""

import numpy as np

# A stretch with a third of the least activity of the fit data is flagged, over
# a window's length (flatline_length): chosen on the planted-anomaly benchmark,
# SKAB and NAB together (benchmarks/README.md, "Planted anomalies"). Against half
# and half a window, it keeps every planted base at 90 % of events or more and
# flags fewer normal steps of SKAB and NAB; a window also keeps a step's score
# within reach of the windows covering it. The ratio is in the units of the
# data's own steps.
FLATLINE_FACTOR = 3.0
# The largest stillness: activity 1,000 times below the reference (a held value).
MAX_STILLNESS = float(np.log(1000.0))


def flatline_length(window_size):
    """Return the steps per activity window: a window, at least 2."""
    return max(2, window_size)


def window_activity(z, length):
    """Return the activity of each window of ``length`` steps (stride 1).

    Parameters
    ----------
    z : ndarray of shape (n_timesteps, n_features)
        Scaled values, at least ``length`` steps.
    length : int
        Steps per window (at least 2: one step difference).

    Returns
    -------
    activity : ndarray of shape (n_timesteps - length + 1, n_features)
        Mean of ``|z[t] - z[t - 1]|`` over each window's ``length - 1`` steps.
    """
    steps = np.abs(np.diff(np.asarray(z, dtype=np.float64), axis=0))
    # each window summed on its own (not as a difference of running sums), so a
    # window's activity does not depend on where the series starts: chunks and
    # streams get the same values as the whole series
    windows = np.lib.stride_tricks.sliding_window_view(steps, length - 1, axis=0)
    return windows.sum(axis=-1) / (length - 1)


def fit_reference(z, length):
    """Return the least activity of the windows of ``z``, per feature."""
    return window_activity(z, length).min(axis=0)


def _running_max(x, length):
    """Return ``max(x[i : i + length])`` along axis 0 for each ``i`` (doubling)."""
    span = 1
    while 2 * span <= length:
        x = np.maximum(x[:-span], x[span:])
        span *= 2
    rest = length - span
    return x if rest == 0 else np.maximum(x[:-rest], x[rest:])


def step_stillness(z, length, reference, *, causal=False):
    """Return each step's stillness per feature, ``(n_timesteps, n_features)``.

    Offline, a step's value is the largest over the windows covering it; with
    ``causal``, that of the window ending at it (0 for the first ``length - 1``
    steps). A feature whose reference is 0 is always 0.
    """
    reference = np.asarray(reference, dtype=np.float64)
    if len(z) < length:  # the first rows of a stream: no whole window yet
        return np.zeros((len(z), len(reference)))
    active = reference > 0
    activity = window_activity(z, length)
    floor = np.where(active, reference, 1.0) * np.exp(-MAX_STILLNESS)
    ratio = np.where(active, reference, 1.0) / np.maximum(activity, floor)
    stillness = np.clip(np.log(ratio), 0.0, MAX_STILLNESS) * active
    pad = np.zeros((length - 1, stillness.shape[1]))
    if causal:
        return np.concatenate([pad, stillness])
    return _running_max(np.concatenate([pad, stillness, pad]), length)
