"""The fitted autoencoder: a trained module, its scaling and its frozen score settings.

This is the layer between the network code (:mod:`skae._net`, which runs the
module on scaled arrays) and the estimators: :class:`FittedAutoencoder` takes
data in the user's units and returns what the estimators, streaming and the CLI
need (scores, per-feature terms, codes, reconstructions), so that none of them
scales data or calls :mod:`skae._net` itself. It holds no state of its own: a
detector builds one from its fitted attributes when it scores
(:meth:`FittedAutoencoder.of`), so ``set_params``, ``partial_fit`` and model
files never have a second copy to keep in step.
"""

import numpy as np

from . import _net
from ._flatlines import flatline_length, step_stillness
from ._scaling import apply_scaling
from ._scoring import feature_contributions


class FittedAutoencoder:
    """A trained autoencoder with what ``fit`` fixed for scoring.

    Parameters
    ----------
    module : LSTMAutoencoder
        The trained network, in eval mode.
    mean, scale : ndarray of shape (n_features,)
        The scaling fitted on the training part (:mod:`skae._scaling`).
    window_size : int
        Steps per window of a series.
    score_stride : int, default=1
        Steps between scored windows of a series (offline scores).
    smoothing : int, default=0
        ``score_smoothing``: positions on either side averaged inside a window.
    anomaly_score : {"squared_error", "mahalanobis"}, default="squared_error"
    causal : bool, default=False
        Score step ``t`` from the window ending at ``t`` only.
    error_mean, error_precision : ndarray, default=None
        The Gaussian of the held-out errors, for ``"mahalanobis"``.
    flatlines : tuple of (ndarray, float), default=None
        ``(reference, weight)`` of ``detect_flatlines`` (:mod:`skae._flatlines`):
        scores become ``max(error, weight * stillness)``; None scores errors only.
    """

    def __init__(
        self,
        module,
        mean,
        scale,
        window_size,
        *,
        score_stride=1,
        smoothing=0,
        anomaly_score="squared_error",
        causal=False,
        error_mean=None,
        error_precision=None,
        flatlines=None,
    ):
        self.module = module
        self.scaling = (mean, scale)
        self.window_size = window_size
        self.score_stride = score_stride
        self.smoothing = smoothing
        self.anomaly_score = anomaly_score
        self.causal = causal
        self.gaussian = {}
        if anomaly_score == "mahalanobis":
            self.gaussian = {"mean": error_mean, "precision": error_precision}
        self.flatlines = flatlines

    @classmethod
    def of(cls, detector):
        """Return the core of a fitted ``LSTMAutoencoderDetector``.

        Models fitted before skae fixed a score setting at ``fit`` (older
        pickles) use the parameter of that name.
        """
        fitted = vars(detector)

        def setting(name):
            return fitted.get(f"{name}_", getattr(detector, name))

        return cls(
            detector.net_.module_,
            detector.mean_,
            detector.scale_,
            setting("window_size"),
            score_stride=fitted.get("score_stride_", 1),
            smoothing=setting("score_smoothing"),
            anomaly_score=setting("anomaly_score"),
            causal=fitted.get("causal_", False),
            error_mean=fitted.get("error_mean_"),
            error_precision=fitted.get("error_precision_"),
            flatlines=(
                (fitted["flatline_reference_"], fitted["flatline_weight_"])
                if "flatline_reference_" in fitted
                else None
            ),
        )

    def scale(self, X):
        """Return ``X`` (n_timesteps, n_features) in the network's units."""
        return apply_scaling(X, *self.scaling)

    def _unscale(self, scaled):
        mean, scale = self.scaling
        return scaled * scale + mean

    def _scaled_sequences(self, sequences):
        if len({len(s) for s in sequences}) == 1:  # one array: no padding
            stacked = np.stack(sequences)
            flat = self.scale(stacked.reshape(-1, stacked.shape[2]))
            return flat.reshape(stacked.shape)
        return [self.scale(s) for s in sequences]

    def series_feature_errors(self, X, *, mean_features=False, n_context=0):
        """Return each step's squared errors per feature, ``(n_timesteps,
        n_features)``, or their mean over features in one column.

        With causal scores the first ``n_context`` steps of ``X`` are context
        only and get no row (offline scores take no context).
        """
        args = (self.module, self.scale(X), self.window_size)
        options = {"smoothing": self.smoothing, "mean_features": mean_features}
        if self.causal:
            return _net.causal_series_errors(*args, n_context=n_context, **options)
        return _net.series_errors(*args, self.score_stride, **options)

    def sequence_feature_errors(self, sequences):
        """Return the per-position, per-feature squared errors of each sequence:
        one array ``(n_sequences, seq_len, n_features)`` when all are as long,
        else a list."""
        return _net.sequence_errors(self.module, self._scaled_sequences(sequences))

    def step_feature_errors(self, data, *, n_context=0):
        """Per-step, per-feature squared errors of a series or of all sequences."""
        if isinstance(data, list):
            return np.concatenate(self.sequence_feature_errors(data))
        return self.series_feature_errors(data, n_context=n_context)

    def contributions(self, data, *, n_context=0):
        """Return each feature's term of the score of each step (series) or
        sequence (list), ``(n_rows, n_features)``; rows sum to the scores."""

        def terms(errors):
            return feature_contributions(errors, self.anomaly_score, **self.gaussian)

        if not isinstance(data, list):
            rows = terms(self.series_feature_errors(data, n_context=n_context))
            if self.flatlines is not None:
                # a flatline's excess over the error goes to its stillest feature
                still = self.flatline_terms(data, n_context=n_context)
                excess = still.max(axis=1) - rows.sum(axis=1)
                steps = np.flatnonzero(excess > 0)
                rows[steps, still[steps].argmax(axis=1)] += excess[steps]
            return rows
        errors = self.sequence_feature_errors(data)
        if isinstance(errors, np.ndarray):  # equal lengths: one array
            flat = terms(errors.reshape(-1, errors.shape[2]))
            return flat.reshape(errors.shape).mean(axis=1)
        return np.array([terms(e).mean(axis=0) for e in errors])

    def errors(self, data, *, n_context=0):
        """Return the anomaly score of each step (series) or sequence (list)."""
        if self.anomaly_score != "squared_error":
            return self.contributions(data, n_context=n_context).sum(axis=1)
        if isinstance(data, list):
            scaled = self._scaled_sequences(data)
            if isinstance(scaled, np.ndarray):  # equal lengths: means per batch
                return _net.equal_length_errors(self.module, scaled, mean=True)
            return self.contributions(data).sum(axis=1)
        # the mean over features, taken per batch: no per-feature sums
        errors = self.series_feature_errors(
            data, mean_features=True, n_context=n_context
        )[:, 0]
        if self.flatlines is None:
            return errors
        still = self.flatline_terms(data, n_context=n_context).max(axis=1)
        return np.maximum(errors, still)

    def flatline_terms(self, X, *, n_context=0):
        """Return ``weight * stillness`` of each step and feature of a series,
        ``(n_timesteps - n_context, n_features)`` (:mod:`skae._flatlines`)."""
        reference, weight = self.flatlines
        length = flatline_length(self.window_size)
        still = step_stillness(self.scale(X), length, reference, causal=self.causal)
        return weight * still[n_context:]

    def codes(self, data, stride):
        """Return the code of each window of a series (the grid ``0, stride,
        ...`` and the tail window) or of each sequence of a list."""
        if isinstance(data, list):
            scaled = [self.scale(s) for s in data]
            return _net.sequence_codes(self.module, scaled)
        return _net.window_codes(
            self.module, self.scale(data), self.window_size, stride
        )

    def step_codes(self, X):
        """Return one code per step of a series: that of the window ending there."""
        return _net.step_codes(self.module, self.scale(X), self.window_size)

    def reconstruct(self, data):
        """Return the reconstruction of a series (the mean over all windows
        covering each step) or of each sequence of a list, in the data's units."""
        if isinstance(data, list):
            scaled = [self.scale(s) for s in data]
            recon = _net.sequence_reconstructions(self.module, scaled)
            return [self._unscale(r) for r in recon]
        recon = _net.series_reconstruction(
            self.module, self.scale(data), self.window_size
        )
        return self._unscale(recon)
