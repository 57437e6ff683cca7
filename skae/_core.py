"""The fitted autoencoder, which scales data once per call and scores it, and
the scoring methods that estimators, streaming and the CLI build on it."""

import numpy as np

from . import _inference, _training, _validation
from ._events import _check_count, flag_events
from ._flatlines import FLATLINE_FACTOR, fit_reference, flatline_length, step_stillness
from ._scaling import apply_scaling
from ._scoring import feature_contributions, fit_error_gaussian
from ._threads import uses_torch_threads
from ._windowing import check_length


class FittedAutoencoder:
    """A trained autoencoder with the scaling and score settings ``fit`` froze.

    It keeps the net, not its module, so that a pickled detector and its core
    share one network after loading.
    """

    def __init__(self, detector):
        fitted = vars(detector)
        self.net = detector.net_
        self.scaling = (detector.mean_, detector.scale_)
        self.window_size = detector.window_size_
        self.score_stride = detector.score_stride_
        self.smoothing = detector.score_smoothing_
        self.anomaly_score = detector.anomaly_score_
        self.causal = detector.causal_
        self.gaussian = {}
        if self.anomaly_score == "mahalanobis":
            self.gaussian = {
                "mean": fitted.get("error_mean_"),
                "precision": fitted.get("error_precision_"),
            }
        self.flatlines = None
        if "flatline_reference_" in fitted:
            self.flatlines = (fitted["flatline_reference_"], fitted["flatline_weight_"])

    module = property(lambda self: self.net.module_, doc="The trained network.")

    def fit_gaussian(self, heldout, *, n_context=0):
        """Fit and return the held-out errors' ``(mean, covariance, precision)``."""
        errors = self.step_feature_errors(heldout, n_context=n_context)
        gaussian = fit_error_gaussian(errors)
        self.gaussian = {"mean": gaussian[0], "precision": gaussian[2]}
        return gaussian

    def fit_flatlines(self, scaled, threshold):
        """Fit the flatline check on a scaled series; return ``(reference, weight)``."""
        reference = fit_reference(scaled, flatline_length(self.window_size))
        self.flatlines = (reference, threshold / np.log(FLATLINE_FACTOR))
        return self.flatlines

    def learn(self, X, starts, **options):
        """Train the network further on the windows of ``X`` at ``starts``."""
        _training.continue_training(
            self.module, self.scale(X), self.window_size, starts, **options
        )

    def scale(self, X):
        """Return a series ``(n_timesteps, n_features)`` in the network's units."""
        return apply_scaling(X, *self.scaling)

    def _unscale(self, scaled):
        mean, scale = self.scaling
        return scaled * scale + mean

    def _scaled(self, data):
        """Scale a series, or sequences (one 3-D array when of one length)."""
        if not isinstance(data, list):
            return self.scale(data)
        if len({len(s) for s in data}) == 1:  # one array: no padding
            stacked = np.stack(data)
            scaled = self.scale(stacked.reshape(-1, stacked.shape[2]))
            return scaled.reshape(stacked.shape)
        return [self.scale(s) for s in data]

    def _series_errors(self, z, n_context=0, mean_features=False):
        """Each step's squared errors per feature (or their mean) of a scaled series."""
        args = (self.module, z, self.window_size)
        options = {"smoothing": self.smoothing, "mean_features": mean_features}
        if self.causal:
            return _inference.causal_series_errors(
                *args, n_context=n_context, **options
            )
        return _inference.series_errors(*args, self.score_stride, **options)

    def _flatline_terms(self, z, n_context=0):
        """``weight * stillness`` of each step and feature of a scaled series."""
        reference, weight = self.flatlines
        length = flatline_length(self.window_size)
        still = step_stillness(z, length, reference, causal=self.causal)
        return weight * still[n_context:]

    def _terms(self, errors):
        return feature_contributions(errors, self.anomaly_score, **self.gaussian)

    def _contributions(self, z, n_context=0):
        if isinstance(z, np.ndarray) and z.ndim == 2:  # a series
            rows = self._terms(self._series_errors(z, n_context))
            if self.flatlines is not None:
                # a flatline's excess over the error goes to its stillest feature
                still = self._flatline_terms(z, n_context)
                excess = still.max(axis=1) - rows.sum(axis=1)
                steps = np.flatnonzero(excess > 0)
                rows[steps, still[steps].argmax(axis=1)] += excess[steps]
            return rows
        errors = _inference.sequence_errors(self.module, z)
        if isinstance(errors, np.ndarray):  # equal lengths: one array
            flat = self._terms(errors.reshape(-1, errors.shape[2]))
            return flat.reshape(errors.shape).mean(axis=1)
        return np.array([self._terms(e).mean(axis=0) for e in errors])

    def step_feature_errors(self, data, *, n_context=0):
        """Per-step, per-feature squared errors of a series or of all sequences."""
        z = self._scaled(data)
        if isinstance(data, list):
            return np.concatenate(_inference.sequence_errors(self.module, z))
        return self._series_errors(z, n_context)

    def contributions(self, data, *, n_context=0):
        """Return each feature's term of each row's score; rows sum to the scores."""
        return self._contributions(self._scaled(data), n_context)

    def errors(self, data, *, n_context=0, with_contributions=False):
        """Return the score of each step or sequence (and the contributions)."""
        z = self._scaled(data)
        by_terms = self.anomaly_score != "squared_error" or isinstance(z, list)
        terms = None
        if by_terms or with_contributions:
            terms = self._contributions(z, n_context)
        # the squared error is a mean over features taken per batch, which the
        # terms' sum matches only up to rounding: its own pass keeps predict's flags
        if by_terms:
            scores = terms.sum(axis=1)
        elif z.ndim == 3:  # equal-length sequences: means per batch
            scores = _inference.equal_length_errors(self.module, z, mean=True)
        else:  # the mean over features, taken per batch: no per-feature sums
            scores = self._series_errors(z, n_context, mean_features=True)[:, 0]
            if self.flatlines is not None:
                still = self._flatline_terms(z, n_context).max(axis=1)
                scores = np.maximum(scores, still)
        return (scores, terms) if with_contributions else scores

    def codes(self, data, stride):
        """Return the code of each window of a series or of each sequence."""
        if isinstance(data, list):
            return _inference.sequence_codes(self.module, [self.scale(s) for s in data])
        return _inference.window_codes(
            self.module, self.scale(data), self.window_size, stride
        )

    def step_codes(self, X):
        """Return one code per step of a series: that of the window ending there."""
        return _inference.step_codes(self.module, self.scale(X), self.window_size)

    def reconstruct(self, data):
        """Return the reconstruction of a series or of sequences, in data units."""
        if isinstance(data, list):
            scaled = [self.scale(s) for s in data]
            recon = _inference.sequence_reconstructions(self.module, scaled)
            return [self._unscale(r) for r in recon]
        recon = _inference.series_reconstruction(
            self.module, self.scale(data), self.window_size
        )
        return self._unscale(recon)


