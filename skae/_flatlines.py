"""Flatlines: stretches where a feature is stuck, repeating its value.

An autoencoder reconstructs a held value easily, so ``detect_flatlines`` adds
what the error misses. A stretch's *activity*, per feature, is the mean absolute
step ``|z[t] - z[t - 1]|`` of the scaled values over :func:`flatline_length`
steps. At ``fit`` the reference ``r_f`` is ``FLATLINE_FACTOR * STUCK_SHARE``
times the fit data's median activity; a feature is left out (``r_f = 0``) when
more than ``REPEAT_SHARE`` of its steps repeat the previous value exactly, or a
window of its fit data is already that still. A window below the reference has
the stillness ``log(r_f / activity)`` (at most ``MAX_STILLNESS``), any other
window 0; a step's stillness is the largest of the windows covering it (the one
ending at it, for causal scores). The score is ``max(error, weight *
stillness)`` with ``weight = threshold_ / log(FLATLINE_FACTOR)``: a stuck window
scores above the threshold, and everywhere else the score is the error. The
constants were chosen with ``benchmarks/quality/flatline_choice.py``.
"""

import numpy as np

# A window scores above the threshold when its activity is below the reference
# divided by this factor (the weight's unit: threshold_ / log(FLATLINE_FACTOR)).
FLATLINE_FACTOR = 3.0
# Stuck: a window's activity below this share of the median activity of the fit
# data's windows of the same feature.
STUCK_SHARE = 0.01
# A feature is left out when more of its fit steps repeat the previous value
# exactly: coarse counts and often idle values repeat in runs when all is well.
REPEAT_SHARE = 0.01
# The largest stillness: activity 1,000 times below the reference (a held value).
MAX_STILLNESS = float(np.log(1000.0))


def flatline_length(window_size):
    """Return the steps per activity window: half a window (which finds held
    values shorter than a window), at least 2."""
    return max(2, window_size // 2)


def window_activity(z, length):
    """Return the activity of each window of ``length`` steps (stride 1) of the
    scaled ``z``, ``(n_timesteps - length + 1, n_features)``."""
    steps = np.abs(np.diff(np.asarray(z, dtype=np.float64), axis=0))
    # each window summed on its own (not as a difference of running sums), so a
    # window's activity does not depend on where the series starts: chunks and
    # streams get the same values as the whole series
    windows = np.lib.stride_tricks.sliding_window_view(steps, length - 1, axis=0)
    return windows.sum(axis=-1) / (length - 1)


def fit_reference(z, length):
    """Return the reference activity of each feature: 0 leaves a feature out
    (:func:`reference_of` at the module's constants)."""
    return reference_of(z, length)


def reference_of(z, length, *, stuck_share=STUCK_SHARE, repeat_share=REPEAT_SHARE):
    """Return each feature's reference activity over the windows of ``z`` (the
    scaled fit data): ``FLATLINE_FACTOR * stuck_share`` times the median
    activity, or 0 for a feature whose steps repeat the previous value more
    often than ``repeat_share``, or with a window of ``z`` as still as that."""
    z = np.asarray(z, dtype=np.float64)
    activity = window_activity(z, length)
    reference = FLATLINE_FACTOR * stuck_share * np.median(activity, axis=0)
    repeats = (np.diff(z, axis=0) == 0).mean(axis=0)
    checked = (repeats <= repeat_share) & (activity.min(axis=0) > reference)
    return np.where(checked, reference, 0.0)


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
    stillness = np.minimum(np.log(ratio), MAX_STILLNESS) * active
    # a window that is not stuck adds nothing, not even below the threshold: a
    # calm normal stretch then never ranks above the steps the error ranks
    stillness[stillness < np.log(FLATLINE_FACTOR)] = 0.0
    pad = np.zeros((length - 1, stillness.shape[1]))
    if causal:
        return np.concatenate([pad, stillness])
    return _running_max(np.concatenate([pad, stillness, pad]), length)
