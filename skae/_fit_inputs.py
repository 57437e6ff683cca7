"""What ``fit`` trains and sets the threshold on, for each form of input:
:func:`validate` checks X once; :func:`prepare` splits it in time, fits the
scaling on the training part and makes the training and held-out datasets."""

from collections import namedtuple

import numpy as np
from sklearn.utils import check_random_state

from ._scaling import apply_scaling, fit_scaling, warn_dominant_values
from ._threshold import split_point
from ._training import SequenceDataset
from ._validation import check_sequences, check_series, is_sequence_input
from ._window_batches import WindowDataset
from ._windowing import check_length, window_starts

# what prepare returns: the scaling, the training and held-out datasets, the
# held-out data (after n_context steps of context) and the scaled series
FitInputs = namedtuple("FitInputs", "mean scale train valid heldout n_context scaled")


def validate(estimator, X):
    """Return X checked for ``fit``: a float64 series, or a list of sequences."""
    if is_sequence_input(X):
        return check_sequences(estimator, X, reset=True)
    return check_series(estimator, X, reset=True)


def score_stride(detector):
    """Return the scoring stride of ``score_stride`` (``"auto"``: a quarter
    window), at most ``window_size``."""
    stride = detector.score_stride
    if stride == "auto":
        stride = max(1, detector.window_size // 4)
    return min(stride, detector.window_size)


def seed(random_state):
    """Return the seed of a fit's own generator drawn from ``random_state``."""
    if random_state is None:
        return None
    return int(check_random_state(random_state).randint(2**31 - 1))


def prepare(detector, data):
    """Return the ``FitInputs`` of validated ``data`` for ``detector``: the
    held-out part is the last ``validation_fraction``, for causal scores of a
    series with the ``n_context = window_size - 1`` steps before it (as a stream
    reads them); ``scaled`` is None for sequences."""
    if isinstance(data, list):
        return _sequences(detector, data)
    return _series(detector, data)


def _scaling(detector, train, *, rows=True):
    mean, scale = fit_scaling(train, detector.standardize)
    if detector.standardize:
        names = getattr(detector, "feature_names_in_", None)
        warn_dominant_values(train, names, rows=rows)
    return mean, scale


def _sequences(detector, sequences):
    if not isinstance(detector.detect_flatlines, str) and detector.detect_flatlines:
        raise ValueError(
            "detect_flatlines=True checks a series for flat stretches; "
            "for sequences set detect_flatlines=False"
        )
    fraction = detector.validation_fraction
    n_train = split_point(len(sequences), fraction, 1, "sequences")
    mean, scale = _scaling(detector, np.concatenate(sequences[:n_train]), rows=False)
    scaled = [apply_scaling(s, mean, scale) for s in sequences]
    train, valid = SequenceDataset(scaled[:n_train]), SequenceDataset(scaled[n_train:])
    return FitInputs(mean, scale, train, valid, sequences[n_train:], 0, None)


def _series(detector, X):
    window_size = detector.window_size
    check_length(len(X), window_size)
    fraction = detector.validation_fraction
    n_train = split_point(len(X), fraction, window_size, "time steps")
    mean, scale = _scaling(detector, X[:n_train])
    scaled = apply_scaling(X, mean, scale)

    def starts(n_timesteps):
        grid, tail = window_starts(n_timesteps, window_size, detector.stride)
        return grid if tail is None else np.r_[grid, tail]

    train = WindowDataset(scaled, window_size, starts(n_train))
    valid = WindowDataset(scaled, window_size, n_train + starts(len(X) - n_train))
    n_context = window_size - 1 if detector.causal else 0
    heldout = X[n_train - n_context :]
    return FitInputs(mean, scale, train, valid, heldout, n_context, scaled)
