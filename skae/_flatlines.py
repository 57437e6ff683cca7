"""Flatlines: stretches where a feature is stuck, repeating its value.

An autoencoder reconstructs a held value (a stuck sensor) easily, so its
reconstruction error does not rise there; ``detect_flatlines`` adds what the
error misses. A stretch's *activity*, per feature, is the mean absolute step
``|z[t] - z[t - 1]|`` of the scaled values ``z`` over a window of
:func:`flatline_length` steps (half a ``window_size``).

At ``fit``, per feature, over the windows of the fit data (training and
held-out parts): the reference ``r_f`` is ``FLATLINE_FACTOR * STUCK_SHARE``
times the median activity, so that a window moving less than ``STUCK_SHARE``
(1 %) of a typical window of the same feature counts as stuck, a value held or
nearly so; a calm stretch of a noisy value, even ten times calmer than any of
the fit data, moves more than that. A feature is left out (``r_f = 0``) when
its fit data cannot tell a stuck stretch from a normal one: more than
``REPEAT_SHARE`` (1 %) of their steps repeat the previous value exactly (a
coarse count, a value often idle: runs of repeats are normal there), or a
window of the fit data is as still as the reference (it was flat or nearly so
somewhere: stillness is normal there). So ``r_f`` is below the activity of
every window of the fit data, whose stillness is 0.

A stuck window's stillness is ``log(r_f / a_f)``, at least
``log(FLATLINE_FACTOR)`` and at most ``log 1000``; any other window's is 0, so
that a calm stretch that is not stuck never ranks above the steps the error
ranks. A step's stillness is the largest of the windows covering it (the window
ending at it, for causal scores); the detector's score is ``max(error, weight *
stillness)`` with ``weight = threshold_ / log(FLATLINE_FACTOR)``: a stuck window
scores above the threshold, a held value about 6.3 times it; elsewhere, the
held-out part included, the score is the error, and the threshold is that of
the errors alone.

A rule that flagged any window three times calmer than the calmest of the fit
data let calm normal stretches of server metrics outrank real anomalies
(``benchmarks/quality/calm_features.py``). The constants were
chosen with ``benchmarks/quality/flatline_choice.py`` on that simulation, the
planted anomalies, SKAB and NAB together (``benchmarks/README.md``).
"""

import numpy as np

# A window scores above the threshold when its activity is below the reference
# divided by this factor (the weight's unit: threshold_ / log(FLATLINE_FACTOR)).
FLATLINE_FACTOR = 3.0
# Stuck: a window's activity below this share of the median activity of the fit
# data's windows of the same feature (flatline_choice.py: 0.3 % and
# 1 % give the same figures on all four sets; at 10 %, calm normal stretches of
# the simulated servers are flagged: mean AUC-PR 0.50 against 0.60, and 0.28
# against 0.40 with their stuck sensors left out).
STUCK_SHARE = 0.01
# A feature is left out when more of its fit steps repeat the previous value
# exactly: coarse counts and often idle values repeat in runs when all is well.
# NAB's rogue_agent_key_hold repeats 4.3 % of its fit steps, then holds values
# for long normal runs: at 5 % the check flagged 649 of its 1,410 normal steps;
# at 2 % or less every NAB figure is that of the check off (flatline_choice.py).
REPEAT_SHARE = 0.01
# The largest stillness: activity 1,000 times below the reference (a held value).
MAX_STILLNESS = float(np.log(1000.0))


def flatline_length(window_size):
    """Return the steps per activity window: half a window, at least 2.

    Half a window finds held values shorter than a window (on the planted
    benchmark, all 72 flatlines against 65 with a whole window), and keeps a
    step's stillness within reach of the windows that cover it.
    """
    return max(2, window_size // 2)


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
    """Return the reference activity of each feature: 0 leaves a feature out
    (:func:`reference_of` at the module's constants)."""
    return reference_of(z, length)


def reference_of(z, length, *, stuck_share=STUCK_SHARE, repeat_share=REPEAT_SHARE):
    """Return each feature's reference activity over the windows of ``z``.

    Parameters
    ----------
    z : ndarray of shape (n_timesteps, n_features)
        The scaled fit data, at least ``length`` steps.
    length : int
        Steps per window (:func:`flatline_length`).
    stuck_share : float, default=STUCK_SHARE
        A window is stuck below this share of the feature's median activity.
    repeat_share : float, default=REPEAT_SHARE
        A feature with a larger share of steps that repeat the previous value
        exactly is left out.

    Returns
    -------
    reference : ndarray of shape (n_features,)
        ``FLATLINE_FACTOR * stuck_share`` times the median activity, or 0 for
        a feature left out: one that repeats values more often than
        ``repeat_share``, or one with a window of ``z`` as still as that.
    """
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