class ScoringMixin:
    """The scoring methods of an estimator fitted with a :class:`FittedAutoencoder`."""

    def _validate(self, X):
        """Check a fitted detector and X; return ``(is_sequences, data)``."""
        _validation.check_is_fitted(self)
        if _validation.is_sequence_input(X):
            return True, _validation.check_sequences(self, X, reset=False)
        X = _validation.check_series(self, X, reset=False)
        check_length(len(X), self.window_size_)
        return False, X

    def _fitted_setting(self, name):
        """Return the value of parameter ``name`` that ``fit`` fixed."""
        return getattr(self, f"{name}_")

    def _core(self):
        """Return the fitted autoencoder (built at first use after loading)."""
        if "_fitted_core" not in self.__dict__:
            self._fitted_core = FittedAutoencoder(self)
        return self._fitted_core

    def _errors(self, data, n_context=0):
        """Anomaly score per time step (series) or per sequence (list)."""
        return self._core().errors(data, n_context=n_context)

    @uses_torch_threads
    def score_samples(self, X):
        """Return the negated anomaly score (reconstruction error): higher is normal.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray
            Data in one of the forms ``fit`` accepts.

        Returns
        -------
        scores : ndarray of shape (n_timesteps,) or (n_sequences,)
        """
        return -self._errors(self._validate(X)[1])

    def decision_function(self, X):
        """Return ``score_samples(X) - offset_``: negative means anomaly.

        Parameters
        ----------
        X : array-like or list of ndarray
            Data in any form :meth:`score_samples` takes.

        Returns
        -------
        decision : ndarray of shape (n_timesteps,) or (n_sequences,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Return ``-1`` for anomalies and ``+1`` for normal steps or sequences.

        Parameters
        ----------
        X : array-like or list of ndarray
            Data in any form :meth:`score_samples` takes.

        Returns
        -------
        labels : ndarray of shape (n_timesteps,) or (n_sequences,)
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def score(self, X, y=None):
        """Return the mean of ``score_samples(X)``, to tune without labels.

        Parameters
        ----------
        X : array-like or list of ndarray
            Data in any form :meth:`score_samples` takes.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    @uses_torch_threads
    def feature_contributions(self, X):
        """Return each feature's share of the anomaly score: which sensor it was.

        Parameters
        ----------
        X : array-like or list of ndarray
            Data in any form :meth:`score_samples` takes.

        Returns
        -------
        contributions : ndarray of shape (n_timesteps, n_features) or \
(n_sequences, n_features)
            Rows sum to ``-score_samples(X)``; a Mahalanobis term is negative
            where the feature makes the step more typical.
        """
        return self._core().contributions(self._validate(X)[1])

    @uses_torch_threads
    def events(self, X, *, merge_gap=None, n_top_features=3):
        """Return the alarms of a series, one row per interval of flags.

        Every step :meth:`predict` flags lies in exactly one event.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features)
            One series; a DataFrame's index gives the events' times.
        merge_gap : int or None, default=None
            Runs of flags at most this many steps apart form one event; None
            means ``window_size_``.
        n_top_features : int, default=3
            Features listed per event, by their summed contributions.

        Returns
        -------
        events : pandas.DataFrame
            ``start``, ``end`` (inclusive), ``n_flagged``, ``peak``,
            ``peak_score``, ``mean_score``, ``features``, and for a DataFrame
            ``start_time``, ``end_time``, ``peak_time``.
        """
        _validation.check_is_fitted(self)
        if _validation.is_sequence_input(X):
            raise ValueError(
                "events need one series (n_timesteps, n_features): a 3-D array or "
                "a list of 2-D arrays holds sequences, whose scores are one per "
                "sequence; use predict for them, or pass each series on its own."
            )
        if merge_gap is None:
            merge_gap = self.window_size_
        merge_gap = _check_count(merge_gap, "merge_gap", 0)
        n_top_features = _check_count(n_top_features, "n_top_features", 0)
        data = self._validate(X)[1]
        scores = self._core().errors(data, with_contributions=n_top_features > 0)
        scores, contributions = scores if n_top_features else (scores, None)
        names = getattr(self, "feature_names_in_", None)
        return flag_events(
            -scores - self.offset_ < 0,  # decision_function < 0, as predict
            scores,
            contributions=contributions,
            feature_names=None if contributions is None else names,
            index=X.index if hasattr(X, "columns") else None,
            merge_gap=merge_gap,
            n_top_features=n_top_features,
        )

    # ------------------------------------------------ compression and denoising

    @uses_torch_threads
    def encode(self, X):
        """Return the latent code of each window (every ``stride`` steps) or sequence.

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray

        Returns
        -------
        codes : ndarray of shape (n_windows, hidden_size) or (n_sequences, hidden_size)
        """
        return self._core().codes(self._validate(X)[1], self.stride)

    @uses_torch_threads
    def reconstruct(self, X):
        """Return X reconstructed, in its units and shape (a denoised series).

        Parameters
        ----------
        X : array-like of shape (n_timesteps, n_features), ndarray of shape \
(n_sequences, seq_len, n_features), or list of ndarray

        Returns
        -------
        X_hat : ndarray of X's shape, or list of ndarray for a list
        """
        is_sequences, data = self._validate(X)
        recon = self._core().reconstruct(data)
        if is_sequences and isinstance(X, np.ndarray):
            return np.stack(recon)
        return recon
