"""Running statistics of errors that forget: for ``partial_fit``, an error
``forget_half_life`` steps old counts half as much as the newest. Chunks merge
by Chan et al.'s parallel update (old weights decayed first), so any chunking of
a series gives its statistics in one chunk, up to rounding."""

import math

import numpy as np

# Most recent errors kept for the rules that need the errors themselves
# (``threshold_rule="pot"``, a float ``contamination``): bounded memory.
MAX_ERROR_BUFFER = 10_000
MIN_ERROR_BUFFER = 1_000


def decay_per_step(half_life):
    """Return the factor an error's weight shrinks by per step (1: never)."""
    return 1.0 if half_life is None else 0.5 ** (1.0 / half_life)


def merge_errors(weight, mean, variance, errors, half_life):
    """Return ``(weight, mean, variance)`` after the new ``errors``, oldest first.

    ``weight`` is the total weight of the errors seen so far (their count
    without forgetting), ``mean`` and ``variance`` their weighted statistics;
    ``half_life`` None never forgets.
    """
    errors = np.asarray(errors, dtype=np.float64)
    if errors.size == 0:
        return weight, mean, variance
    decay = decay_per_step(half_life)
    ages = np.arange(errors.size - 1, -1, -1, dtype=np.float64)
    weights = decay**ages
    new_weight = float(weights.sum())
    new_mean = float(weights @ errors / new_weight)
    new_m2 = float(weights @ np.square(errors - new_mean))
    old = decay**errors.size
    old_weight = weight * old
    total = old_weight + new_weight
    delta = new_mean - mean
    merged_mean = mean + delta * new_weight / total
    m2 = old_weight * variance + new_m2 + delta**2 * old_weight * new_weight / total
    return total, merged_mean, max(m2 / total, 0.0)


def error_buffer_size(half_life):
    """Return how many recent errors the tail rules re-estimate from.

    Twice the half-life (a sliding window whose older half carries half the
    weight), between ``MIN_ERROR_BUFFER`` and ``MAX_ERROR_BUFFER``; the maximum
    when nothing is forgotten.
    """
    if half_life is None:
        return MAX_ERROR_BUFFER
    return int(min(MAX_ERROR_BUFFER, max(MIN_ERROR_BUFFER, math.ceil(2 * half_life))))


def merge_into(heldout_errors, mean, std, weight, errors, half_life):
    """Return ``(recent, weight, mean, std)`` after the new ``errors``: the
    statistics merged with forgetting (:func:`merge_errors`), and the latest
    :func:`error_buffer_size` errors."""
    weight, mean, variance = merge_errors(weight, mean, std**2, errors, half_life)
    recent = np.concatenate([heldout_errors, errors])
    recent = recent[-error_buffer_size(half_life) :]
    return recent, float(weight), float(mean), float(np.sqrt(variance))
