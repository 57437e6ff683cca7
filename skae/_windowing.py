"""Sliding windows over a series (starting at ``0, stride, ...``, plus a *tail
window* aligned to the end) and the way back to one value per time step."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin

from ._validation import (
    Integral,
    NumberInterval,
    _fit_context,
    check_is_fitted,
    check_series,
)


def check_length(n_timesteps, window_size, what="X"):
    """Raise a ValueError when a series is shorter than one window."""
    if n_timesteps < window_size:
        raise ValueError(
            f"{what} has {n_timesteps} time steps (n_samples = {n_timesteps}), fewer "
            f"than window_size={window_size}: a series must be at least one window "
            "long. Use a smaller window_size or a longer series."
        )


def window_starts(n_timesteps, window_size, stride):
    """Return the grid windows' starts and the tail window's (or None)."""
    check_length(n_timesteps, window_size)
    grid_starts = np.arange(0, n_timesteps - window_size + 1, stride)
    last_end = grid_starts[-1] + window_size
    tail_start = n_timesteps - window_size if last_end < n_timesteps else None
    return grid_starts, tail_start


def window_view(X, window_size):
    """Return every window of the series ``X`` as a read-only strided view."""
    return sliding_window_view(X, window_size, axis=0).transpose(0, 2, 1)


class StepAccumulator:
    """Sum per-window or per-position values into per-time-step means."""

    def __init__(self, n_timesteps, window_size, trailing_shape=()):
        self.n_timesteps = n_timesteps
        self.window_size = window_size
        self.sums = np.zeros((n_timesteps, *trailing_shape))
        self.counts = np.zeros(n_timesteps)

    def add(self, starts, values, tail=False):
        """Add the windows' values at ``starts`` (``tail``: to uncovered steps only)."""
        values = np.asarray(values, dtype=np.float64)
        n_windows = len(starts)
        if values.ndim == 1 or values.shape[1:] == self.sums.shape[1:]:
            values = np.broadcast_to(
                values.reshape(n_windows, 1, *self.sums.shape[1:]),
                (n_windows, self.window_size, *self.sums.shape[1:]),
            )
        index = (starts[:, None] + np.arange(self.window_size)).ravel()
        flat = values.reshape(n_windows * self.window_size, -1)
        if tail:
            keep = self.counts[index] == 0
            index, flat = index[keep], flat[keep]
        if len(index) == 0:
            return
        # add into the span the windows cover only, not a full-length bincount
        first = int(index.min())
        local = index - first
        span = int(local.max()) + 1
        sums = self.sums.reshape(self.n_timesteps, -1)[first : first + span]
        for j in range(flat.shape[1]):
            sums[:, j] += np.bincount(local, weights=flat[:, j], minlength=span)
        self.counts[first : first + span] += np.bincount(local, minlength=span)

    def result(self):
        """Return the per-time-step means."""
        counts = self.counts.reshape(-1, *([1] * (self.sums.ndim - 1)))
        return self.sums / np.maximum(counts, 1)


class SlidingWindowTransformer(TransformerMixin, BaseEstimator):
    """Cut a time series into sliding windows, and map window values back to steps.

    ``transform`` returns the windows starting at ``0, stride, ...`` plus, when
    these miss the last steps, one window aligned to the end of the series.
    ``inverse_transform`` and :meth:`aggregate` go back to one value per time step
    (the mean over the windows covering it).

    Parameters
    ----------
    window_size : int, default=32
        Number of time steps in a window.
    stride : int, default=1
        Steps between the starts of consecutive windows.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when given as a DataFrame.

    See Also
    --------
    LSTMAutoencoderDetector : the detector, which windows its input itself.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import SlidingWindowTransformer
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> windows = SlidingWindowTransformer(window_size=4, stride=3).fit_transform(X)
    >>> windows.shape
    (3, 4, 1)
    >>> windows[:, 0, 0]
    array([0., 3., 6.])
    """

    _parameter_constraints = {
        "window_size": [NumberInterval(Integral, 1, None, closed="left")],
        "stride": [NumberInterval(Integral, 1, None, closed="left")],
    }

    def __init__(self, window_size=32, stride=1):
        self.window_size = window_size
        self.stride = stride

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X`` and record its number of features.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features)
            The series.
        y : None
            Ignored.

        Returns
        -------
        self : SlidingWindowTransformer
        """
        X = check_series(self, X, reset=True)
        check_length(len(X), self.window_size)
        return self

    def transform(self, X):
        """Return the windows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features)
            The series.

        Returns
        -------
        windows : ndarray of shape (n_windows, window_size, n_features)
            A new array (not a view of ``X``).
        """
        check_is_fitted(self)
        X = check_series(self, X, reset=False)
        grid_starts, tail_start = window_starts(len(X), self.window_size, self.stride)
        starts = grid_starts if tail_start is None else np.r_[grid_starts, tail_start]
        return np.ascontiguousarray(window_view(X, self.window_size)[starts])

    def aggregate(self, values, n_timesteps):
        """Map one value per window, or per window position, to one per time step.

        Parameters
        ----------
        values : array-like of shape (n_windows,), (n_windows, window_size) or
            (n_windows, window_size, n_features)
            Values for the windows that ``transform`` returns for a series of
            ``n_timesteps`` steps, in the same order.
        n_timesteps : int
            Length of the series the windows came from.

        Returns
        -------
        per_step : ndarray of shape (n_timesteps,) or (n_timesteps, n_features)
            The mean over the windows covering each step (the tail window only
            fills steps that no grid window covers).
        """
        values = np.asarray(values, dtype=np.float64)
        grid_starts, tail_start = window_starts(
            int(n_timesteps), self.window_size, self.stride
        )
        n_expected = len(grid_starts) + (tail_start is not None)
        if values.shape[0] != n_expected:
            raise ValueError(
                f"Got values for {values.shape[0]} windows, but a series of "
                f"{n_timesteps} time steps has {n_expected} windows of "
                f"window_size={self.window_size} with stride={self.stride}."
            )
        if values.ndim > 1 and values.shape[1] != self.window_size:
            raise ValueError(
                f"Per-position values must have window_size={self.window_size} "
                f"columns, got shape {values.shape}."
            )
        trailing = values.shape[2:]
        acc = StepAccumulator(int(n_timesteps), self.window_size, trailing)
        acc.add(grid_starts, values[: len(grid_starts)])
        if tail_start is not None:
            acc.add(np.array([tail_start]), values[-1:], tail=True)
        return acc.result()

    def inverse_transform(self, X, n_timesteps=None):
        """Rebuild a series from its windows by averaging overlapping windows.

        Parameters
        ----------
        X : array-like of shape (n_windows, window_size, n_features)
            Windows as returned by ``transform`` (or a reconstruction of them).
        n_timesteps : int, default=None
            Length of the original series. Needed when ``transform`` added a tail
            window; by default the windows are taken to end exactly on the grid,
            ``(n_windows - 1) * stride + window_size``.

        Returns
        -------
        X_series : ndarray of shape (n_timesteps, n_features)
        """
        check_is_fitted(self)
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 3 or X.shape[1] != self.window_size:
            raise ValueError(
                "Expected windows of shape (n_windows, window_size="
                f"{self.window_size}, n_features), got shape {X.shape}."
            )
        if n_timesteps is None:
            n_timesteps = (X.shape[0] - 1) * self.stride + self.window_size
        return self.aggregate(X, n_timesteps)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
